/**
 * ma-accumulation on 1m data resampled to 37m, 148m and 1d, against a hand check: 1m candles built
 * from chosen 37m closes (every minute of a 37m candle at its close), rising 0.01 a candle, with two
 * dips of two candles each 1.0 below the line. MA44 on a line rising d per candle lags it by
 * d x 21.5, so a dip of 1.0 goes below MA44 and the next candle, back on the line, closes above it.
 */
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { candlesFrom } from '../../src/market/types.js';
import { parseParams } from '../../src/strategy/params.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { informativeSeries } from '../../src/backtest/run.js';

const strategy = await loadStrategy('ma-accumulation');
const MIN = 60_000;
const C37 = 37 * MIN;
// A start on a 148m and 37m boundary (from the epoch), at midnight too: 148m x 1440 days later.
const START = 148 * MIN * 1440 * 100;
const CANDLES = 5200;
const DIPS = [3000, 5000];
const line = (k: number) => 100 + 0.01 * k;
const close37 = (k: number) => (DIPS.some((d) => k === d || k === d + 1) ? line(k) - 1 : line(k));

function minutes() {
  const rows = [];
  for (let k = 0; k < CANDLES; k++) {
    const p = close37(k);
    for (let m = 0; m < 37; m++)
      rows.push({ time: START + k * C37 + m * MIN, open: p, high: p, low: p, close: p, volume: 1 });
  }
  return candlesFrom(rows);
}

const c = minutes();
const signalsFor = (preset: string) => {
  const p = parseParams(strategy, { preset });
  return strategy.signals(c, p, { timeframeMs: MIN, informative: informativeSeries(strategy, c, MIN) });
};
const ones = (a: Uint8Array) => [...a.entries()].filter(([, v]) => v).map(([i]) => i);
// The 37m candle k + 2 (back on the line after the dip) is closed at the close of its last minute.
const entryBar = (dip: number) => (dip + 3) * 37 - 1;

describe('ma-accumulation, hand check', () => {
  it('buys each dip back above the 37m MA44 once the 148m trend and the 1d regime are formed', () => {
    // 148m MA125 needs 125 x 4 = 500 37m candles; 1d MA125 needs 125 days = 4,865 37m candles (by 180,000 minutes).
    expect(ones(signalsFor('aggressive').enterLong)).toEqual(DIPS.map(entryBar));
    // Dip 1 (minute 111,073) comes before the 1d MA125 exists; default and conservative skip it.
    expect(ones(signalsFor('default').enterLong)).toEqual([entryBar(5000)]);
    expect(ones(signalsFor('conservative').enterLong)).toEqual([entryBar(5000)]);
  });

  it('stores the MA values each decision was made on, equal to the hand-computed means', () => {
    const s = signalsFor('default');
    const t = entryBar(5000);
    const mean = (from: number, count: number, f: (k: number) => number) => {
      let sum = 0;
      for (let k = from; k < from + count; k++) sum += f(k);
      return sum / count;
    };
    // The last closed 37m candle at t is 5002: MA44 over 4959..5002.
    expect(s.indicators.close37m![t]).toBeCloseTo(line(5002), 9);
    expect(s.indicators.ma44_37m![t]).toBeCloseTo(mean(4959, 44, close37), 9);
    expect(s.indicators.ma125_37m![t]).toBeCloseTo(mean(4878, 125, close37), 9);
    // 148m candles are 4 37m candles; the last closed at t is 1250 (37m 5000..5003 is not closed yet).
    const close148 = (j: number) => close37(4 * j + 3);
    expect(s.indicators.close148m![t]).toBeCloseTo(close148(1249), 9);
    expect(s.indicators.ma44_148m![t]).toBeCloseTo(mean(1249 - 43, 44, close148), 9);
    // The day's last minute: the last closed day before t.
    const day = Math.floor((START + (t + 1) * MIN) / 86_400_000) - 1 - START / 86_400_000;
    const dayClose = (d: number) => close37(Math.floor(((d + 1) * 86_400_000 - 1) / C37));
    expect(s.indicators.close1d![t]).toBeCloseTo(dayClose(day), 9);
    expect(s.indicators.ma125_1d![t]).toBeCloseTo(mean(day - 124, 125, dayClose), 9);
    expect(s.notes![t]).toMatch(/^37m close 150\.02 back above MA44 149\.\d\d; 148m close .*; 1d close /);
  });

  it('leaves when a 148m close falls below its MA125, at that close only, and backtests to the cent', () => {
    // After the second dip the line turns down 0.05 a candle until the 148m close crosses its MA125.
    const rows = [];
    for (let k = 0; k < CANDLES + 400; k++) {
      const p = k < CANDLES ? close37(k) : line(CANDLES) - 0.05 * (k - CANDLES);
      for (let m = 0; m < 37; m++)
        rows.push({ time: START + k * C37 + m * MIN, open: p, high: p, low: p, close: p, volume: 1 });
    }
    const d = candlesFrom(rows);
    const p = parseParams(strategy, { preset: 'default', stop: 0 });
    const s = strategy.signals(d, p, { timeframeMs: MIN, informative: informativeSeries(strategy, d, MIN) });
    const exits = ones(s.exitLong);
    expect(exits.length).toBeGreaterThan(0);
    for (const t of exits) {
      expect((t + 1) % (4 * 37)).toBe(0); // the last minute of a 148m candle
      expect(s.indicators.close148m![t]!).toBeLessThan(s.indicators.ma125_148m![t]!);
    }
    const a = runBacktest(strategy, { stop: 0 }, d, { timeframeMs: MIN });
    const b = runBacktest(strategy, { stop: 0 }, d, { timeframeMs: MIN });
    expect(a.simulation.trades).toHaveLength(1);
    expect(a.simulation.trades[0]!.exitReason).toBe('signal');
    expect(a.simulation.trades[0]!.exitTime).toBe(d.time[exits[0]! + 1]);
    expect(a.metrics).toEqual(b.metrics);
  });

  it('needs 1m data (37 is prime) and says so in one line', () => {
    const five = candlesFrom(
      Array.from({ length: 300_000 }, (_, i) => ({
        time: START + i * 5 * MIN,
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
      })),
    );
    expect(() => runBacktest(strategy, {}, five, { timeframeMs: 5 * MIN })).toThrow(
      'ma-accumulation needs 37m candles (trigger), which 5m data cannot serve; use data whose timeframe divides 37m',
    );
  });
});
