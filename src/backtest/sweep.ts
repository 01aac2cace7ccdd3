/**
 * Parameter sweeps and walk-forward analysis. A grid (`fast=5..20:5,slow=20..60:10`) expands to
 * parameter sets; each set is one ordinary backtest (`runBacktest`), run in worker threads so a grid
 * uses every core. Each result's `metrics` is exactly what that single run's `--json` writes, because
 * the worker calls the same `runBacktest` and `resultJson` on the same candles.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError, badInput } from '../errors.js';
import { type Candles, indexAtOrAfter } from '../market/types.js';
import type { MarketRules } from '../market/rules.js';
import { PACKAGE_ROOT } from '../paths.js';
import type { Direction, ExitRules } from '../strategy/define.js';
import type { Sizing } from './sizing.js';
import type { EntryOrders, Metrics } from './types.js';

/** One swept parameter and the values it takes, as text (the strategy's schema coerces them). */
export interface SweepAxis {
  name: string;
  values: string[];
}

/** Most combinations one sweep may run. */
export const MAX_COMBINATIONS = 10_000;

const NUM = String.raw`-?\d+(?:\.\d+)?`;
const RANGE = new RegExp(`^(${NUM})\\.\\.(${NUM})(?::(${NUM}))?$`);

/**
 * Parse `name=FROM..TO[:STEP]` (inclusive; step 1 by default) or `name=a|b|c` (a list), comma- or
 * space-separated. One clear line for each mistake.
 */
export function parseSweep(spec: string | readonly string[], max = MAX_COMBINATIONS): SweepAxis[] {
  const parts = (typeof spec === 'string' ? [spec] : spec).flatMap((s) => s.split(/[,\s]+/)).filter(Boolean);
  if (parts.length === 0)
    throw badInput('sweep is empty; allowed: name=FROM..TO:STEP or name=a|b|c, comma-separated');
  const axes: SweepAxis[] = [];
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq);
    const body = part.slice(eq + 1);
    if (eq <= 0 || body === '')
      throw badInput(`sweep "${part}" is not name=FROM..TO:STEP or name=a|b|c (e.g. fast=5..20:5)`);
    if (axes.some((a) => a.name === name))
      throw badInput(`sweep names ${name} twice; give each parameter once`);
    axes.push({ name, values: axisValues(part, body) });
  }
  const total = combinationCount(axes);
  // A smaller bound than the CLI's is a chat's own ("here").
  if (total > max)
    throw badInput(
      `sweep has ${total.toLocaleString('en-US')} combinations; allowed: at most ${max.toLocaleString('en-US')}${max < MAX_COMBINATIONS ? ' here' : ''}`,
    );
  return axes;
}

function axisValues(part: string, body: string): string[] {
  const m = RANGE.exec(body);
  if (!m) {
    const values = body.split('|');
    if (values.some((v) => v === '') || body.includes('..'))
      throw badInput(`sweep "${part}" is not name=FROM..TO:STEP or name=a|b|c (e.g. fast=5..20:5)`);
    return [...new Set(values)];
  }
  const from = Number(m[1]);
  const to = Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (!(step > 0)) throw badInput(`sweep "${part}": the step must be above 0`);
  if (to < from) throw badInput(`sweep "${part}": FROM must not be above TO`);
  const count = Math.floor((to - from) / step + 1e-9) + 1;
  if (count > MAX_COMBINATIONS)
    throw badInput(`sweep "${part}" has ${count} values; allowed: at most ${MAX_COMBINATIONS}`);
  // Rounded to 10 decimals so 0.1 steps give 0.3, not 0.30000000000000004.
  return Array.from({ length: count }, (_, i) => String(+(from + i * step).toFixed(10)));
}

export function combinationCount(axes: readonly SweepAxis[]): number {
  return axes.reduce((n, a) => n * a.values.length, 1);
}

/** Every combination, the last axis varying fastest, each merged over the fixed parameters. */
export function sweepGrid(
  axes: readonly SweepAxis[],
  fixed: Readonly<Record<string, unknown>> = {},
): Array<Record<string, unknown>> {
  let grid: Array<Record<string, unknown>> = [{ ...fixed }];
  for (const axis of axes) grid = grid.flatMap((g) => axis.values.map((v) => ({ ...g, [axis.name]: v })));
  return grid;
}

