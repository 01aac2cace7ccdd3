/**
 * The momentum strategy: each scoring rule on hand-made indicator values, the score on hand-made
 * candles, and the spec's risk defaults (2 % stop, take-profits 30 % at +1.5 %, 40 % at +3 %, 30 % at
 * +5 %, a 1 % trail from +2 %, 5 % of equity, 5 positions) worked through the backtester by hand.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runBacktest } from '../../src/backtest/run.js';
import { evaluate, parseRiskSettings, withStrategyRisk } from '../../src/engine/risk.js';
import { candlesFrom } from '../../src/market/types.js';
import { defineStrategy, emptySignals } from '../../src/strategy/define.js';
import {
  MOMENTUM_DEFAULTS,
  MOMENTUM_RULES,
  type MomentumSeries,
  momentumReasons,
  momentumSeries,
  momentumVotes,
  scoreOf,
} from '../../src/strategy/momentum.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { bars, flat, HOUR, T0 } from '../helpers/candles.js';

const momentum = await loadStrategy('momentum');

/** Two bars of neutral indicator values (no rule votes); `set` changes bar 1. */
function handMade(set: Partial<Record<keyof MomentumSeries, number>> = {}, volume = 100) {
  const two = (v: number, prev = v) => Float64Array.of(prev, v);
  const s: MomentumSeries = {
    score: two(Number.NaN),
    rsi: two(50),
    macd: two(0),
    macdSignal: two(0),
    macdHistogram: two(0),
    roc1: two(0),
    roc5: two(0),
    roc15: two(0),
    adx: two(10),
    obv: two(1000),
    volumeSma: two(100),
    volumeRoc: two(0),
    vwap: two(100),
    bbUpper: two(110),
    bbMiddle: two(100),
    bbLower: two(90),
    atrPct: two(0.01),
    trend: Int8Array.of(0, 0),
  };
  for (const [k, v] of Object.entries(set)) (s[k as keyof MomentumSeries] as Float64Array)[1] = v;
  const c = candlesFrom(
    [0, 1].map((i) => ({ time: T0 + i * HOUR, open: 100, high: 100, low: 100, close: 100, volume })),
  );
  return { s, c };
}

const params = { ...MOMENTUM_DEFAULTS, obvBars: 1 };
const votes = (set: Parameters<typeof handMade>[0], volume?: number, close?: number) => {
  const { s, c } = handMade(set, volume);
  if (close !== undefined) (c.close as Float64Array)[1] = close;
  return momentumVotes(s, c, 1, params)!;
};
const only = (v: ReturnType<typeof votes>) =>
  Object.fromEntries(MOMENTUM_RULES.filter((r) => v[r] !== 0).map((r) => [r, v[r]]));

