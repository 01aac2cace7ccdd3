/**
 * The sweep bench: 100 ema-cross parameter sets (fast 3..30:3 x slow 40..130:10) over the bundled 2h
 * data, on one worker thread (the baseline) and on one per core: with the workers started for the
 * sweep (what the CLI does once), and on a warm pool (what repeated sweeps cost).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseSweep, runSweep, type SweepOutcome, SweepPool, sweepGrid } from '../backtest/sweep.js';
import { loadCandlesFile } from '../market/load.js';
import type { BenchRow } from './row.js';

export async function sweepRows(
  root: string,
  runs: number,
  timeItAsync: (runs: number, fn: () => Promise<unknown>) => Promise<number>,
): Promise<BenchRow[]> {
  const candles = loadCandlesFile(join(root, 'data', 'samples', 'binance_BTC-USDT_2h.csv'));
  const jobs = sweepGrid(parseSweep('fast=3..30:3,slow=40..130:10')).map((params) => ({ params }));
  const settings = {
    capital: 10_000,
    fee: 0.001,
    slippageBps: 0,
    exits: {},
    timeframeMs: 7_200_000,
    source: 'bench',
  };
  const cores = availableParallelism();
  const n = Math.min(runs, 3);
  const check = (out: SweepOutcome[]) => {
    if (out.some((o) => !o.ok)) throw new Error('bench sweep: a run failed');
  };
  // Cold: a sweep as `npm run backtest -- --sweep` runs it, workers started for it.
  const cold = (workers: number) => async () =>
    check(await runSweep('ema-cross', candles, settings, jobs, { workers }));
  // Warm: a pool whose workers have started and run the grid once (a chat bot keeps one).
  const warm = async (workers: number) => {
    const pool = new SweepPool('ema-cross', candles, settings, workers);
    try {
      return await timeItAsync(n, async () => check(await pool.run(jobs)));
    } finally {
      await pool.close();
    }
  };
  const label = `sweep of ${jobs.length} ema-cross sets on ${candles.length.toLocaleString('en-US')} 2h bars`;
  const coldOne = await timeItAsync(n, cold(1));
  const coldAll = await timeItAsync(n, cold(cores));
  const warmOne = await warm(1);
  const warmAll = await warm(cores);
  // On 2 cores a warm pool should finish in at most 2/3 of one worker's time (1.5x or better).
  const target = cores > 1 ? 1 / (cores * 0.75) : undefined;
  return [
    {
      name: `${label}, workers started per sweep, ${cores} workers (speed-up ${(coldOne / coldAll).toFixed(2)}x over 1)`,
      value: coldAll,
      unit: 'ms',
      baseline: coldOne,
      ratio: coldAll / coldOne,
    },
    {
      name: `${label}, warm pool, ${cores} workers (speed-up ${(warmOne / warmAll).toFixed(2)}x over 1)`,
      value: warmAll,
      unit: 'ms',
      baseline: warmOne,
      ratio: warmAll / warmOne,
      ...(target !== undefined
        ? { target: `<= ${target.toFixed(2)}x`, pass: warmAll / warmOne <= target }
        : {}),
    },
  ];
}
