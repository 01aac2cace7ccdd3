/**
 * Parameter sweeps and walk-forward: the grid syntax, results from worker threads equal to the same
 * backtests run one by one, and fold boundaries. (Workers run dist's compiled code: `npm test` builds.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { candleInfo, resultJson } from '../../src/backtest/summary.js';
import {
  parseSweep,
  rankOutcomes,
  runSweep,
  type SweepOutcome,
  sweepGrid,
  walkForwardFolds,
} from '../../src/backtest/sweep.js';
import { walkForward } from '../../src/cli/sweep.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { sliceCandles } from '../../src/market/types.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { ROOT, SAMPLES } from '../helpers/fixtures.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const SAMPLE = 'data/samples/binance_BTC-USDT_2h.csv';

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/src/backtest/sweep-worker.js')))
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}, 120_000);

describe('sweep grammar', () => {
  it('expands inclusive ranges, steps and lists, last axis fastest', () => {
    const axes = parseSweep('fast=5..20:5,slow=20..60:10');
    expect(axes).toEqual([
      { name: 'fast', values: ['5', '10', '15', '20'] },
      { name: 'slow', values: ['20', '30', '40', '50', '60'] },
    ]);
    const grid = sweepGrid(axes, { other: 1 });
    expect(grid).toHaveLength(20);
    expect(grid[0]).toEqual({ other: 1, fast: '5', slow: '20' });
    expect(grid[1]).toEqual({ other: 1, fast: '5', slow: '30' });
    expect(grid[19]).toEqual({ other: 1, fast: '20', slow: '60' });
    // 0.1 steps land on decimals, not on 0.30000000000000004; 1..2 steps by 1.
    expect(parseSweep('k=0.1..0.3:0.1')[0]!.values).toEqual(['0.1', '0.2', '0.3']);
    expect(parseSweep('n=1..3')[0]!.values).toEqual(['1', '2', '3']);
    // A step that does not land on TO stops below it.
    expect(parseSweep('n=1..10:4')[0]!.values).toEqual(['1', '5', '9']);
    expect(parseSweep('preset=default|aggressive')[0]!.values).toEqual(['default', 'aggressive']);
    expect(parseSweep(['a=1|2', 'b=3'])).toHaveLength(2);
  });

  it('refuses malformed grids in one line that shows the syntax', () => {
    for (const [spec, msg] of [
      ['fast', /not name=FROM\.\.TO:STEP/],
      ['fast=', /not name=FROM\.\.TO:STEP/],
      ['fast=1..3..4', /not name=FROM\.\.TO:STEP/],
      ['fast=5..1', /FROM must not be above TO/],
      ['fast=1..5:0', /step must be above 0/],
      ['fast=1..5,fast=2..3', /names fast twice/],
      ['a=1..200,b=1..200', /40,000 combinations; allowed: at most 10,000/],
    ] as const) {
      expect(() => parseSweep(spec), spec).toThrow(msg);
    }
  });
});

describe('walk-forward folds', () => {
  it('partitions the bars into consecutive folds, in-sample before out-of-sample', () => {
    // 1,000 bars from bar 100 on, 4 folds: 900 / 4 = 225 bars each; 30% of 225 = 67.5 -> 68 out-of-sample.
    const folds = walkForwardFolds(1000, 4, 0.3, 100);
    expect(folds).toEqual([
      { index: 1, isStart: 100, isEnd: 257, oosEnd: 325 },
      { index: 2, isStart: 325, isEnd: 482, oosEnd: 550 },
      { index: 3, isStart: 550, isEnd: 707, oosEnd: 775 },
      { index: 4, isStart: 775, isEnd: 932, oosEnd: 1000 },
    ]);
    for (let k = 1; k < folds.length; k++) expect(folds[k]!.isStart).toBe(folds[k - 1]!.oosEnd);
    // Uneven spans: every bar still belongs to exactly one fold.
    const odd = walkForwardFolds(1003, 3, 0.25);
    expect(odd[0]!.isStart).toBe(0);
    expect(odd.at(-1)!.oosEnd).toBe(1003);
    expect(odd.map((f) => f.oosEnd - f.isStart).reduce((a, b) => a + b)).toBe(1003);
  });

  it('refuses fold counts and shares out of range, and folds too small to test', () => {
    expect(() => walkForwardFolds(1000, 0)).toThrow(/allowed: a whole number from 1 to 50/);
    expect(() => walkForwardFolds(1000, 2, 1)).toThrow(/above 0 and below 1/);
    expect(() => walkForwardFolds(10, 5)).toThrow(/fewer than 2 bars/);
  });
});

describe('sweeps in worker threads', async () => {
  const strategy = await loadStrategy('ema-cross');
  const full = loadCandlesFile(join(SAMPLES, 'binance_BTC-USDT_2h.csv'));
  const candles = sliceCandles(full, 0, 8000);
  const settings = {
    capital: 10_000,
    fee: 0.001,
    slippageBps: 5,
    exits: { stopLoss: 0.05 },
    timeframeMs: 7_200_000,
    source: 'sample',
  };
  /** A run by itself, reading (like the CLI with --from) only its warm-up + 1 bars before tradeFrom. */
  const single = (params: Record<string, unknown>, c = candles, tradeFrom?: number) => {
    if (tradeFrom !== undefined) {
      const from = c.time.indexOf(tradeFrom);
      c = sliceCandles(c, Math.max(0, from - (Number(params.slow) * 3 + 1)));
    }
    const r = runBacktest(strategy, params, c, {
      ...settings,
      ...(tradeFrom !== undefined ? { tradeFrom } : {}),
    });
    return resultJson(r, candleInfo(r, settings.source)).metrics;
  };

  it('stops its workers when asked, failing with "stopped" rather than finishing the grid', async () => {
    const grid = sweepGrid(parseSweep('fast=2..40,slow=50|60|70'));
    const stop = new AbortController();
    let done = 0;
    const run = runSweep(
      'ema-cross',
      candles,
      settings,
      grid.map((params) => ({ params })),
      {
        workers: 2,
        signal: stop.signal,
        onProgress: (d) => {
          done = d;
          if (d === 3) stop.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(/^stopped$/);
    expect(done).toBeLessThan(grid.length);
  });

  it('gives each set the metrics of the same backtest run alone, in grid order, on two workers', async () => {
    const grid = sweepGrid(parseSweep('fast=5..15:5,slow=20|30|10'));
    const outcomes = await runSweep(
      'ema-cross',
      candles,
      settings,
      grid.map((params) => ({ params })),
      { workers: 2 },
    );
    expect(outcomes).toHaveLength(9);
    for (const [i, o] of outcomes.entries()) {
      const params = grid[i]!;
      if (Number(params.fast) >= Number(params.slow)) {
        expect(o).toEqual({ ok: false, params, error: 'ema-cross: fast must be smaller than slow' });
        continue;
      }
      expect(o.ok, JSON.stringify(o)).toBe(true);
      const ok = o as Extract<SweepOutcome, { ok: true }>;
      expect(ok.params).toEqual({ fast: Number(params.fast), slow: Number(params.slow) });
      expect(ok.metrics).toEqual(single(params));
      expect(ok.metrics.trades).toBeGreaterThan(10);
    }
    const ranked = rankOutcomes(outcomes, 'sharpe');
    expect(ranked).toHaveLength(outcomes.filter((o) => o.ok).length);
    for (let k = 1; k < ranked.length; k++)
      expect(ranked[k - 1]!.metrics.sharpe).toBeGreaterThanOrEqual(ranked[k]!.metrics.sharpe);
    const byDrawdown = rankOutcomes(outcomes, 'maxDrawdown');
    expect(byDrawdown[0]!.metrics.maxDrawdown).toBe(Math.min(...ranked.map((r) => r.metrics.maxDrawdown)));
  });

  it('walks forward: the in-sample winner, then that set alone on the bars after', async () => {
    const plan = {
      axes: parseSweep('fast=5|10,slow=30|50'),
      valid: sweepGrid(parseSweep('fast=5|10,slow=30|50')),
      invalid: [],
      warmup: 150,
    };
    const quiet = { update() {}, done() {} };
    const folds = await walkForward({
      strategy,
      plan,
      candles,
      settings,
      rank: 'totalReturn',
      workers: 2,
      progress: quiet,
      folds: 3,
      oosShare: 0.3,
    });
    expect(folds.map((f) => f.fold)).toEqual(walkForwardFolds(candles.length, 3, 0.3));
    for (const f of folds) {
      const { isStart, isEnd, oosEnd } = f.fold;
      // The chosen set is the in-sample best among all four, each run alone.
      const isc = sliceCandles(candles, 0, isEnd);
      const returns = plan.valid.map((p) => single(p, isc, candles.time[isStart]).totalReturn);
      expect(f.inSample.metrics.totalReturn).toBe(Math.max(...returns));
      expect(f.inSample.start).toBe(candles.time[isStart]);
      expect(f.inSample.end).toBe(candles.time[isEnd - 1]! + 7_200_000);
      // Out-of-sample: the same set from the first bar after in-sample to the fold's end, nothing later.
      const oos = 'metrics' in f.outOfSample ? f.outOfSample.metrics : undefined;
      expect(oos).toEqual(single(f.inSample.params, sliceCandles(candles, 0, oosEnd), candles.time[isEnd]));
      expect(oos!.startTime).toBe(candles.time[isEnd]);
      expect(oos!.endTime).toBe(candles.time[oosEnd - 1]! + 7_200_000);
    }
  });
});

describe('npm run backtest -- --sweep', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'backtest', '--data', SAMPLE, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      // A DATA_DIR of its own: single runs are kept in its journal.
      env: { PATH: process.env.PATH, DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-sweep-data-')) },
    });

  it('writes {results:[{params, metrics}]} with metrics exactly as each single run --json writes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-sweep-'));
    const flags = ['--strategy', 'ema-cross', '--from', '2022-01-01', '--fee', '0.0005', '--stop', '3%'];
    const r = run([
      ...flags,
      '--sweep',
      'fast=8|12,slow=26..30:4',
      '--json',
      join(dir, 'sweep.json'),
      '--workers',
      '2',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Sweep of ema-cross: 4 runs in [\d.]+ s, ranked by sharpe/);
    expect(r.stdout).toMatch(/#\s+fast\s+slow\s+trades\s+return\s+CAGR\s+max DD\s+Sharpe\s+PF\s+win/);
    const sweep = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    expect(sweep.results).toHaveLength(4);
    for (const { params, metrics } of sweep.results) {
      const one = run([
        ...flags,
        '--params',
        `fast=${params.fast},slow=${params.slow}`,
        '--json',
        join(dir, 'one.json'),
        '--quiet',
      ]);
      expect(one.status, one.stderr).toBe(0);
      const doc = JSON.parse(readFileSync(join(dir, 'one.json'), 'utf8'));
      expect(params).toEqual(doc.params);
      expect(metrics).toEqual(doc.metrics);
    }
  });

  it('refuses a bad grid, an unknown parameter and a chart in one line', () => {
    for (const [args, msg] of [
      [
        ['--strategy', 'ema-cross', '--sweep', 'fst=5..9'],
        /^error: unknown parameter "fst" for ema-cross \(did you mean fast\?\)/,
      ],
      [
        ['--strategy', 'ema-cross', '--sweep', 'fast=9..5'],
        /^error: sweep "fast=9\.\.5": FROM must not be above TO$/,
      ],
      [
        ['--strategy', 'ema-cross', '--sweep', 'fast=30..40:10'],
        /^error: every set of the sweep is refused, e.g. fast=30: ema-cross: fast must be smaller than slow$/,
      ],
      [
        ['--strategy', 'ema-cross', '--sweep', 'fast=5|9', '--chart', 'x.png'],
        /^error: --chart draws one run/,
      ],
      [
        ['--strategy', 'ema-cross', '--walk-forward', '0'],
        /^error: --walk-forward is "0"; allowed: a number from 1 to 50$/,
      ],
      [
        ['--strategy', 'ema-cross', '--sweep', 'fast=5|9', '--rank', 'luck'],
        /^error: --rank is "luck"; allowed: sharpe, totalReturn/,
      ],
    ] as const) {
      const r = run([...args]);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(msg);
    }
  });

  it('prints in-sample beside out-of-sample for each fold', () => {
    const r = run(['--strategy', 'ema-cross', '--sweep', 'fast=10|20,slow=40|60', '--walk-forward', '3']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /Walk-forward of ema-cross: 3 folds, 70% in-sample \/ 30% out-of-sample each, best of 4 sets by sharpe/,
    );
    const rows = r.stdout.split('\n').filter((l) => /^\s+\d\s+\d{4}-/.test(l));
    expect(rows).toHaveLength(3);
    expect(r.stdout).toMatch(/Mean Sharpe in-sample -?[\d.]+, out-of-sample -?[\d.]+/);
  });
});