/** Settings shared by every run of a sweep (the single run's options, minus progress). */
export interface SweepSettings {
  capital: number;
  fee: number;
  maker?: number;
  slippageBps: number;
  market?: MarketRules | null;
  entry?: EntryOrders;
  sizing?: Sizing;
  direction?: Direction;
  exits: ExitRules;
  timeframeMs: number;
  /** Where the candles came from and their symbol, as the single run's `--json` states them. */
  source: string;
  symbol?: string;
}

/**
 * Where a run trading from `tradeFrom` starts reading: `warmup + 1` bars before it, as a single run
 * with --from loads them, so a set's indicators start from the same bar whatever the others need.
 */
export function warmupStart(candles: Candles, tradeFrom: number | undefined, warmup: number): number {
  return tradeFrom === undefined ? 0 : Math.max(0, indexAtOrAfter(candles.time, tradeFrom) - (warmup + 1));
}

/**
 * One job: a parameter set over candles [0, end), trading from `tradeFrom`; only the set's own
 * warm-up before it is read (see `warmupStart`).
 */
export interface SweepJob {
  params: Readonly<Record<string, unknown>>;
  end?: number;
  tradeFrom?: number;
}

export type SweepOutcome =
  | { ok: true; params: Record<string, unknown>; metrics: Metrics }
  | { ok: false; params: Record<string, unknown>; error: string };

/** What the main thread sends each worker once. */
export interface WorkerInit {
  strategy: string;
  candles: Candles;
  settings: SweepSettings;
}

export interface WorkerJob extends SweepJob {
  id: number;
}

export type WorkerReply =
  | { id: number; ok: true; params: Record<string, unknown>; metrics: Metrics }
  | { id: number; ok: false; error: string };

export interface SweepRunOptions {
  /** Worker threads (default: the machine's cores, at most one per job). */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
  /** Stops the workers; the sweep then fails with "stopped". */
  signal?: AbortSignal;
}

/** The compiled worker; from the source tree (tests, tsx) it is dist's copy, so build first. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(here, '..', 'sweep-worker.js');
  return join(PACKAGE_ROOT, 'dist', 'src', 'backtest', 'sweep-worker.js');
}

export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Worker threads that hold one strategy and one candle set, and run jobs on them. Starting a worker
 * (modules, the candles, a cold JIT) costs about as much as 50 ema-cross runs on 2h data, so a pool
 * that serves several sweeps (walk-forward's two phases, the bench) starts its workers once.
 */
export class SweepPool {
  private readonly workers: Worker[] = [];
  private failure: Error | undefined;
  private active: { reject: (e: Error) => void } | undefined;

