import { describe, expect, it } from 'vitest';
import {
  bestIndex,
  heatmapGrid,
  metricText,
  planSweep,
  skippedLine,
  type SweepReport,
  sweepFromParams,
} from '../../src/backtest/sweep-report.js';
import { rankOutcomes, type SweepOutcome } from '../../src/backtest/sweep.js';
import type { Metrics } from '../../src/backtest/types.js';
import { loadStrategy } from '../../src/strategy/registry.js';

const emaCross = await loadStrategy('ema-cross');

/** A report by hand: the plan's valid sets in order, each outcome's metrics (or an error) given. */
function report(
  spec: string,
  values: Record<string, { sharpe?: number; maxDrawdown?: number } | string>,
  rank: 'sharpe' | 'maxDrawdown' = 'sharpe',
): SweepReport {
  const plan = planSweep(emaCross, spec, {});
  const outcomes: SweepOutcome[] = plan.valid.map((params) => {
    const key = Object.values(params).join(',');
    const v = values[key] ?? { sharpe: 0, maxDrawdown: 0.1 };
    return typeof v === 'string'
      ? { ok: false, params, error: v }
      : { ok: true, params, metrics: { sharpe: 0, maxDrawdown: 0.1, ...v } as unknown as Metrics };
  });
  const ranked = rankOutcomes(outcomes, rank);
  return { plan, rank, outcomes, ranked, skipped: plan.invalid, seconds: 0 };
}

describe('sweep plans and reports', () => {
  it('takes ranges and lists given as parameter values, and sweep=, leaving the rest fixed', () => {
    expect(sweepFromParams({ fast: '5..20:5', slow: '30', preset: 'a|b' }, 'k=1..2')).toEqual({
      fixed: { slow: '30' },
      spec: ['k=1..2', 'fast=5..20:5', 'preset=a|b'],
    });
    expect(sweepFromParams({ fast: '9' })).toEqual({ fixed: { fast: '9' }, spec: [] });
  });

  it('refuses a grid over the limit, a parameter both swept and fixed, and a grid with no valid set, in one line each', () => {
    expect(() => planSweep(emaCross, 'fast=5..20:5,slow=30..70:10', {}, 19)).toThrow(
      /^sweep has 20 combinations; allowed: at most 19 here$/,
    );
    expect(planSweep(emaCross, 'fast=5..20:5,slow=30..70:10', {}, 20).valid).toHaveLength(20);
    expect(() => planSweep(emaCross, ['fast=5|9'], { fast: '12' })).toThrow(
      /^fast is both swept and fixed; give it once$/,
    );
    expect(() => planSweep(emaCross, 'fast=30|40', { slow: '20' })).toThrow(
      /^every set of the sweep is refused, e.g. fast=30: ema-cross: fast must be smaller than slow$/,
    );
  });

  it('lays the grid out over the first two parameters, the best over a third, and the skipped as gaps', () => {
    const r = report('fast=5|10|25,slow=20|30', {
      '5,20': { sharpe: 1.5 },
      '5,30': { sharpe: -0.5 },
      '10,20': { sharpe: 2.5 },
      '10,30': 'strategy refused this set',
      '25,30': { sharpe: 0.25 },
    });
    const grid = heatmapGrid(r);
    expect(grid.x.name).toBe('fast');
    expect(grid.y.name).toBe('slow');
    expect(grid.folded).toEqual([]);
    expect(grid.better).toBe('higher');
    expect(grid.cells.map((c) => [c.x, c.y, c.value])).toEqual([
      [0, 0, 1.5],
      [0, 1, -0.5],
      [1, 0, 2.5],
      [1, 1, Number.NaN], // failed while running
      [2, 0, Number.NaN], // fast=25 slow=20 refused by the schema: never ran
      [2, 1, 0.25],
    ]);
    expect(r.plan.invalid.map((s) => s.params)).toEqual([{ fast: '25', slow: '20' }]);
    expect(r.plan.valid[bestIndex(r)!]).toEqual({ fast: '10', slow: '20' });
    expect(skippedLine(r)).toBe(
      '1 set skipped, e.g. fast=25 slow=20: ema-cross: fast must be smaller than slow',
    );
  });

  it('folds a third parameter into each square as its best value, by the rank metric direction', () => {
    const plan = planSweep(emaCross, 'fast=5|10,slow=20|30', {});
    // A made-up third axis: two outcomes per position, told apart by their order in the plan.
    const axes = [...plan.axes, { name: 'k', values: ['1', '2'] }];
    const valid = plan.valid.flatMap((p) => [
      { ...p, k: '1' },
      { ...p, k: '2' },
    ]);
    const dd = [0.3, 0.2, 0.1, 0.4, 0.25, 0.25, 0.5, 0.35];
    const outcomes: SweepOutcome[] = valid.map((params, i) => ({
      ok: true,
      params,
      metrics: { maxDrawdown: dd[i]!, sharpe: 0 } as unknown as Metrics,
    }));
    const r = {
      plan: { ...plan, axes, valid },
      rank: 'maxDrawdown' as const,
      outcomes,
      ranked: rankOutcomes(outcomes, 'maxDrawdown'),
    };
    const grid = heatmapGrid(r);
    expect(grid.folded).toEqual(['k']);
    expect(grid.better).toBe('lower');
    expect(grid.cells.map((c) => c.value)).toEqual([0.2, 0.1, 0.25, 0.35]);
    expect(r.plan.valid[bestIndex(r)!]).toEqual({ fast: '5', slow: '30', k: '1' });
  });

  it('writes metrics as the table does', () => {
    expect(metricText('sharpe', 1.234)).toBe('1.23');
    expect(metricText('totalReturn', 0.5)).toBe('+50.00%');
    expect(metricText('maxDrawdown', 0.2)).toBe('-20.00%');
    expect(metricText('profitFactor', Number.NaN)).toBe('n/a');
  });
});
