import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { describeGaps, findGaps } from '../../src/market/gaps.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { alignClosed, bucketStart, resample } from '../../src/market/resample.js';
import { inferTimeframeMs, parseDate, timeframeMs, timeframeName } from '../../src/market/timeframe.js';
import { candlesFrom } from '../../src/market/types.js';
import { SAMPLES } from '../helpers/fixtures.js';

const M = 60_000;
const H = 60 * M;
const D = 24 * H;

describe('timeframes', () => {
  it('parses standard and non-standard timeframes', () => {
    expect(timeframeMs('1m')).toBe(M);
    expect(timeframeMs('37m')).toBe(37 * M);
    expect(timeframeMs('148m')).toBe(148 * M);
    expect(timeframeMs('4h')).toBe(4 * H);
    expect(timeframeMs('1w')).toBe(7 * D);
    expect(timeframeName(148 * M)).toBe('148m');
    expect(timeframeName(4 * H)).toBe('4h');
    expect(() => timeframeMs('1x')).toThrow(
      'timeframe "1x" is not valid; allowed: a number and a unit m, h, d or w (e.g. 15m, 37m, 4h, 1d)',
    );
    expect(() => timeframeMs('0m')).toThrow(AppError);
  });

  it('parses dates and infers the bar spacing', () => {
    expect(parseDate('2024-01-31')).toBe(Date.UTC(2024, 0, 31));
    expect(parseDate('2024-01-31T12:30')).toBe(Date.UTC(2024, 0, 31, 12, 30));
    expect(parseDate('1704067200000')).toBe(1704067200000);
    expect(() => parseDate('31/01/2024', '--from')).toThrow(
      '--from "31/01/2024" is not valid; allowed: YYYY-MM-DD, an ISO time, or epoch milliseconds',
    );
    expect(inferTimeframeMs([0, H, 2 * H, 5 * H, 6 * H])).toBe(H);
  });
});

describe('resample', () => {
  // 1m candles over 80 minutes from an epoch-aligned 37m boundary: open = minute index + 100.
  const start = 37 * M * 1_000_000;
  const minutes = candlesFrom(
    Array.from({ length: 80 }, (_, i) => ({
      time: start + i * M,
      open: 100 + i,
      high: 100.5 + i + (i === 50 ? 30 : 0),
      low: 99.5 + i,
      close: 100.2 + i,
      volume: 1,
    })),
  );

  it('builds 37m candles: first open, highest high, lowest low, last close, summed volume', () => {
    const r = resample(minutes, M, '37m');
    expect(r.length).toBe(3);
    expect([...r.time]).toEqual([start, start + 37 * M, start + 74 * M]);
    // Second candle: minutes 37..73.
    expect(r.open[1]).toBe(137);
    expect(r.high[1]).toBe(150.5 + 30); // minute 50's spike beats minute 73's 173.5
    expect(r.low[1]).toBe(136.5);
    expect(r.close[1]).toBe(173.2);
    expect(r.volume[1]).toBe(37);
    expect([...r.bars]).toEqual([37, 37, 6]);
    expect(r.lastIsPartial).toBe(true);
  });

  it('aligns buckets to the epoch whatever the first bar (148m), and weeks to Monday', () => {
    const r = resample(minutes, M, '148m');
    expect(r.time[0]! % (148 * M)).toBe(0);
    expect(bucketStart(Date.UTC(2024, 0, 10, 15), 7 * D)).toBe(Date.UTC(2024, 0, 8)); // a Wednesday -> Monday the 8th
  });

  it('refuses a timeframe the data cannot serve', () => {
    const hourly = candlesFrom([{ time: 0, open: 1, high: 1, low: 1, close: 1, volume: 1 }]);
    expect(() => resample(hourly, 2 * H, '37m')).toThrow(
      'cannot make 37m candles from 2h data; allowed: a whole multiple of 2h',
    );
    expect(() => resample(hourly, 2 * H, '3h')).toThrow(AppError);
  });

  it('2h Binance candles resampled to 1d equal Binance 1d candles on every complete day', () => {
    const twoHour = loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`);
    const daily = loadCandlesFile(`${SAMPLES}binance_BTC-USDT_1d.csv`);
    const r = resample(twoHour, 2 * H, '1d');
    const byTime = new Map<number, number>();
    r.time.forEach((t, i) => byTime.set(t, i));
    let compared = 0;
    for (let k = 0; k < daily.length; k++) {
      const i = byTime.get(daily.time[k]!);
      if (i === undefined || r.bars[i] !== 12) continue;
      expect([r.open[i], r.high[i], r.low[i], r.close[i]]).toEqual([
        daily.open[k],
        daily.high[k],
        daily.low[k],
        daily.close[k],
      ]);
      expect(r.volume[i]! / daily.volume[k]!).toBeCloseTo(1, 6);
      compared++;
    }
    expect(compared).toBeGreaterThan(2800);
  });
});

describe('alignClosed', () => {
  it('gives each base bar only higher-timeframe candles that had closed by its close', () => {
    const base = Array.from({ length: 9 }, (_, i) => i * H); // 1h bars 0..8
    const fourHour = [0, 4 * H, 8 * H];
    // The 0h-4h candle closes at 4h: known from the close of the 3h bar (index 3) on.
    expect([...alignClosed(base, H, fourHour, 4 * H)]).toEqual([-1, -1, -1, 0, 0, 0, 0, 1, 1]);
  });
});

describe('gaps', () => {
  it('finds and describes the holes in real data', () => {
    const c = loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`);
    const gaps = findGaps(c.time, 2 * H);
    expect(gaps).toHaveLength(18);
    expect(gaps.every((g) => g.missing >= 1 && g.before - g.after === (g.missing + 1) * 2 * H)).toBe(true);
    expect(describeGaps(gaps, 2 * H)).toMatch(
      /^18 gaps \(\d+ missing 2h bars\); largest: \d+ bars after \d{4}-/,
    );
    expect(describeGaps([], H)).toBe('no gaps');
  });
});