describe('momentum rules, one at a time', () => {
  it('neutral values vote nothing', () => {
    expect(only(votes({}))).toEqual({});
  });

  it('RSI votes between 50 and 70 / 30 and 50, and not when stretched', () => {
    expect(only(votes({ rsi: 62 }))).toEqual({ rsi: 1 });
    expect(only(votes({ rsi: 41 }))).toEqual({ rsi: -1 });
    expect(only(votes({ rsi: 70 }))).toEqual({});
    expect(only(votes({ rsi: 25 }))).toEqual({});
  });

  it('MACD votes with a histogram on its side and growing', () => {
    // Bar 0's histogram is 0: 0.5 is positive and rising, -0.5 negative and falling.
    expect(only(votes({ macdHistogram: 0.5 }))).toEqual({ macd: 1 });
    expect(only(votes({ macdHistogram: -0.5 }))).toEqual({ macd: -1 });
  });

  it('ROC votes past 0.5 % (1 bar), 1.0 % (5 bars) and 1.5 % (15 bars)', () => {
    expect(only(votes({ roc1: 0.6, roc5: 1.0, roc15: 1.4 }))).toEqual({ roc1: 1 });
    expect(only(votes({ roc1: 0.5, roc5: 1.1, roc15: -1.6 }))).toEqual({ roc5: 1, roc15: -1 });
  });

  it('OBV, VWAP and the Bollinger bands vote by side', () => {
    expect(only(votes({ obv: 1200 }))).toEqual({ obv: 1 });
    expect(only(votes({ vwap: 99 }))).toEqual({ vwap: 1 });
    // Close 100 above an upper band at 99.5 is a breakout (the VWAP, also 100, does not vote).
    expect(only(votes({ bbUpper: 99.5 }))).toEqual({ bands: 1 });
    expect(only(votes({ bbLower: 100.5 }))).toEqual({ bands: -1 });
  });

  it('ADX and volume confirm the side the votes lean to, and nothing alone', () => {
    expect(only(votes({ adx: 30 }))).toEqual({});
    expect(only(votes({ adx: 30, rsi: 60 }))).toEqual({ rsi: 1, adx: 1 });
    expect(only(votes({ adx: 30, rsi: 40, vwap: 101 }))).toEqual({ rsi: -1, vwap: -1, adx: -1 });
    // Volume 151 > 1.5 x 100; or volume ROC 60 % > 50 %.
    expect(only(votes({ rsi: 60 }, 151))).toEqual({ rsi: 1, volume: 1 });
    expect(only(votes({ rsi: 60 }, 150))).toEqual({ rsi: 1 });
    expect(only(votes({ rsi: 60, volumeRoc: 60 }))).toEqual({ rsi: 1, volume: 1 });
  });

  it('the score is the sum of the votes, and the reasons name each one', () => {
    const { s, c } = handMade({ rsi: 62, macdHistogram: 0.5, roc1: 0.7, obv: 1100, vwap: 95, adx: 31 }, 200);
    const v = momentumVotes(s, c, 1, params)!;
    expect(scoreOf(v)).toBe(7); // 5 directional + ADX + volume
    expect(momentumReasons(s, c, 1, params)).toEqual([
      'RSI 62',
      'MACD rising',
      'ROC1 +0.7%',
      'OBV up',
      'above VWAP',
      'ADX 31',
      'volume 2.0x avg',
    ]);
  });
});

describe('momentum on candles', () => {
  it('scores a steady climb on rising volume high and a steady fall low', () => {
    // 60 bars: 30 flat at 100, then 30 rising 0.6 % a bar on growing volume (and the mirror image).
    const make = (dir: 1 | -1) =>
      candlesFrom(
        Array.from({ length: 60 }, (_, i) => {
          const p = i < 30 ? 100 : 100 * (1 + dir * 0.006) ** (i - 29);
          return {
            time: T0 + i * HOUR,
            open: p,
            high: p * 1.001,
            low: p * 0.999,
            close: p,
            volume: i < 30 ? 100 : 100 + 20 * (i - 29),
          };
        }),
      );
    const up = momentumSeries(make(1));
    const down = momentumSeries(make(-1));
    // Bar 59: ROC1 0.6 % > 0.5, ROC5 3 % > 1, ROC15 9 % > 1.5, MACD rising, OBV up, above VWAP; RSI 100 is stretched.
    expect(up.score[59]).toBeGreaterThanOrEqual(6);
    expect(down.score[59]).toBeLessThanOrEqual(-6);
    expect(up.rsi[59]).toBeGreaterThan(70);
    // Flat warm-up: no score until the 15-bar ROC and MACD exist.
    expect(Number.isNaN(up.score[10]!)).toBe(true);
  });

  it('enters only when the score reaches minScore with RSI below 70, and says why', () => {
    const rows: Array<[number, number, number, number]> = [];
    let p = 100;
    for (let i = 0; i < 200; i++) {
      p *= 1 + 0.004 * Math.sin(i / 6) + (i % 3 === 0 ? -0.002 : 0.002);
      rows.push([p, p * 1.003, p * 0.997, p]);
    }
    const c = bars(rows);
    const s = momentum.signals(
      c,
      { minScore: 5, exitScore: -2, adxMin: 25, maxAtr: 0.05, trend: false },
      { timeframeMs: HOUR, informative: {} },
    );
    const m = momentumSeries(c);
    let entries = 0;
    for (let t = 0; t < c.length; t++) {
      if (s.enterLong[t]) {
        entries++;
        expect(m.score[t]).toBeGreaterThanOrEqual(5);
        expect(m.rsi[t]).toBeLessThan(70);
        expect(s.notes![t]).toMatch(new RegExp(`^score \\+${m.score[t]}/10: `));
      }
      if (s.exitLong[t]) expect(m.score[t]).toBeLessThanOrEqual(-2);
    }
    expect(entries).toBeGreaterThan(0);
  });
});

