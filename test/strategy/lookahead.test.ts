/**
 * No strategy looks ahead: signals computed on data cut at bar t equal the first t signals computed
 * on the full data, for every strategy, at many cut points, for every output (entries, exits, stops,
 * targets, indicators).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { informativeSeries } from '../../src/backtest/run.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { timeframeMs } from '../../src/market/timeframe.js';
import { type Candles, sliceCandles } from '../../src/market/types.js';
import { defineStrategy, emptySignals, type Signals, type Strategy } from '../../src/strategy/define.js';
import { parseParams } from '../../src/strategy/params.js';
import { loadAllStrategies } from '../../src/strategy/registry.js';
import { SAMPLES } from '../helpers/fixtures.js';

const TWO_HOURS = 7_200_000;
const candles = sliceCandles(loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`), 0, 3000);
// Strategies on shorter timeframes (ict-confluence trades 15m) run on the 1m sample resampled to theirs.
const MINUTE = 60_000;
const minutes = loadCandlesFile(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`);

/** The bundled data a strategy runs on at its own main timeframe (2h, or the 1m sample resampled). */
function dataFor(strategy: Strategy): { c: Candles; tfMs: number } {
  const tfMs = timeframeMs(strategy.timeframes.main);
  if (tfMs >= TWO_HOURS) return { c: candles, tfMs: TWO_HOURS };
  return { c: closedOnly(resample(minutes, MINUTE, tfMs)), tfMs };
}

function signalsOn(strategy: Strategy, c: Candles, params: Record<string, unknown>): Signals {
  const tfMs = c.time[1]! - c.time[0]!; // the cuts keep at least two bars
  return strategy.signals(c, params, {
    timeframeMs: tfMs,
    informative: informativeSeries(strategy, c, tfMs),
  });
}

function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** The first place where signals on a cut differ from the full run's, or undefined. */
function findLookAhead(
  strategy: Strategy,
  c: Candles,
  params: Record<string, unknown>,
  cuts: number[],
): string | undefined {
  const full = signalsOn(strategy, c, params);
  for (const t of cuts) {
    const cut = signalsOn(strategy, sliceCandles(c, 0, t), params);
    const series: Array<[string, ArrayLike<number> | undefined, ArrayLike<number> | undefined]> = [
      ['enterLong', cut.enterLong, full.enterLong],
      ['exitLong', cut.exitLong, full.exitLong],
      ['enterShort', cut.enterShort, full.enterShort],
      ['exitShort', cut.exitShort, full.exitShort],
      ['stop', cut.stop, full.stop],
      ['target', cut.target, full.target],
      ...Object.keys(full.indicators).map(
        (k): [string, ArrayLike<number> | undefined, ArrayLike<number> | undefined] => [
          k,
          cut.indicators[k],
          full.indicators[k],
        ],
      ),
    ];
    const notes: Array<[string, ArrayLike<unknown> | undefined, ArrayLike<unknown> | undefined]> = [
      ['notes', cut.notes, full.notes],
    ];
    for (const [name, a, b] of notes) {
      if (a === undefined && b === undefined) continue;
      for (let i = 0; i < t; i++)
        if (a?.[i] !== b?.[i])
          return `${name}[${i}] is ${String(a?.[i])} on data cut at ${t} but ${String(b?.[i])} on the full data`;
    }
    for (const [name, a, b] of series) {
      if (a === undefined && b === undefined) continue;
      if (a === undefined || b === undefined || a.length !== t)
        return `${name} missing or of the wrong length at cut ${t}`;
      for (let i = 0; i < t; i++)
        if (!sameValue(a[i]!, b[i]!))
          return `${name}[${i}] is ${a[i]} on data cut at ${t} but ${b[i]} on the full data`;
    }
  }
  return undefined;
}

// Every bar near the end of the cut matters most; also a spread of cut points across the data.
const cuts = [2, 50, 130, 131, 400, 777, 1000, 1499, 1500, 2222, 2999];

describe('no strategy looks ahead', async () => {
  const strategies = await loadAllStrategies();

  it('there are strategies to check', () => {
    expect(strategies.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'ema-cross',
        'rsi-reversion',
        'macd-momentum',
        'bb-breakout',
        'ma-trend',
        'ict-confluence',
        'momentum',
        'ma-accumulation',
      ]),
    );
  });

  it.each(strategies.map((s) => [s.name, s] as const))('%s, default parameters', (_name, strategy) => {
    const { c } = dataFor(strategy);
    const at = cuts.filter((t) => t < c.length);
    expect(findLookAhead(strategy, c, parseParams(strategy, {}), at)).toBeUndefined();
  });

  it.each(['aggressive', 'conservative'])('ict-confluence, %s preset, shorts too', (preset) => {
    const strategy = strategies.find((s) => s.name === 'ict-confluence')!;
    const { c } = dataFor(strategy);
    const at = [...cuts.filter((t) => t < c.length), 1200, 1201, 1202, 1650];
    expect(findLookAhead(strategy, c, parseParams(strategy, { preset }), at)).toBeUndefined();
  });

  // ma-accumulation's 1d MA125 needs 126 days of 1m data; the three-week sample serves the
  // aggressive preset (148m MA125), and its cuts sit around its own entries, past its warm-up.
  it.each(['aggressive', 'default', 'conservative'])(
    'ma-accumulation, %s preset, cut at its entries',
    (preset) => {
      const strategy = strategies.find((s) => s.name === 'ma-accumulation')!;
      const { c } = dataFor(strategy);
      const params = parseParams(strategy, { preset });
      const entries = [...signalsOn(strategy, c, params).enterLong.entries()]
        .filter(([, v]) => v)
        .map(([i]) => i);
      if (preset === 'aggressive') expect(entries.length).toBeGreaterThan(0);
      const at = [...entries.flatMap((i) => [i, i + 1, i + 37]), 18_600, 24_000, c.length - 1].filter(
        (t) => t < c.length,
      );
      expect(findLookAhead(strategy, c, params, at)).toBeUndefined();
    },
  );

  /** Parameters under which a strategy trades on the bundled data. */
  const trading: Record<string, Record<string, unknown>> = { 'ma-accumulation': { preset: 'aggressive' } };

  it.each(strategies.map((s) => [s.name, s] as const))(
    '%s gives signals on the full data (the check is not vacuous)',
    (_name, strategy) => {
      const s = signalsOn(strategy, dataFor(strategy).c, parseParams(strategy, trading[strategy.name] ?? {}));
      const entries = s.enterLong.reduce((n, v) => n + v, 0) + s.enterShort.reduce((n, v) => n + v, 0);
      expect(entries).toBeGreaterThan(0);
    },
  );

  it('catches a strategy that peeks at the next bar', () => {
    const cheat = defineStrategy({
      name: 'cheat',
      description: 'buys before a rise it cannot know about',
      params: z.object({}).strict(),
      timeframes: { main: '2h' },
      warmup: () => 1,
      signals(c) {
        const s = emptySignals(c.length);
        for (let t = 0; t + 1 < c.length; t++) if (c.close[t + 1]! > c.close[t]!) s.enterLong[t] = 1;
        return s;
      },
    });
    expect(findLookAhead(cheat, candles, {}, cuts)).toMatch(/^enterLong\[\d+\]/);
  });
});
