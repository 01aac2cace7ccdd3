/**
 * The engine rules' overhead: a year of the bundled 2h candles (4,380) backtested with ema-cross
 * under the engine's rules (the engine's per-candle step on a paper account in memory, the risk
 * manager, the regime read from the candles) against the plain backtest of the same candles.
 */
import { join } from 'node:path';
import { runBacktest } from '../backtest/run.js';
import { loadConfig } from '../config.js';
import { engineBacktest } from '../engine/backtest.js';
import { createLogger } from '../logger.js';
import { loadCandlesFile } from '../market/load.js';
import { sliceCandles } from '../market/types.js';
import { loadStrategy } from '../strategy/registry.js';
import type { BenchRow } from './row.js';

const YEAR_OF_2H = 4380;

export async function rulesRows(
  root: string,
  runs: number,
  timeItAsync: (runs: number, fn: () => Promise<unknown>) => Promise<number>,
): Promise<BenchRow[]> {
  const all = loadCandlesFile(join(root, 'data', 'samples', 'binance_BTC-USDT_2h.csv'));
  const candles = sliceCandles(all, all.length - YEAR_OF_2H, all.length);
  const strategy = await loadStrategy('ema-cross');
  const config = loadConfig({ env: {}, dotenv: false, cwd: root });
  const logger = createLogger({ level: 'silent', format: 'json' });
  const settings = { capital: 10_000, fee: 0.001, slippageBps: 0, timeframeMs: 7_200_000 };
  const plain = await timeItAsync(runs, () => Promise.resolve(runBacktest(strategy, {}, candles, settings)));
  const engine = await timeItAsync(runs, () =>
    engineBacktest(strategy, {}, candles, { ...settings, config, logger, symbol: 'BTC/USDT' }),
  );
  return [
    {
      name: `backtest under the engine rules, ema-cross on a year of 2h (${YEAR_OF_2H.toLocaleString('en-US')} bars; vs the plain backtest)`,
      value: engine,
      unit: 'ms',
      baseline: plain,
      ratio: engine / plain,
    },
  ];
}
