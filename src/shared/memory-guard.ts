import { getHeapStatistics } from "node:v8";

/** What a request may start at: memory in use, against the limit the guard keeps under. */
export interface MemoryReading {
  /** JavaScript heap in use plus memory outside it (buffers), in bytes. */
  usedBytes: number;
}

/** The default limit: three quarters of the largest heap this process may grow (node's --max-old-space-size). */
export function defaultMemoryLimitBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * 0.75);
}

/**
 * V8's own counters: process.memoryUsage() also reads the resident set from /proc, a system call
 * on every request (2% of the dashboard's server CPU) for a figure the guard does not use.
 */
export function currentMemory(): MemoryReading {
  const { used_heap_size, external_memory } = getHeapStatistics();
  return { usedBytes: used_heap_size + external_memory };
}

/**
 * True when new work must be refused: the process is past its limit, and taking on a request
 * (each bounded by the cost limit, but many at once) risks running out of memory. Requests in
 * flight finish; new ones are told to retry (503). Six requests of 166 MB each once took the
 * process to 1.7 GB.
 */
export function memoryExhausted(reading: MemoryReading, limitBytes: number): boolean {
  return reading.usedBytes >= limitBytes;
}