  constructor(strategy: string, candles: Candles, settings: SweepSettings, size = defaultWorkers()) {
    const init: WorkerInit = { strategy, candles, settings };
    const file = workerFile();
    if (!existsSync(file))
      throw new AppError('INTERNAL', `sweep worker not found at ${file}; run npm run build`);
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new Worker(file, { workerData: init });
      w.on('error', (err) => this.fail(new AppError('INTERNAL', `sweep worker failed: ${err.message}`)));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new AppError('INTERNAL', `sweep worker exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.active?.reject(err);
  }

  /** Run the jobs; outcomes come back in job order. One sweep at a time per pool. */
  async run(
    jobs: readonly SweepJob[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<SweepOutcome[]> {
    if (this.failure) throw this.failure;
    if (this.active) throw new AppError('INTERNAL', 'a sweep pool runs one sweep at a time');
    const outcomes = new Array<SweepOutcome>(jobs.length);
    if (jobs.length === 0) return outcomes;
    let next = 0;
    let done = 0;
    const listeners: Array<[Worker, (msg: WorkerReply) => void]> = [];
    try {
      await new Promise<void>((resolve, reject) => {
        this.active = { reject };
        const feed = (w: Worker) => {
          if (next >= jobs.length) return;
          const id = next++;
          const job: WorkerJob = { id, ...jobs[id]! };
          w.postMessage(job);
        };
        for (const w of this.workers) {
          const onMessage = (msg: WorkerReply) => {
            outcomes[msg.id] = msg.ok
              ? { ok: true, params: msg.params, metrics: msg.metrics }
              : { ok: false, params: { ...jobs[msg.id]!.params }, error: msg.error };
            done++;
            onProgress?.(done, jobs.length);
            if (done === jobs.length) resolve();
            else feed(w);
          };
          w.on('message', onMessage);
          listeners.push([w, onMessage]);
          feed(w);
        }
      });
    } finally {
      this.active = undefined;
      for (const [w, l] of listeners) w.off('message', l);
    }
    return outcomes;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Run the jobs on a pool started for them (`workers` threads, at most one per job) and stop it.
 * A job that fails on its parameters (fast >= slow, say) is an outcome with its error line; a
 * worker that dies fails the sweep.
 */
export async function runSweep(
  strategy: string,
  candles: Candles,
  settings: SweepSettings,
  jobs: readonly SweepJob[],
  options: SweepRunOptions = {},
): Promise<SweepOutcome[]> {
  if (jobs.length === 0) return [];
  const pool = new SweepPool(
    strategy,
    candles,
    settings,
    Math.min(options.workers ?? defaultWorkers(), jobs.length),
  );
  const { signal } = options;
  const stop = () => void pool.close();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    if (signal?.aborted) throw new AppError('INTERNAL', 'stopped');
    return await pool.run(jobs, options.onProgress);
  } catch (err) {
    if (signal?.aborted) throw new AppError('INTERNAL', 'stopped');
    throw err;
  } finally {
    signal?.removeEventListener('abort', stop);
    await pool.close();
  }
}

/** Metrics a sweep can be ranked by, and whether a larger value is better. */
export const RANK_METRICS = {
  sharpe: 'higher',
  totalReturn: 'higher',
  cagr: 'higher',
  profitFactor: 'higher',
  sortino: 'higher',
  calmar: 'higher',
  winRate: 'higher',
  expectancy: 'higher',
  maxDrawdown: 'lower',
} as const satisfies Partial<Record<keyof Metrics, 'higher' | 'lower'>>;
export type RankMetric = keyof typeof RANK_METRICS;

/** Successful outcomes, best first by `metric`; ties (and nulls, last) keep grid order. */
export function rankOutcomes(
  outcomes: readonly SweepOutcome[],
  metric: RankMetric,
): Array<Extract<SweepOutcome, { ok: true }>> {
  const sign = RANK_METRICS[metric] === 'higher' ? -1 : 1;
  const value = (o: Extract<SweepOutcome, { ok: true }>) => o.metrics[metric] ?? Number.NaN;
  return outcomes
    .filter((o): o is Extract<SweepOutcome, { ok: true }> => o.ok)
    .map((o, i) => ({ o, i }))
    .sort((a, b) => {
      const va = value(a.o);
      const vb = value(b.o);
      if (Number.isNaN(va) !== Number.isNaN(vb)) return Number.isNaN(va) ? 1 : -1;
      return (Number.isNaN(va) ? 0 : sign * (va - vb)) || a.i - b.i;
    })
    .map(({ o }) => o);
}

/** One walk-forward fold: bar indices, in-sample [isStart, isEnd), out-of-sample [isEnd, oosEnd). */
export interface Fold {
  index: number;
  isStart: number;
  isEnd: number;
  oosEnd: number;
}

/**
 * Split bars [start, n) into `folds` consecutive, equal, non-overlapping windows; each window's first
 * `1 - oosShare` is in-sample and the rest out-of-sample. Every bar belongs to exactly one fold.
 */
export function walkForwardFolds(n: number, folds: number, oosShare = 0.3, start = 0): Fold[] {
  if (!(Number.isInteger(folds) && folds >= 1 && folds <= 50))
    throw badInput(`walk-forward folds is ${folds}; allowed: a whole number from 1 to 50`);
  if (!(oosShare > 0 && oosShare < 1))
    throw badInput(`out-of-sample share is ${oosShare}; allowed: above 0 and below 1`);
  const span = n - start;
  const out: Fold[] = [];
  for (let k = 0; k < folds; k++) {
    const a = start + Math.floor((span * k) / folds);
    const b = start + Math.floor((span * (k + 1)) / folds);
    const isEnd = b - Math.round((b - a) * oosShare);
    if (isEnd - a < 2 || b - isEnd < 2)
      throw badInput(
        `walk-forward with ${folds} folds leaves fold ${k + 1} with fewer than 2 bars on a side; use fewer folds or more data`,
      );
    out.push({ index: k + 1, isStart: a, isEnd, oosEnd: b });
  }
  return out;
}
