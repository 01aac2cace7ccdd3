/**
 * A sweep from plan to ranked result, shared by the CLI and chat: the grid checked against the
 * strategy before any candle is read, the runs, the ranking, the sets skipped and why, the table
 * rows, and the cells of a heatmap over the first two swept parameters.
 */
import { badInput, toAppError } from '../errors.js';
import type { Candles } from '../market/types.js';
import type { Strategy } from '../strategy/define.js';
import { parseParams } from '../strategy/params.js';
import { pct, ratio } from './summary.js';
import {
  parseSweep,
  RANK_METRICS,
  type RankMetric,
  rankOutcomes,
  runSweep,
  type SweepAxis,
  sweepGrid,
  type SweepOutcome,
  type SweepRunOptions,
  type SweepSettings,
} from './sweep.js';
import type { Metrics } from './types.js';

export interface SweepPlan {
  axes: SweepAxis[];
  /** Parameter sets that passed the strategy's schema, and those that did not (with the reason). */
  valid: Array<Record<string, unknown>>;
  invalid: Array<{ params: Record<string, unknown>; error: string }>;
  /** The largest warm-up among the valid sets. */
  warmup: number;
}

/**
 * Expand and check a grid against the strategy before any candle is loaded. `maxCombinations`
 * bounds the grid (chat allows a smaller one than the CLI).
 */
export function planSweep(
  strategy: Strategy,
  spec: string | readonly string[] | undefined,
  fixed: Readonly<Record<string, unknown>>,
  maxCombinations?: number,
): SweepPlan {
  const axes = spec && spec.length > 0 ? parseSweep(spec, maxCombinations) : [];
  for (const a of axes)
    if (a.name in fixed) throw badInput(`${a.name} is both swept and fixed; give it once`);
  const valid: Array<Record<string, unknown>> = [];
  const invalid: SweepPlan['invalid'] = [];
  let warmup = 0;
  for (const params of sweepGrid(axes, fixed)) {
    try {
      warmup = Math.max(warmup, strategy.warmup(parseParams(strategy, params)));
      valid.push(params);
    } catch (err) {
      const e = toAppError(err);
      // A name the strategy does not have is wrong for every set: say so at once.
      if (/unknown parameter/.test(e.message)) throw e;
      invalid.push({ params, error: e.message });
    }
  }
  if (valid.length === 0) {
    const first = invalid[0];
    throw first
      ? badInput(`every set of the sweep is refused, e.g. ${sweptText(axes, first.params)}: ${first.error}`)
      : badInput('the sweep has no parameter sets');
  }
  return { axes, valid, invalid, warmup };
}

export type Ranked = Extract<SweepOutcome, { ok: true }>;

export interface SweepReport {
  plan: SweepPlan;
  rank: RankMetric;
  /** Every outcome in grid order (for the heatmap), and the successful ones best first. */
  outcomes: SweepOutcome[];
  ranked: Ranked[];
  /** Sets refused before running (schema) or while running (the strategy), with the reason. */
  skipped: Array<{ params: Record<string, unknown>; error: string }>;
  seconds: number;
}

/** Run every valid set of the plan over the candles (trading from `tradeFrom`) and rank them. */
export async function runPlannedSweep(
  strategy: string,
  plan: SweepPlan,
  candles: Candles,
  settings: SweepSettings,
  rank: RankMetric,
  options: SweepRunOptions & { tradeFrom?: number } = {},
): Promise<SweepReport> {
  const { tradeFrom, ...run } = options;
  const jobs = plan.valid.map((params) => ({ params, ...(tradeFrom !== undefined ? { tradeFrom } : {}) }));
  const started = performance.now();
  const outcomes = await runSweep(strategy, candles, settings, jobs, run);
  return {
    plan,
    rank,
    outcomes,
    ranked: rankOutcomes(outcomes, rank),
    skipped: [...plan.invalid, ...sweepFailures(outcomes)],
    seconds: (performance.now() - started) / 1000,
  };
}

export function sweepFailures(outcomes: readonly SweepOutcome[]) {
  return outcomes.flatMap((o) => (o.ok ? [] : [{ params: o.params, error: o.error }]));
}

/**
 * Chat's two ways to ask for a sweep, as one spec: `sweep=fast=5..20:5,slow=20..60:10`, or a range
 * or list given as a parameter's value (`fast=5..20:5 slow=20|30`). Other parameters stay fixed.
 */
export function sweepFromParams(
  params: Readonly<Record<string, string>>,
  sweep?: string,
): { fixed: Record<string, string>; spec: string[] } {
  const fixed: Record<string, string> = {};
  const spec = sweep ? [sweep] : [];
  for (const [name, value] of Object.entries(params)) {
    if (value.includes('..') || value.includes('|')) spec.push(`${name}=${value}`);
    else fixed[name] = value;
  }
  return { fixed, spec };
}

/** The best set's index in the plan's valid sets (its parameters as given), if any set ran. */
export function bestIndex(report: Pick<SweepReport, 'outcomes' | 'ranked'>): number | undefined {
  const best = report.ranked[0];
  return best ? report.outcomes.indexOf(best) : undefined;
}

/** The swept parameters of a set, `fast=5 slow=20`. */
export function sweptText(axes: readonly SweepAxis[], params: Readonly<Record<string, unknown>>): string {
  return axes.map((a) => `${a.name}=${String(params[a.name])}`).join(' ');
}

