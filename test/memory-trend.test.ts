import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryTrend } from "../drill/memory-trend";

const MB = 1024 * 1024;

describe("the soak's memory trend", () => {
  it("reads a warm-up followed by swings around a level as no growth", () => {
    // The short soak that failed CI: a climb in the first seconds, then the collector's swings.
    const warmup = [130, 150, 173, 193, 215].map((m) => m * MB);
    const swings = Array.from({ length: 295 }, (_, i) => (170 + 20 * Math.sin(i / 3)) * MB);
    const { growth, minutes } = memoryTrend([...warmup, ...swings], 1);
    assert.ok(Math.abs(growth) < 0.03, `growth ${growth}`);
    assert.ok(minutes > 3.9 && minutes < 4.1, `minutes ${minutes}`);
  });

  it("reads a steady leak as growth, whatever the swings (the probe finds what it looks for)", () => {
    const leaking = Array.from({ length: 300 }, (_, i) => (200 + i * 0.2 + 15 * Math.sin(i / 3)) * MB);
    const { growth } = memoryTrend(leaking, 1);
    assert.ok(growth > 0.15 && growth < 0.25, `growth ${growth}`);
  });

  it("has nothing to judge in too few samples", () => {
    assert.deepEqual(memoryTrend([1, 2], 1), { growth: 0, minutes: 0 });
  });
});
