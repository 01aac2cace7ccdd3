import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import * as ind from '../../src/indicators/index.js';

const DAY = 86_400_000;

describe('indicators: shapes, warm-up and arguments', () => {
  it('returns arrays of the input length with NaN during warm-up', () => {
    const close = [1, 2, 3, 4, 5, 6];
    const s = ind.sma(close, 3);
    expect(s.length).toBe(6);
    expect([...s]).toEqual([Number.NaN, Number.NaN, 2, 3, 4, 5]);
    expect([...ind.ema(close, 3)]).toEqual([Number.NaN, Number.NaN, 2, 3, 4, 5]);
  });

  it('returns all NaN when the series is shorter than the warm-up', () => {
    expect([...ind.rsi([1, 2, 3], 14)].every(Number.isNaN)).toBe(true);
    expect([...ind.adx([1, 2], [0, 1], [1, 2], 14)].every(Number.isNaN)).toBe(true);
    expect(ind.macd([1, 2, 3], 12, 26, 9).signal.every(Number.isNaN)).toBe(true);
  });

  it('chains: a series with leading NaNs starts after them', () => {
    const close = Array.from({ length: 60 }, (_, i) => 100 + Math.sin(i / 3) * 5);
    const r = ind.rsi(close, 14);
    const smoothed = ind.ema(r, 5);
    expect(ind.firstValid(smoothed)).toBe(14 + 4);
    // Seeded with the mean of the first five RSI values.
    expect(smoothed[18]).toBeCloseTo((r[14]! + r[15]! + r[16]! + r[17]! + r[18]!) / 5, 12);
  });

  it('computes EMA by hand: seed SMA then k = 2 / (n + 1)', () => {
    const e = ind.ema([2, 4, 6, 8], 3);
    expect(e[2]).toBe(4);
    expect(e[3]).toBe(4 + (8 - 4) * 0.5);
  });

  it('VWAP weights the typical price by volume and restarts each UTC day', () => {
    const high = [11, 12, 20];
    const low = [9, 10, 18];
    const close = [10, 11, 19];
    const volume = [1, 3, 2];
    const time = [0, 3_600_000, DAY];
    const v = ind.vwap(high, low, close, volume, time);
    expect(v[0]).toBe(10);
    expect(v[1]).toBeCloseTo((10 * 1 + 11 * 3) / 4, 12);
    expect(v[2]).toBe(19); // a new day starts over
    expect(ind.vwap(high, low, close, volume)[2]).toBeCloseTo((10 + 33 + 38) / 6, 12);
  });

  it('OBV adds volume on up closes and subtracts it on down closes', () => {
    expect([...ind.obv([10, 11, 11, 9], [5, 2, 7, 3])]).toEqual([5, 7, 7, 4]);
  });

  it('detects crossings', () => {
    const a = [1, 2, 3, 1.5];
    const b = [2, 2, 2, 2];
    // Touching (2 vs 2) is not crossing; 2 -> 3 over 2 is.
    expect([1, 2, 3].map((i) => ind.crossedAbove(a, b, i))).toEqual([false, true, false]);
    expect(ind.crossedBelow(a, b, 3)).toBe(true);
  });

  it('refuses bad periods with one line', () => {
    expect(() => ind.sma([1, 2], 0)).toThrow('sma: period is 0; allowed: a whole number from 1 to 100000');
    expect(() => ind.rsi([1, 2], 2.5)).toThrow(AppError);
    expect(() => ind.bbands([1, 2], 20, -1)).toThrow(
      'bbands: stdDev is -1; allowed: a number above 0 and up to 10',
    );
  });
});
