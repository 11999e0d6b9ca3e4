/**
 * The growth of RSS after warm-up (the first 20% of the samples, at least a minute's worth):
 * the least-squares slope over the rest, times its length, relative to its mean. A slope over
 * minutes separates a leak from the collector's swings, which a comparison of two short windows
 * could not.
 */
export function memoryTrend(samples: number[], secondsPerSample: number): { growth: number; minutes: number } {
  const skip = Math.min(Math.max(Math.ceil(samples.length * 0.2), Math.ceil(60 / secondsPerSample)), Math.floor(samples.length / 2));
  const ys = samples.slice(skip);
  if (ys.length < 2) return { growth: 0, minutes: 0 };
  const n = ys.length;
  const meanX = (n - 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  const slopePerSample = num / den;
  return { growth: meanY > 0 ? (slopePerSample * (n - 1)) / meanY : 0, minutes: ((n - 1) * secondsPerSample) / 60 };
}
