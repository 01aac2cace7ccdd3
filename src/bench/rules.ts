/**
 * The engine rules' overhead: a year of the bundled 2h candles (4,380) backtested with ema-cross
 * under the engine's rules (the engine's per-candle step on a paper account in memory, the risk
 * manager, the regime read from the candles) against the plain backtest of the same candles; and a
 * portfolio of ten such markets on one account against the ten backtested one by one, in process
 * and, over a year of 1h, as whole `bosun backtest` processes.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBacktest } from '../backtest/run.js';
import { loadConfig } from '../config.js';
import { engineBacktest, portfolioBacktest } from '../engine/backtest.js';
import { createLogger } from '../logger.js';
import { loadCandlesFile } from '../market/load.js';
import { allocCandles, type Candles, scaledCandles, sliceCandles } from '../market/types.js';
import { loadStrategy } from '../strategy/registry.js';
import type { BenchRow } from './row.js';

const YEAR_OF_2H = 4380;
const YEAR_OF_1H = 8760;
const HOUR = 3_600_000;

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
  return scaledCandles(c, (i) => 1 + 0.15 * Math.sin(i / (30 + 7 * k) + k));
}

/** What `timeProcesses` in index.ts does: commands run one after another, timed as a whole. */
export type TimeProcesses = (
  runs: number,
  commands: ReadonlyArray<readonly [cmd: string, args: readonly string[]]>,
  cwd: string,
  env?: Readonly<Record<string, string>>,
) => { ms: number };

/**
 * A portfolio of ten markets x a year of 1h as the trader runs it: one whole process,
 * `node dist/src/cli.js backtest --symbols ... --rules engine --data f1,...,f10 --quiet`, against
 * the ten `backtest --symbol X --rules engine --data fX --quiet` processes run one after another
 * (each starts Node, loads its modules and its file, and keeps its backtest in the journal). The
 * candles are CSV files in a temporary directory, which also holds the journal the runs are kept
 * in (DATA_DIR), so the bench leaves nothing behind. Skipped, in one line, without dist/.
 */
export function portfolioProcessRows(root: string, runs: number, timeProcesses: TimeProcesses): BenchRow[] {
  const cli = join(root, 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) {
    console.error('bench: dist/ is not built (npm run build); the whole-process portfolio row is skipped');
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-portfolio-'));
  try {
    const year = yearOf1h(root);
    const symbols = Array.from({ length: 10 }, (_, k) => `M${k}/USDT`);
    const files = symbols.map((s, k) =>
      writeCsv(join(dir, `bench_${s.replace('/', '-')}_1h.csv`), swung(year, k)),
    );
    const backtest = [cli, 'backtest', '--strategy', 'ema-cross', '--rules', 'engine', '--quiet'];
    const env = { DATA_DIR: dir };
    const n = Math.min(runs, 3);
    const portfolio = timeProcesses(
      n,
      [[process.execPath, [...backtest, '--symbols', symbols.join(','), '--data', files.join(',')]]],
      root,
      env,
    );
    const singles = timeProcesses(
      n,
      symbols.map((s, k) => [process.execPath, [...backtest, '--symbol', s, '--data', files[k]!]] as const),
      root,
      env,
    );
    return [
      {
        name: `portfolio of 10 markets x a year of 1h, engine rules, whole process (vs 10 single-market processes in a row)`,
        value: portfolio.ms,
        unit: 'ms',
        baseline: singles.ms,
        ratio: portfolio.ms / singles.ms,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A year of 1h candles: the last 8,760 bars of the bundled 2h sample, one hour apart (a real path,
 * walked twice as fast), from 2024-01-01 UTC.
 */
function yearOf1h(root: string): Candles {
  const all = loadCandlesFile(join(root, 'data', 'samples', 'binance_BTC-USDT_2h.csv'));
  const c = sliceCandles(all, all.length - YEAR_OF_1H, all.length);
  const start = Date.UTC(2024, 0, 1);
  const out = allocCandles(c.length);
  for (let i = 0; i < c.length; i++) {
    out.time[i] = start + i * HOUR;
    out.open[i] = c.open[i]!;
    out.high[i] = c.high[i]!;
    out.low[i] = c.low[i]!;
    out.close[i] = c.close[i]!;
    out.volume[i] = c.volume[i]!;
  }
  return out;
}

/** Candles as the CSV bosun loads (`timestamp,open,high,low,close,volume`), prices to the cent. */
function writeCsv(file: string, c: Candles): string {
  const cents = (v: number) => Math.round(v * 100) / 100;
  const lines = ['timestamp,open,high,low,close,volume'];
  for (let i = 0; i < c.length; i++)
    lines.push(
      `${c.time[i]},${cents(c.open[i]!)},${cents(c.high[i]!)},${cents(c.low[i]!)},${cents(c.close[i]!)},${c.volume[i]}`,
    );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
