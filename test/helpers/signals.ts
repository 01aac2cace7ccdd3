/** Replay files cut so that a strategy's first entry signal falls on their last candle. */
import { runBacktest } from '../../src/backtest/run.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { SAMPLES } from './fixtures.js';
import { sampleSlice } from './engine.js';

/**
 * The bundled 2h BTC/USDT sample, cut just after the `nth` long entry signal of `strategy` from bar
 * `after` on: a replay of it ends with that signal waiting for a decision (with `after` 0, the only one).
 */
export async function sliceEndingOnSignal(strategy: string, nth = 1, after = 0): Promise<string> {
  const name = 'binance_BTC-USDT_2h.csv';
  const candles = loadCandlesFile(`${SAMPLES}${name}`);
  const head = 4000;
  const bt = runBacktest(await loadStrategy(strategy), {}, candles, {});
  let seen = 0;
  for (let t = after; t < head; t++) {
    if (bt.signals.enterLong[t] === 1 && ++seen === nth) return sampleSlice(name, t + 1);
  }
  throw new Error(`${strategy} has fewer than ${nth} signals in the first ${head} bars`);
}
