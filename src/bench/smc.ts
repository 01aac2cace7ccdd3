/**
 * SMC bench: every Smart Money Concepts indicator, reference and live forms, over the first 100,000
 * candles of the bench data (15m-like swings on 1m BTC candles), beside the bare EMA loop. Target: all
 * of them together in under 1 s.
 */
import * as smc from '../indicators/smc/index.js';
import { type Candles, sliceCandles } from '../market/types.js';
import { emaBaseline } from './baseline.js';
import type { BenchRow } from './row.js';

const COUNT = 100_000;
const TARGET_MS = 1000;

/** All SMC calls on one candle set, as a strategy and the chart would make them. */
export function allSmc(c: Candles, swingLength = 5): number {
  const swings = smc.swingHighsLows(c, swingLength);
  const live = smc.swingsLive(c, swingLength);
  const tol = (level: number) => level * 0.001;
  const outputs = [
    smc.bosChoch(c, swings),
    smc.fvg(c),
    smc.fvg(c, true),
    smc.orderBlocks(c, swings),
    smc.liquidity(c, swings, 0.01),
    smc.previousHighLow(c, '4h'),
    smc.previousHighLow(c, '1d'),
    smc.previousHighLow(c, '1w'),
    smc.sessions(c, 'asia'),
    smc.sessions(c, 'london'),
    smc.sessions(c, 'new-york'),
    smc.retracements(c, swings),
    smc.bosChochLive(c, live),
    smc.fvgLive(c, true),
    smc.orderBlocksLive(c, live),
    smc.liquidityLive(c, live, tol),
    smc.previousPeriodLevels(c, '1d'),
    smc.retracementsLive(c, live),
  ];
  return outputs.length;
}

export function smcRows(
  candles: Candles,
  runs: number,
  timeIt: (runs: number, fn: () => unknown) => number,
): BenchRow[] {
  const c = sliceCandles(candles, 0, Math.min(COUNT, candles.length));
  const all = timeIt(runs, () => allSmc(c));
  const base = timeIt(runs, () => emaBaseline(c.close, 26));
  const rows: BenchRow[] = [
    {
      name: `all SMC indicators, ${c.length.toLocaleString('en-US')} candles`,
      value: all,
      unit: 'ms',
      baseline: base,
      ratio: all / base,
      target: `< ${TARGET_MS} ms`,
      pass: all < TARGET_MS,
    },
  ];
  const swings = smc.swingHighsLows(c, 5);
  const each: Array<[string, () => unknown]> = [
    ['swing_highs_lows(5)', () => smc.swingHighsLows(c, 5)],
    ['bos_choch', () => smc.bosChoch(c, swings)],
    ['fvg', () => smc.fvg(c)],
    ['ob', () => smc.orderBlocks(c, swings)],
    ['liquidity', () => smc.liquidity(c, swings, 0.01)],
    ['previous_high_low(1d)', () => smc.previousHighLow(c, '1d')],
    ['sessions(london)', () => smc.sessions(c, 'london')],
    ['retracements', () => smc.retracements(c, swings)],
  ];
  for (const [name, fn] of each) {
    const ms = timeIt(runs, fn);
    rows.push({ name: `  smc ${name}`, value: ms, unit: 'ms', baseline: base, ratio: ms / base });
  }
  return rows;
}
