/**
 * The engine rules' overhead: a year of the bundled 2h candles (4,380) backtested with ema-cross
 * under the engine's rules (the engine's per-candle step on a paper account in memory, the risk
 * manager, the regime read from the candles) against the plain backtest of the same candles; and a
 * portfolio of ten such markets on one account against the ten backtested one by one.
 */
import { join } from 'node:path';
import { runBacktest } from '../backtest/run.js';
import { loadConfig } from '../config.js';
import { engineBacktest, portfolioBacktest } from '../engine/backtest.js';
import { createLogger } from '../logger.js';
import { loadCandlesFile } from '../market/load.js';
import { allocCandles, type Candles, sliceCandles } from '../market/types.js';
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
  // A portfolio: ten markets (the sample's path, each swung its own way) on one account, against
  // the same ten backtested one by one.
  const markets = Array.from({ length: 10 }, (_, k) => ({
    symbol: `M${k}/USDT`,
    candles: swung(candles, k),
  }));
  const one = { ...settings, config, logger };
  const portfolio = await timeItAsync(Math.min(runs, 3), () => portfolioBacktest(strategy, {}, markets, one));
  const singles = await timeItAsync(Math.min(runs, 3), async () => {
    for (const m of markets) await engineBacktest(strategy, {}, m.candles, { ...one, symbol: m.symbol });
  });
  return [
    {
      name: `portfolio of 10 markets x a year of 2h on one account, engine rules (vs the 10 backtested one by one)`,
      value: portfolio,
      unit: 'ms',
      baseline: singles,
      ratio: portfolio / singles,
    },
    {
      name: `backtest under the engine rules, ema-cross on a year of 2h (${YEAR_OF_2H.toLocaleString('en-US')} bars; vs the plain backtest)`,
      value: engine,
      unit: 'ms',
      baseline: plain,
      ratio: engine / plain,
    },
  ];
}

/** The candles with prices swung by up to 15% on a slow wave of its own (market k). */
function swung(c: Candles, k: number): Candles {
  const out = allocCandles(c.length);
  for (let i = 0; i < c.length; i++) {
    const f = 1 + 0.15 * Math.sin(i / (30 + 7 * k) + k);
    out.time[i] = c.time[i]!;
    out.open[i] = c.open[i]! * f;
    out.high[i] = c.high[i]! * f;
    out.low[i] = c.low[i]! * f;
    out.close[i] = c.close[i]! * f;
    out.volume[i] = c.volume[i]!;
  }
  return out;
}