describe('momentum risk defaults, worked by hand', () => {
  // A strategy that buys at bar 0 and keeps momentum's exits and limits: fills at bar 1's open, 100.
  const buyAtOnce = defineStrategy({
    name: 'buy-once',
    description: 'momentum exits on a forced entry',
    params: z.object({}).strict(),
    timeframes: { main: '1h' },
    warmup: () => 0,
    ...(momentum.risk ? { risk: momentum.risk } : {}),
    exits: momentum.exits!,
    signals(c) {
      const s = emptySignals(c.length);
      s.enterLong[0] = 1;
      return s;
    },
  });
  const run = (rows: Array<[number, number, number, number]>) =>
    runBacktest(buyAtOnce, {}, bars(rows), { fee: 0, timeframeMs: HOUR }).simulation.trades[0]!;

  it('takes 30 % at +1.5 %, 40 % at +3 % and 30 % at +5 %', () => {
    // 5 % of 10,000 at 100 is 5 units: 1.5, then 2, then 1.5.
    const t = run([
      flat(100),
      [100, 100.5, 99.8, 100.4],
      [100.4, 101.6, 100.3, 101.5],
      [101.5, 103.1, 101.4, 103],
      [103, 105.2, 102.5, 105],
      flat(105),
    ]);
    expect(t.quantity).toBeCloseTo(5, 10);
    expect(t.exits.map((f) => [f.reason, +f.price.toFixed(6), +f.quantity.toFixed(6)])).toEqual([
      ['take-profit', 101.5, 1.5],
      ['take-profit', 103, 2],
      ['take-profit', 105, 1.5],
    ]);
    // 1.5 x 1.5 + 2 x 3 + 1.5 x 5 = 15.75
    expect(t.pnl).toBeCloseTo(15.75, 8);
  });

  it('trails 1 % under the best price once +2 % is reached, from the next bar', () => {
    // Bar 3 reaches 103.1 (past 102): the trail is 103.1 x 0.99 = 102.069 from bar 4, which falls through it.
    const t = run([
      flat(100),
      [100, 100.5, 99.8, 100.4],
      [100.4, 101.6, 100.3, 101.5],
      [101.5, 103.1, 101.4, 103],
      [103, 103, 101.5, 101.8],
      flat(101.8),
    ]);
    expect(t.exits.map((f) => f.reason)).toEqual(['take-profit', 'take-profit', 'trailing-stop']);
    expect(t.exits[2]!.price).toBeCloseTo(102.069, 9);
    expect(t.exits[2]!.quantity).toBeCloseTo(1.5, 10);
    // 1.5 x 1.5 + 2 x 3 + 1.5 x 2.069 = 11.3535
    expect(t.pnl).toBeCloseTo(11.3535, 8);
  });

  it('stops the whole position out 2 % below the entry', () => {
    const t = run([flat(100), [100, 100.2, 99, 99.5], [99.5, 99.6, 97.9, 98.5], flat(98.5)]);
    expect(t.exits.map((f) => [f.reason, +f.price.toFixed(6), +f.quantity.toFixed(6)])).toEqual([
      ['stop', 98, 5],
    ]);
    expect(t.pnl).toBeCloseTo(-10, 8);
  });

  it('the engine caps a position at 5 % of equity and allows 5 open at most', () => {
    const risk = withStrategyRisk(parseRiskSettings({}), momentum.risk);
    const account = {
      cash: 10_000,
      equity: 10_000,
      dayStartEquity: 10_000,
      openPositions: 0,
      symbolNotional: 0,
      closedPnls: [],
    };
    const proposal = { side: 1 as const, price: 100, stop: 98, target: Number.NaN, fee: 0, now: 0 };
    // 1 % risk over a 2 % stop would be 50 units (half the account); the cap is 500 / 100 = 5.
    const ok = evaluate(risk, account, proposal);
    expect(ok.ok && ok.quantity).toBeCloseTo(5, 10);
    expect(evaluate(risk, { ...account, openPositions: 5 }, proposal)).toEqual({
      ok: false,
      reason: 'max open positions: 5 open, the limit is 5',
    });
    // The account's own stricter limits win.
    expect(
      withStrategyRisk(parseRiskSettings({ maxOpenPositions: 3, maxPositionSize: 0.02 }), momentum.risk),
    ).toMatchObject({ maxOpenPositions: 3, maxPositionSize: 0.02 });
  });
});
