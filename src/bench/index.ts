/**
 * `npm run bench`: speed and memory of the backtest path, each figure beside a baseline measured in
 * the same run (these machines are noisy, so ratios are what to compare across runs).
 *
 * Data: a year of 1m candles (525,600) made by tiling the real March 2023 BTC/USDT 1m sample; each
 * tile is scaled so it opens where the previous one closed, prices rounded to cents like real data.
 *
 * Targets: the whole `npm run backtest` process within 1.5x of the baseline script's whole process;
 * the simulation loop at 5 million candles/s or more; the backtest chart of 1,000 bars with about 100
 * trades in 250 ms or less, warm, and of 50,000 bars in 1 s or less (beside a plain Chart.js line
 * chart of the same size and points, the baseline); the event loop's delay p99 during a full-speed
 * replay through the engine at 100 ms or less (`replay.ts`); the journal's candle step write with
 * 1,000,000 decisions and 100,000 trades stored within 1.5x of the same step on an empty journal, and
 * no event-loop block by the store over 20 ms (`journal.ts`, sizes scaled by `--journal-scale`).
 * Without a target (`rules`): the engine rules' overhead and a portfolio of ten markets in process,
 * and that portfolio over a year of 1h as one whole `backtest --symbols` process against the ten
 * single-market processes (skipped, in one line, when dist/ is not built).
 *
 * Signal latency over the market stream (`stream.ts`): 50 markets on the exchange emulator's streams,
 * from a candle's close to its signal message, p95 at most 250 ms (not under `--quick` alone).
 * Stop latency between closes (`stops.ts`): live, bosun's stops on 50 streamed markets, from the
 * kline that crosses a stop to its sell order reaching the exchange, p95 at most 100 ms (not under
 * `--quick` alone).
 *
 * `--only backtest,sweep,rules,replay,journal,stream,stops` runs those parts alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TechnicalIndicators from 'technicalindicators';
import { runBacktest } from '../backtest/run.js';
import { simulate } from '../backtest/simulate.js';
import { backtestChart } from '../charts/backtest-chart.js';
import { LocalRenderer, loadChartLibraries } from '../charts/render/local.js';
import { numberOption, parseCommandArgs } from '../cli/args.js';
import { badInput } from '../errors.js';
import * as ind from '../indicators/index.js';
import type { BenchRow } from './row.js';
import { journalRows, journalSizes } from './journal.js';
import { replayRows } from './replay.js';
import { smcRows } from './smc.js';
import { portfolioProcessRows, rulesRows } from './rules.js';
import { stopRows } from './stops.js';
import { streamRows } from './stream.js';
import { sweepRows } from './sweep.js';
import { loadCandlesFile } from '../market/load.js';
import { type Candles, sliceCandles } from '../market/types.js';
import { writeFileAtomic } from '../store/atomic.js';
import { loadStrategy } from '../strategy/registry.js';
import { emaBaseline, parseCsvBaseline } from './baseline.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const YEAR_OF_MINUTES = 525_600;

function projectRoot(): string {
  let dir = HERE;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the bench');
    dir = up;
  }
  return dir;
}

type Row = BenchRow;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeIt(runs: number, fn: () => unknown): number {
  fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

function timeProcess(
  runs: number,
  cmd: string,
  args: string[],
  cwd: string,
): { ms: number; maxRssKb?: number } {
  return timeProcesses(runs, [[cmd, args]], cwd);
}

/**
 * The median time of `commands` run one after another, each a whole process, over `runs` rounds
 * after a first one that warms the disk cache; the peak memory of any of them when it reports it.
 */
export function timeProcesses(
  runs: number,
  commands: ReadonlyArray<readonly [cmd: string, args: readonly string[]]>,
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): { ms: number; maxRssKb?: number } {
  const times: number[] = [];
  let rss: number | undefined;
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    for (const [cmd, args] of commands) {
      const r = spawnSync(cmd, args, {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', ...env },
      });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
      const m = /BENCH_MAX_RSS_KB=(\d+)/.exec(r.stderr ?? '');
      if (m) rss = Math.max(rss ?? 0, Number(m[1]));
    }
    const ms = performance.now() - t0;
    if (i > 0) times.push(ms); // the first round warms the disk cache
  }
  return { ms: median(times), ...(rss !== undefined ? { maxRssKb: rss } : {}) };
}

