import { describe, expect, it } from 'vitest';
import { pointsAt, reduceIndices } from '../../src/charts/reduce.js';

describe('reduceIndices (per-bucket min/max)', () => {
  it('keeps everything when the series is short enough', () => {
    expect([...reduceIndices([Float64Array.of(1, 2, 3)], 3, 10)]).toEqual([0, 1, 2]);
  });

  it('keeps every bucket extreme of every series, so spikes survive', () => {
    const n = 50_000;
    const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 500));
    const b = Float64Array.from({ length: n }, () => 0);
    a[12_345] = 99; // a spike
    a[33_333] = -99; // a crash
    b[40_000] = 7; // an extreme in the second series only
    const idx = reduceIndices([a, b], n, 1000);
    expect(idx.length).toBeLessThanOrEqual(4 * 1000 * 2);
    expect(idx.length).toBeGreaterThan(1000);
    const kept = new Set(idx);
    for (const i of [0, n - 1, 12_345, 33_333, 40_000]) expect(kept.has(i)).toBe(true);
    // Sorted and unique.
    for (let k = 1; k < idx.length; k++) expect(idx[k]!).toBeGreaterThan(idx[k - 1]!);
    // The drawn series has the same maximum and minimum as the full one.
    const drawn = [...idx].map((i) => a[i]!);
    expect(Math.max(...drawn)).toBe(99);
    expect(Math.min(...drawn)).toBe(-99);
  });

  it('turns NaN warm-up values into gaps', () => {
    expect(pointsAt([10, 20], [Number.NaN, 5], [0, 1])).toEqual([
      { x: 10, y: null },
      { x: 20, y: 5 },
    ]);
  });
});
