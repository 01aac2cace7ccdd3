/** `bosun backtest --sweep ...` and `--walk-forward N`: grids in worker threads, ranked tables, folds. */
import { writeFileSync } from 'node:fs';
import {
  rankedRows,
  runPlannedSweep,
  skippedLine,
  type SweepPlan,
  sweepFailures,
  sweptText,
} from '../backtest/sweep-report.js';
import {
  defaultWorkers,
  type Fold,
  RANK_METRICS,
  type RankMetric,
  rankOutcomes,
  type SweepJob,
  SweepPool,
  type SweepOutcome,
  type SweepSettings,
  walkForwardFolds,
} from '../backtest/sweep.js';
import { pct, ratio } from '../backtest/summary.js';
import type { Metrics } from '../backtest/types.js';
import { badInput } from '../errors.js';
import { isoTime } from '../market/timeframe.js';
import { type Candles, indexAtOrAfter } from '../market/types.js';
import type { Strategy } from '../strategy/define.js';
import { oneOf, writing } from './args.js';
import type { Progress } from './progress.js';

export const rankOption = (text: string | undefined): RankMetric =>
  oneOf('rank', text, Object.keys(RANK_METRICS) as RankMetric[]) ?? 'sharpe';

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  // Text columns (dates, parameter sets) align left, numbers right.
  const left = rows[0]!.map((_, c) => rows.slice(1).some((r) => /=|\.\./.test(r[c] ?? '')));
  for (const r of rows)
    console.log(
      r
        .map((cell, c) => (left[c] ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  ')
        .trimEnd(),
    );
}

export interface SweepCliInput {
  strategy: Strategy;
  plan: SweepPlan;
  candles: Candles;
  settings: SweepSettings;
  tradeFrom?: number;
  rank: RankMetric;
  workers?: number;
  top: number;
  json?: string;
  quiet: boolean;
  progress: Progress;
}

/** Run the grid once over the whole range; print the ranked table; write `{results:[{params,metrics}]}`. */
export async function sweepCli(input: SweepCliInput): Promise<number> {
  const { plan, progress } = input;
  const report = await runPlannedSweep(input.strategy.name, plan, input.candles, input.settings, input.rank, {
    ...(input.workers !== undefined ? { workers: input.workers } : {}),
    ...(input.tradeFrom !== undefined ? { tradeFrom: input.tradeFrom } : {}),
    onProgress: (d, t) => progress.update(d / t, `sweep ${d}/${t}`),
  });
  progress.done();
  const { ranked, skipped } = report;
  if (input.json) {
    writeJson(input.json, {
      strategy: input.strategy.name,
      rank: input.rank,
      results: ranked.map((r) => ({ params: r.params, metrics: r.metrics })),
      ...(skipped.length > 0 ? { skipped } : {}),
    });
  }
  if (!input.quiet) {
    console.log(
      `Sweep of ${input.strategy.name}: ${report.outcomes.length} runs in ${report.seconds.toFixed(1)} s, ranked by ${input.rank}${ranked.length > input.top ? ` (top ${input.top} of ${ranked.length})` : ''}\n`,
    );
    printTable(rankedRows(plan.axes, ranked.slice(0, input.top)));
    const skippedText = skippedLine(report);
    if (skippedText) console.log(`\n${skippedText}`);
    if (input.json) console.log(`\nWrote ${input.json}`);
  }
  return 0;
}

function writeJson(file: string, doc: unknown): void {
  writing(`--json ${file}`, () => writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`));
}

export interface FoldResult {
  fold: Fold;
  /** The set chosen in-sample (the best by the rank metric), with its in-sample metrics. */
  inSample: { start: number; end: number; params: Record<string, unknown>; metrics: Metrics };
  /** The same set on the out-of-sample bars that follow. */
  outOfSample:
    { start: number; end: number; metrics: Metrics } | { start: number; end: number; error: string };
}

/**
 * Walk-forward: for each fold, run every set in-sample, keep the best, then run it on the fold's
 * out-of-sample bars (earlier bars only warm the indicators up, as in any run with --from).
 */
export async function walkForward(
  input: Omit<SweepCliInput, 'top' | 'json' | 'quiet'> & { folds: number; oosShare: number },
): Promise<FoldResult[]> {
  const { candles, plan } = input;
  const start = input.tradeFrom === undefined ? 0 : indexAtOrAfter(candles.time, input.tradeFrom);
  const folds = walkForwardFolds(candles.length, input.folds, input.oosShare, start);
  const total = folds.length * (plan.valid.length + 1);
  let finished = 0;
  // One pool for both phases: starting workers costs more than many runs.
  const pool = new SweepPool(
    input.strategy.name,
    candles,
    input.settings,
    Math.min(input.workers ?? defaultWorkers(), folds.length * plan.valid.length),
  );
  const run = (jobs: SweepJob[]) =>
    pool.run(jobs, () => input.progress.update(++finished / total, 'walk-forward'));
  try {
    return await foldResults(input, folds, run);
  } finally {
    await pool.close();
  }
}

async function foldResults(
  input: Omit<SweepCliInput, 'top' | 'json' | 'quiet'>,
  folds: Fold[],
  run: (jobs: SweepJob[]) => Promise<SweepOutcome[]>,
): Promise<FoldResult[]> {
  const { candles, plan } = input;
  const isJobs = folds.flatMap((f) =>
    plan.valid.map((params) => ({ params, end: f.isEnd, tradeFrom: candles.time[f.isStart]! })),
  );
  const isOutcomes = await run(isJobs);
  const best = folds.map((f, k) => {
    const slice = isOutcomes.slice(k * plan.valid.length, (k + 1) * plan.valid.length);
    const top = rankOutcomes(slice, input.rank)[0];
    if (!top)
      throw badInput(
        `walk-forward fold ${f.index}: no parameter set ran in-sample (${sweepFailures(slice)[0]?.error ?? 'no sets'})`,
      );
    return top;
  });
  const oosOutcomes = await run(
    folds.map((f, k) => ({ params: best[k]!.params, end: f.oosEnd, tradeFrom: candles.time[f.isEnd]! })),
  );
  input.progress.done();
  return folds.map((f, k) => {
    const oos = oosOutcomes[k]!;
    // Spans as the metrics state them: from the first bar's open to the last bar's close.
    const tf = input.settings.timeframeMs;
    const span = { start: candles.time[f.isEnd]!, end: candles.time[f.oosEnd - 1]! + tf };
    return {
      fold: f,
      inSample: {
        start: candles.time[f.isStart]!,
        end: candles.time[f.isEnd - 1]! + tf,
        params: best[k]!.params,
        metrics: best[k]!.metrics,
      },
      outOfSample: oos.ok ? { ...span, metrics: oos.metrics } : { ...span, error: oos.error },
    };
  });
}

export async function walkForwardCli(
  input: SweepCliInput & { folds: number; oosShare: number },
): Promise<number> {
  const results = await walkForward(input);
  if (input.json) {
    writeJson(input.json, {
      strategy: input.strategy.name,
      rank: input.rank,
      folds: results.map((r) => ({ fold: r.fold.index, inSample: r.inSample, outOfSample: r.outOfSample })),
    });
  }
  if (input.quiet) return 0;
  const day = (t: number) => isoTime(t).slice(0, 10);
  const rows = [
    [
      'fold',
      'in-sample',
      ...(input.plan.axes.length > 0 ? ['chosen'] : []),
      'IS return',
      'IS Sharpe',
      'out-of-sample',
      'OOS return',
      'OOS Sharpe',
      'OOS trades',
    ],
    ...results.map((r) => {
      const o = 'metrics' in r.outOfSample ? r.outOfSample.metrics : undefined;
      return [
        String(r.fold.index),
        `${day(r.inSample.start)}..${day(r.inSample.end)}`,
        ...(input.plan.axes.length > 0 ? [sweptText(input.plan.axes, r.inSample.params)] : []),
        pct(r.inSample.metrics.totalReturn),
        ratio(r.inSample.metrics.sharpe),
        `${day(r.outOfSample.start)}..${day(r.outOfSample.end)}`,
        o ? pct(o.totalReturn) : 'failed',
        o ? ratio(o.sharpe) : '',
        o ? String(o.trades) : '',
      ];
    }),
  ];
  console.log(
    `Walk-forward of ${input.strategy.name}: ${results.length} folds, ${Math.round((1 - input.oosShare) * 100)}% in-sample / ${Math.round(input.oosShare * 100)}% out-of-sample each${input.plan.axes.length > 0 ? `, best of ${input.plan.valid.length} sets by ${input.rank} chosen in-sample` : ''}\n`,
  );
  printTable(rows);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const isSharpe = mean(results.map((r) => r.inSample.metrics.sharpe));
  const oosSharpe = mean(
    results.flatMap((r) => ('metrics' in r.outOfSample ? [r.outOfSample.metrics.sharpe] : [])),
  );
  console.log(
    `\nMean Sharpe in-sample ${isSharpe.toFixed(2)}, out-of-sample ${oosSharpe.toFixed(2)}${isSharpe > 0 ? ` (out-of-sample keeps ${((oosSharpe / isSharpe) * 100).toFixed(0)}%)` : ''}`,
  );
  if (input.json) console.log(`\nWrote ${input.json}`);
  return 0;
}