/** A year of 1m candles from the 1m sample, written once under the data directory. */
export function tiledCandlesFile(root: string, dataDir: string, count: number): string {
  const file = join(dataDir, 'cache', 'bench', `BTC-USDT_1m_tiled_${count}.csv`);
  if (existsSync(file)) return file;
  const src = loadCandlesFile(join(root, 'data/samples/binanceus_BTC-USDT_1m_2023-03.csv'));
  const lines: string[] = ['timestamp,open,high,low,close,volume'];
  const start = src.time[0]!;
  let scale = 1;
  let lastClose = src.close[0]!;
  const cents = (v: number) => Math.round(v * 100) / 100;
  for (let i = 0; i < count; i++) {
    const k = i % src.length;
    if (k === 0 && i > 0) scale = lastClose / src.open[0]!;
    const o = cents(src.open[k]! * scale);
    const c = cents(src.close[k]! * scale);
    const h = Math.max(cents(src.high[k]! * scale), o, c);
    const l = Math.min(cents(src.low[k]! * scale), o, c);
    lines.push(`${start + i * 60_000},${o},${h},${l},${c},${src.volume[k]}`);
    lastClose = src.close[k]! * scale;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileAtomic(file, `${lines.join('\n')}\n`);
  return file;
}

/** Parts of the bench `--only` can pick. */
const SECTIONS = ['backtest', 'sweep', 'rules', 'replay', 'journal', 'stream', 'stops'] as const;
type Section = (typeof SECTIONS)[number];

function sectionsOf(text: string | undefined): Set<Section> {
  if (text === undefined) return new Set(SECTIONS);
  const names = text.split(',').map((t) => t.trim());
  const unknown = names.find((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown !== undefined)
    throw badInput(
      `--only: "${unknown}" is not a part of the bench; allowed: ${SECTIONS.join(', ')} (comma-separated)`,
    );
  return new Set(names as Section[]);
}

export async function benchCommand(argv: string[], dataDir = 'data'): Promise<number> {
  const { values: v } = parseCommandArgs('bench', argv, {
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
    candles: { type: 'string' },
    only: { type: 'string' },
    'journal-scale': { type: 'string' },
    verbose: { type: 'boolean' },
  });
  const sections = sectionsOf(v.only);
  const root = projectRoot();
  const count = v.candles ? Math.max(1000, Math.floor(Number(v.candles))) : YEAR_OF_MINUTES;
  const runs = v.quick ? 1 : 5;
  // --quick: a fiftieth of the journal's sizes (20,000 decisions), unless the scale is given.
  const scale = numberOption('journal-scale', v['journal-scale'], 0.001, 10) ?? (v.quick ? 0.02 : 1);
  const rows: Row[] = [];
  let candles: number | undefined;

  if (sections.has('backtest')) {
    const file = tiledCandlesFile(root, resolve(root, dataDir), count);
    const backtest = await backtestRows(root, file, runs);
    candles = backtest.candles;
    rows.push(...backtest.rows);
  }
  if (sections.has('sweep')) rows.push(...(await sweepRows(root, runs, timeItAsync)));
  if (sections.has('rules')) {
    rows.push(...(await rulesRows(root, runs, timeItAsync)));
    rows.push(...portfolioProcessRows(root, runs, timeProcesses));
  }
  if (sections.has('replay')) rows.push(...(await replayRows(root, runs, Boolean(v.quick))));
  if (sections.has('journal')) {
    const sizes = journalSizes(scale);
    const say = v.json ? () => undefined : (line: string) => console.error(`journal bench: ${line}`);
    rows.push(...(await journalRows(root, sizes, say)));
  }
  if (sections.has('stream')) {
    // It waits for real minute closes: run alone (--only stream), or in the full bench, not --quick.
    if (v.quick && v.only === undefined)
      console.error(
        'stream latency: skipped under --quick (it waits for real minute closes); --only stream runs it',
      );
    else rows.push(...(await streamRows(root, Boolean(v.quick))));
  }
  if (sections.has('stops')) {
    // About 15 s of driven market: in the full bench and alone (--only stops), not --quick.
    if (v.quick && v.only === undefined)
      console.error('stop latency: skipped under --quick (about 15 s); --only stops runs it');
    else rows.push(...(await stopRows(root)));
  }

  if (v.json) {
    console.log(JSON.stringify({ candles, runs, journalScale: scale, node: process.version, rows }, null, 2));
  } else {
    printTable(rows, candles, runs);
  }
  return 0;
}

/** The backtest path on `file`: whole processes, loading, simulation, indicators, SMC, charts. */
async function backtestRows(
  root: string,
  file: string,
  runs: number,
): Promise<{ rows: Row[]; candles: number }> {
  const cli = join(HERE, '..', 'cli.js');
  const baselineScript = join(HERE, 'baseline.js');
  const rssHook = join(HERE, 'rss-report.js');
  const rows: Row[] = [];
  // Whole processes.
  const base = timeProcess(runs, process.execPath, ['--import', rssHook, baselineScript, file], root);
  const direct = timeProcess(
    runs,
    process.execPath,
    ['--import', rssHook, cli, 'backtest', '--strategy', 'ema-cross', '--data', file, '--quiet'],
    root,
  );
  const npm = timeProcess(
    runs,
    'npm',
    ['run', '--silent', 'backtest', '--', '--strategy', 'ema-cross', '--data', file, '--quiet'],
    root,
  );
  rows.push({
    name: 'npm run backtest (whole process)',
    value: npm.ms,
    unit: 'ms',
    baseline: base.ms,
    ratio: npm.ms / base.ms,
    target: '<= 1.5x',
    pass: npm.ms / base.ms <= 1.5,
  });
  rows.push({
    name: 'node cli.js backtest (whole process)',
    value: direct.ms,
    unit: 'ms',
    baseline: base.ms,
    ratio: direct.ms / base.ms,
  });
  if (direct.maxRssKb && base.maxRssKb) {
    rows.push({
      name: 'peak memory, backtest process',
      value: direct.maxRssKb / 1024,
      unit: 'MB',
      baseline: base.maxRssKb / 1024,
      ratio: direct.maxRssKb / base.maxRssKb,
    });
  }

  // In-process: loading.
  const text = () => readFileSync(file, 'utf8');
  const baseParse = timeIt(runs, () => parseCsvBaseline(text()));
  const ourLoad = timeIt(runs, () => loadCandlesFile(file));
  rows.push({
    name: 'CSV load',
    value: ourLoad,
    unit: 'ms',
    baseline: baseParse,
    ratio: ourLoad / baseParse,
  });

  // In-process: simulation loop.
  const candles: Candles = loadCandlesFile(file);
  const strategy = await loadStrategy('ema-cross');
  const params = { fast: 12, slow: 26 };
  const ctx = { timeframeMs: 60_000, informative: {} };
  const signalsMs = timeIt(runs, () => strategy.signals(candles, params, ctx));
  const signals = strategy.signals(candles, params, ctx);
  const simOpts = {
    capital: 10_000,
    fee: 0.001,
    slippageBps: 0,
    sizing: { mode: 'all-in' } as const,
    direction: 'long' as const,
    exits: {},
  };
  const simMs = timeIt(runs, () => simulate(candles, signals, simOpts));
  const close = candles.close;
  const baseEmaMs = timeIt(runs, () => emaBaseline(close, 26));
  const perSec = (ms: number) => (candles.length / ms) * 1000;
  rows.push({
    name: 'simulation loop (ema-cross)',
    value: perSec(simMs),
    unit: 'candles/s',
    baseline: perSec(baseEmaMs),
    ratio: simMs / baseEmaMs,
    target: '>= 5M/s',
    pass: perSec(simMs) >= 5e6,
  });
  rows.push({
    name: 'ema-cross signals',
    value: perSec(signalsMs),
    unit: 'candles/s',
    baseline: perSec(baseEmaMs),
    ratio: signalsMs / baseEmaMs,
  });

  // In-process: indicators (values per second), beside the bare EMA loop and technicalindicators' EMA.
  const { high, low, volume } = candles;
  const indicators: Array<[string, () => unknown]> = [
    ['sma(20)', () => ind.sma(close, 20)],
    ['ema(20)', () => ind.ema(close, 20)],
    ['rsi(14)', () => ind.rsi(close, 14)],
    ['macd(12,26,9)', () => ind.macd(close, 12, 26, 9)],
    ['bbands(20,2)', () => ind.bbands(close, 20, 2)],
    ['atr(14)', () => ind.atr(high, low, close, 14)],
    ['adx(14)', () => ind.adx(high, low, close, 14)],
    ['obv', () => ind.obv(close, volume)],
    ['roc(10)', () => ind.roc(close, 10)],
    ['stoch(14,3,3)', () => ind.stoch(high, low, close, 14, 3, 3)],
    ['mfi(14)', () => ind.mfi(high, low, close, volume, 14)],
    ['cci(20)', () => ind.cci(high, low, close, 20)],
    ['willr(14)', () => ind.willr(high, low, close, 14)],
    ['vwap', () => ind.vwap(high, low, close, volume, candles.time)],
  ];
  for (const [name, fn] of indicators) {
    const ms = timeIt(runs, fn);
    rows.push({
      name: `indicator ${name}`,
      value: perSec(ms),
      unit: 'values/s',
      baseline: perSec(baseEmaMs),
      ratio: ms / baseEmaMs,
    });
  }
  // A devDependency, for this comparison only: without it (a production install) the row is skipped.
  const ti = await optionalImport<typeof TechnicalIndicators>('technicalindicators');
  if (ti) {
    const plain = Array.from(close);
    const tiMs = timeIt(Math.min(runs, 3), () => ti.EMA.calculate({ period: 20, values: plain }));
    rows.push({
      name: 'technicalindicators EMA(20), for comparison',
      value: perSec(tiMs),
      unit: 'values/s',
      baseline: perSec(baseEmaMs),
      ratio: tiMs / baseEmaMs,
    });
  } else {
    console.error('bench: technicalindicators is not installed (a devDependency); its EMA row is skipped');
  }

  rows.push(...smcRows(candles, runs, timeIt));
  rows.push(...(await chartRows(candles, runs)));
  return { rows, candles: candles.length };
}

/**
 * The package `name`, or undefined when it is not installed. Any other failure to load it (a broken
 * install, a missing dependency of its own) is thrown.
 */
export async function optionalImport<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(`'${name}'`)) return undefined;
    throw err;
  }
}

