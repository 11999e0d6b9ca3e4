/** A measurement at a time: seconds since the start, and a size in bytes or MB. */
export type Sample = [seconds: number, size: number];

/**
 * How much a size grew after warm-up: the least-squares slope of the samples after the first
 * minute (or the first 20% of the run, whichever is longer), times the span they cover, relative
 * to their mean. A slope over minutes separates a leak from the collector's swings, which a
 * comparison of two short windows cannot.
 */
export function memoryTrend(samples: Sample[]): { growth: number; minutes: number } {
  if (samples.length === 0) return { growth: 0, minutes: 0 };
  const start = samples[0][0];
  const end = samples[samples.length - 1][0];
  const warm = start + Math.max(60, 0.2 * (end - start));
  const points = samples.filter(([t]) => t >= warm);
  if (points.length < 3) return { growth: 0, minutes: 0 };
  const meanT = points.reduce((a, [t]) => a + t, 0) / points.length;
  const meanY = points.reduce((a, [, y]) => a + y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const [t, y] of points) {
    num += (t - meanT) * (y - meanY);
    den += (t - meanT) ** 2;
  }
  const span = points[points.length - 1][0] - points[0][0];
  if (den === 0 || meanY <= 0) return { growth: 0, minutes: span / 60 };
  return { growth: ((num / den) * span) / meanY, minutes: span / 60 };
}

/**
 * The live heap after each full collection, read from V8's `--trace-gc` lines
 * ("  9839 ms: Mark-Compact 134.5 (166.6) -> 34.9 (129.1) MB, ..."): what a leak makes grow,
 * without the garbage that makes RSS swing.
 */
export class HeapAfterFullGc {
  readonly samples: Sample[] = [];
  private partial = "";

  /** Feed the process's standard output as it comes. */
  write(chunk: string): void {
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop() ?? "";
    for (const line of lines) {
      const match = /\s(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/.exec(line);
      if (match) this.samples.push([Number(match[1]) / 1000, Number(match[2])]);
    }
  }
}