/** "3 sets skipped, e.g. fast=20 slow=20: ...", or nothing. */
export function skippedLine(report: Pick<SweepReport, 'plan' | 'skipped'>): string | undefined {
  const { skipped } = report;
  if (skipped.length === 0) return undefined;
  return `${skipped.length} set${skipped.length === 1 ? '' : 's'} skipped, e.g. ${sweptText(report.plan.axes, skipped[0]!.params)}: ${skipped[0]!.error}`;
}

/** Rows of the ranked table: header first. */
export function rankedRows(
  axes: readonly SweepAxis[],
  ranked: ReadonlyArray<{ params: Record<string, unknown>; metrics: Metrics }>,
): string[][] {
  return [
    ['#', ...axes.map((a) => a.name), 'trades', 'return', 'CAGR', 'max DD', 'Sharpe', 'PF', 'win'],
    ...ranked.map((r, i) => [
      String(i + 1),
      ...axes.map((a) => String(r.params[a.name])),
      String(r.metrics.trades),
      pct(r.metrics.totalReturn),
      pct(r.metrics.cagr),
      pct(-r.metrics.maxDrawdown),
      ratio(r.metrics.sharpe),
      ratio(r.metrics.profitFactor),
      `${(r.metrics.winRate * 100).toFixed(0)}%`,
    ]),
  ];
}

/** Short column names of the rank metrics, for the narrow chat table. */
const METRIC_COLUMN: Record<RankMetric, string> = {
  sharpe: 'Sharpe',
  totalReturn: 'return',
  cagr: 'CAGR',
  profitFactor: 'PF',
  sortino: 'Sortino',
  calmar: 'Calmar',
  winRate: 'win',
  expectancy: 'exp.',
  maxDrawdown: 'max DD',
};

/**
 * The ranked sets for a phone: rank, the swept values, the rank metric, the return (when it is not
 * the rank) and the trades; the single backtest behind the button gives the rest.
 */
export function compactRankedRows(
  axes: readonly SweepAxis[],
  ranked: ReadonlyArray<{ params: Record<string, unknown>; metrics: Metrics }>,
  rank: RankMetric,
): string[][] {
  const withReturn = rank !== 'totalReturn';
  return [
    ['#', ...axes.map((a) => a.name), METRIC_COLUMN[rank], ...(withReturn ? ['return'] : []), 'trades'],
    ...ranked.map((r, i) => [
      String(i + 1),
      ...axes.map((a) => String(r.params[a.name])),
      metricText(rank, r.metrics[rank]),
      ...(withReturn ? [pct(r.metrics.totalReturn)] : []),
      String(r.metrics.trades),
    ]),
  ];
}

/** A rank metric's value as the table shows it. */
export function metricText(metric: RankMetric, value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  switch (metric) {
    case 'totalReturn':
    case 'cagr':
    case 'winRate':
      return pct(value);
    case 'maxDrawdown':
      return pct(-value);
    default:
      return ratio(value);
  }
}

/** One heatmap cell: grid position, the metric there (NaN: skipped or no value), and its values. */
export interface HeatmapCell {
  x: number;
  y: number;
  value: number;
  params: Record<string, unknown>;
}

export interface HeatmapGrid {
  /** The axes drawn: x is the first swept parameter, y the second ('' when only one was swept). */
  x: SweepAxis;
  y: SweepAxis;
  /** Parameters beyond the first two: each cell shows the best set over their values. */
  folded: string[];
  cells: HeatmapCell[];
  metric: RankMetric;
  better: 'higher' | 'lower';
}

/**
 * The heatmap of a sweep over its first two axes: every grid position once, valued by the rank
 * metric; with more axes, the best value over the others at each position.
 */
export function heatmapGrid(report: Pick<SweepReport, 'plan' | 'outcomes' | 'rank'>): HeatmapGrid {
  const { axes } = report.plan;
  if (axes.length === 0) throw badInput('a heatmap needs at least one swept parameter');
  const x = axes[0]!;
  const y = axes[1] ?? { name: '', values: [''] };
  const better = RANK_METRICS[report.rank];
  // Outcomes come in the order of the plan's valid sets, whose values are the grid's own text.
  const ok = new Map<string, Ranked[]>();
  const key = (p: Readonly<Record<string, unknown>>) =>
    `${String(p[x.name])}\u0000${y.name ? String(p[y.name]) : ''}`;
  report.outcomes.forEach((o, i) => {
    if (!o.ok) return;
    const k = key(report.plan.valid[i]!);
    ok.set(k, [...(ok.get(k) ?? []), o]);
  });
  const cells: HeatmapCell[] = [];
  x.values.forEach((xv, i) => {
    y.values.forEach((yv, j) => {
      const params = { [x.name]: xv, ...(y.name ? { [y.name]: yv } : {}) };
      const best = rankOutcomes(ok.get(key(params)) ?? [], report.rank)[0];
      const value = best ? (best.metrics[report.rank] ?? Number.NaN) : Number.NaN;
      cells.push({ x: i, y: j, value, params });
    });
  });
  return { x, y, folded: axes.slice(2).map((a) => a.name), cells, metric: report.rank, better };
}