async function timeItAsync(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up: fonts, modules, JIT
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Backtest charts (spec + render + PNG encoding, warm) at 1280x720: 1,000 bars with about 100 trades,
 * and 50,000 bars; each beside a plain Chart.js line chart of the same size and number of points.
 */
async function chartRows(candles: Candles, runs: number): Promise<Row[]> {
  const renderer = new LocalRenderer();
  const { Chart, createCanvas } = await loadChartLibraries();
  const strategy = await loadStrategy('ema-cross');
  const plainLine = async (c: Candles) => {
    const canvas = createCanvas(1280, 720);
    const data = Array.from({ length: c.length }, (_, i) => ({ x: c.time[i]!, y: c.close[i]! }));
    const chart = new Chart(canvas.getContext('2d') as never, {
      type: 'line',
      data: { datasets: [{ label: 'close', data, pointRadius: 0, borderWidth: 1 }] },
      options: {
        animation: false,
        responsive: false,
        parsing: false,
        normalized: true,
        scales: { x: { type: 'linear' } },
      },
    });
    const png = await canvas.encode('png');
    chart.destroy();
    return png;
  };
  const rows: Row[] = [];
  const cases: Array<[Candles, Record<string, number>, number]> = [
    [sliceCandles(candles, 0, 1000), { fast: 2, slow: 5 }, 250],
    [sliceCandles(candles, 0, Math.min(50_000, candles.length)), {}, 1000],
  ];
  for (const [c, params, targetMs] of cases) {
    const label = `${c.length.toLocaleString('en-US')} bars`;
    const result = runBacktest(strategy, params, c, { timeframeMs: 60_000 });
    const ms = await timeItAsync(runs, () => renderer.render(backtestChart({ result, symbol: 'BTC/USDT' })));
    const base = await timeItAsync(runs, () => plainLine(c));
    rows.push({
      name: `backtest chart, ${label}, ${result.metrics.trades} trades`,
      value: ms,
      unit: 'ms',
      baseline: base,
      ratio: ms / base,
      target: `<= ${targetMs} ms`,
      pass: ms <= targetMs,
    });
  }
  return rows;
}

function fmt(value: number, unit: string): string {
  if (unit.endsWith('/s')) {
    if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
    if (value < 1e4) return value.toFixed(0);
    return `${(value / 1e3).toFixed(0)}k`;
  }
  if (unit === 'MB') return value.toFixed(value < 10 ? 2 : 0);
  return value.toFixed(1);
}

function printTable(rows: Row[], candles: number | undefined, runs: number): void {
  const data = candles === undefined ? '' : `${candles.toLocaleString('en-US')} 1m candles, `;
  console.log(`bosun bench: ${data}median of ${runs} run(s), ${process.version}`);
  console.log('ratio = bosun time / baseline time (lower is better)\n');
  const header = ['measure', 'bosun', 'baseline', 'unit', 'ratio', 'target'];
  const table = rows.map((r) => [
    r.name,
    fmt(r.value, r.unit),
    r.baseline === undefined ? '' : fmt(r.baseline, r.unit),
    r.unit,
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
    r.target ? `${r.target} ${r.pass ? 'ok' : 'MISSED'}` : '',
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
}
