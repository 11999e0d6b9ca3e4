import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HeapAfterFullGc, memoryTrend, type Sample } from "../../drill/memory-trend";

describe("the soak's memory trend", () => {
  it("reads a warm-up followed by swings around a level as no growth", () => {
    // RSS of the short soak that failed CI: a climb in the first seconds, then the collector's swings.
    const warmup: Sample[] = [130, 150, 173, 193, 215].map((mb, i) => [i, mb]);
    const swings: Sample[] = Array.from({ length: 295 }, (_, i) => [i + 5, 170 + 20 * Math.sin(i / 3)]);
    const { growth, minutes } = memoryTrend([...warmup, ...swings]);
    assert.ok(Math.abs(growth) < 0.03, `growth ${growth}`);
    assert.ok(minutes > 3.9 && minutes < 4.1, `minutes ${minutes}`);
  });

  it("reads a steady leak as growth, whatever the swings (the probe finds what it looks for)", () => {
    const leaking: Sample[] = Array.from({ length: 300 }, (_, i) => [i, 200 + i * 0.2 + 15 * Math.sin(i / 3)]);
    const { growth } = memoryTrend(leaking);
    assert.ok(growth > 0.15 && growth < 0.25, `growth ${growth}`);
  });

  it("judges nothing within the first minute", () => {
    assert.deepEqual(memoryTrend(Array.from({ length: 20 }, (_, i) => [i, 100 + 10 * i] as Sample)), { growth: 0, minutes: 0 });
  });
});

describe("the heap after full collections", () => {
  it("is read from --trace-gc lines, however the output is cut into chunks", () => {
    const heap = new HeapAfterFullGc();
    const output = [
      "[10800:0x8631c60]      264 ms: Mark-Compact 18.9 (29.8) -> 12.7 (31.5) MB, 3.56 / 0.00 ms  (+ 1.0 ms in 10 steps) finalize incremental marking\n",
      "[10800:0x8631c60]      300 ms: Scavenge 20.1 (31.5) -> 19.0 (32.0) MB, 0.5 / 0.0 ms\n",
      '{"level":40,"msg":"a log line"}\n',
      "[10800:0x8631c60]     9839 ms: Mark-Compact (reduce) 134.5 (166.6) -> 34.9 (129.1) MB, 9.51 / 0.02 ms\n",
    ].join("");
    for (let i = 0; i < output.length; i += 17) heap.write(output.slice(i, i + 17));
    assert.deepEqual(heap.samples, [
      [0.264, 12.7],
      [9.839, 34.9],
    ]);
  });
});
