/**
 * The command line end to end: the compiled `bosun` run as a child process, as a person would run it.
 * (`npm test` builds first; a missing build is made here.)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromCsv, ExchangeEmulator } from './emulators/exchange/server.js';
import { QuickChartStub } from './emulators/quickchart/server.js';
import { ROOT, SAMPLES } from './helpers/fixtures.js';
import { journalIntegrity } from './helpers/journal.js';
import { twoMarkets, writeCandles } from './helpers/markets.js';
import { pixelStats, pngSize } from './helpers/png.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const SAMPLE = 'data/samples/binance_BTC-USDT_2h.csv';

/**
 * The environment without any bosun settings from the machine running the tests, and a DATA_DIR of
 * its own (backtests are kept in its journal).
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-cli-data-')),
  };
  return { ...env, ...extra };
}

function run(args: string[], extraEnv: Record<string, string> = {}, cwd = ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: cleanEnv(extraEnv) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A bad input: exit code 2 and exactly one line on stderr, with no stack trace. */
function expectOneLineError(r: ReturnType<typeof run>, pattern: RegExp | string): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
  if (typeof pattern === 'string') expect(lines[0]).toBe(`error: ${pattern}`);
  else expect(lines[0]).toMatch(pattern);
}

/** Run the CLI without blocking this process (for stand-ins that live in it). */
function runAsync(args: string[], extraEnv: Record<string, string> = {}): Promise<ReturnType<typeof run>> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: cleanEnv(extraEnv) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-cli-'));

/** Run a backtest of the sample with `args` (a space-separated string) and return its --json document. */
function backtestJson(args: string) {
  const out = join(mkdtempSync(join(tmpdir(), 'bosun-cli-')), 'out.json');
  const r = run(['backtest', '--data', SAMPLE, ...args.split(' '), '--json', out, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toBe('');
  return JSON.parse(readFileSync(out, 'utf8'));
}

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
}, 120_000);

describe('npm run backtest', () => {
  it('prints a readable summary of the sample backtest', () => {
    const r = run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE]);
    expect(r.code, r.stderr).toBe(0);
    for (const label of [
      'Strategy',
      'Total return',
      'Buy and hold',
      'CAGR',
      'Max drawdown',
      'Trades',
      'Profit factor',
      'Sharpe / Sortino',
      'Exposure',
    ]) {
      expect(r.stdout).toContain(label);
    }
    expect(r.stdout).toMatch(/ema-cross \(fast=12 slow=26\)/);
    expect(r.stdout).toMatch(/35,123 candles/);
  });

  it('says which span it ran on when --from is before the data starts', () => {
    // The 2h sample starts 2017-08-17 04:00.
    const r = run([
      'backtest',
      '--strategy',
      'ema-cross',
      '--data',
      SAMPLE,
      '--from',
      '2017-01-01',
      '--to',
      '2018-01-01',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /Asked for 2017-01-01 \.\. 2018-01-01; the data covers [\d.]+d \(2017-08-1\d \.\. 2018-01-01\): every figure is over that span\./,
    );
  });

  it("backtests under the engine rules with --rules engine, and refuses the plain rules' options with it", () => {
    const file = 'data/samples/binanceus_BTC-USDT_1m_2023-03.csv';
    const r = run([
      'backtest',
      '--strategy',
      'momentum',
      '--data',
      file,
      '--timeframe',
      '15m',
      '--rules',
      'engine',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Settings\s+capital 10,000.00, fee 0.1%, slippage 0 bps, the engine rules/);
    expect(r.stdout).toMatch(/Rules\s+risk 1% over the stop/);
    expect(r.stdout).toMatch(/Refused\s+\d+ of \d+ entry signals: regime RISK_OFF \(\d+\)/);
    const bad = run([
      'backtest',
      '--strategy',
      'momentum',
      '--data',
      file,
      '--rules',
      'engine',
      '--sizing',
      'all-in',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--sizing is for the plain rules; --rules engine trades as the engine does/);
  });

  it('keeps every backtest: listed, shown again with its chart as drawn, compared on one chart', async () => {
    const dataDir = tmp();
    const env = { DATA_DIR: dataDir };
    const first = join(dataDir, 'first.png');
    const a = run(
      ['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--from', '2025-01-01', '--chart', first],
      env,
    );
    expect(a.code, a.stderr).toBe(0);
    const idA = /Kept as (B\w{5}): npm run backtests -- show \1/.exec(a.stdout)?.[1];
    expect(idA).toBeDefined();
    const b = run(
      ['backtest', '--strategy', 'momentum', '--data', SAMPLE, '--from', '2025-01-01', '--rules', 'engine'],
      env,
    );
    const idB = /Kept as (B\w{5})/.exec(b.stdout)?.[1];
    expect(idB).toBeDefined();

    const list = run(['backtests'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(
      new RegExp(`^${idB}  momentum \\(engine rules\\) BTC/USDT 2h, 2025-01-01 \\.\\.`),
    );
    expect(list.stdout.split('\n')[1]).toMatch(new RegExp(`^${idA}  ema-cross BTC/USDT 2h, `));

    const again = join(dataDir, 'again.png');
    const show = run(['backtests', 'show', idA!.toLowerCase(), '--chart', again], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`Kept\\s+${idA}, run by cli on `));
    // The summary as it was printed when it ran.
    const rowsOf = (out: string) =>
      out.split('\n').filter((l) => /^(Total return|Trades|Max drawdown) /.test(l));
    expect(rowsOf(show.stdout)).toEqual(rowsOf(a.stdout));
    expect(readFileSync(again).equals(readFileSync(first))).toBe(true);

    const both = join(dataDir, 'both.png');
    const cmp = run(['backtests', 'compare', idA!, idB!, '--chart', both], env);
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toMatch(new RegExp(`^\\s+${idA}\\s+${idB}`));
    expect(cmp.stdout).toMatch(/Rules\s+plain\s+engine/);
    expect(pngSize(readFileSync(both))).toEqual({ width: 1280, height: 720 });

    // A run that drew no chart: its kept equity curve is drawn.
    const curve = join(dataDir, 'curve.png');
    const engineShow = run(['backtests', 'show', idB!, '--chart', curve], env);
    expect(engineShow.code, engineShow.stderr).toBe(0);
    expect(engineShow.stdout).toContain(`Wrote chart ${curve} (its equity curve: the run drew no chart)`);
    expect(pngSize(readFileSync(curve))).toEqual({ width: 1280, height: 720 });

    expectOneLineError(run(['backtests', 'show', 'BZZZZZ'], env), /no kept backtest BZZZZZ; the latest: /);
    expectOneLineError(
      run(['backtests', 'compare', idA!, idA!.toLowerCase()], env),
      `${idA}, ${idA}: give different backtests to compare`,
    );
    expectOneLineError(
      run(['backtests', 'delete'], env),
      'backtests: "delete" is not an action; allowed: list, show, compare',
    );
  });

  it('breaks a backtest down by exit reason and month, and writes every trade with --trades-csv', () => {
    const dir = tmp();
    const csv = join(dir, 'trades.csv');
    const json = join(dir, 'bt.json');
    const r = run([
      'backtest',
      '--strategy',
      'rsi-reversion',
      '--data',
      SAMPLE,
      '--from',
      '2025-01-01',
      '--trades-csv',
      csv,
      '--json',
      json,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Buy and hold\s+[+-][\d.]+% \(max drawdown -[\d.]+%, Sharpe -?\d+\.\d\d\)/);
    expect(r.stdout).toMatch(/By exit reason:\n\s+trades\s+win\s+PnL\n/);
    expect(r.stdout).toMatch(/By month \(of the exit\):\n[\s\S]*\n\s+2025-01\s+\d+/);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(
      'side,entry_time,entry_ms,entry_price,exit_time,exit_ms,exit_price,quantity,pnl,return,fees,exit_reason,bars,mae,mfe',
    );
    expect(lines).toHaveLength(doc.trades.length + 1);
    expect(r.stdout).toContain(`Wrote ${doc.trades.length} trades to ${csv}`);
    // The CSV's trades are the JSON's, with the same MAE and MFE; the breakdowns add up to the totals.
    const first = lines[1]!.split(',');
    expect(Number(first[8])).toBe(doc.trades[0].pnl);
    expect(Number(first[13])).toBe(doc.trades[0].mae);
    for (const t of doc.trades) expect(t.mae).toBeLessThanOrEqual(0);
    const byReason = doc.breakdowns.exitReason as Array<{ trades: number; pnl: number }>;
    expect(byReason.reduce((a, b) => a + b.trades, 0)).toBe(doc.metrics.trades);
    const pnl = doc.trades.reduce((a: number, t: { pnl: number }) => a + t.pnl, 0);
    expect(byReason.reduce((a, b) => a + b.pnl, 0)).toBeCloseTo(pnl, 6);
    expect(doc.benchmark.buyAndHold.totalReturn).toBeCloseTo(doc.metrics.buyAndHoldReturn, 12);
    // The equity curve: 2,850 bars thinned to every 2nd close, ending at the final equity.
    expect(doc.equity.length).toBeLessThanOrEqual(2001);
    expect(doc.equity.at(-1)).toEqual([doc.metrics.endTime, doc.metrics.finalEquity]);
  });

  it('backtests several markets on one account with --symbols and --rules engine, by market', () => {
    const dir = tmp();
    const { btc, eth } = twoMarkets();
    const files = [
      writeCandles(join(dir, 'binance_BTC-USDT_2h.csv'), btc),
      writeCandles(join(dir, 'binance_ETH-USDT_2h.csv'), eth),
    ].join(',');
    const json = join(dir, 'pf.json');
    const env = { DATA_DIR: dir };
    const r = run(
      [
        'backtest',
        '--strategy',
        'ema-cross',
        '--symbols',
        'BTC/USDT,ETH/USDT',
        '--data',
        files,
        '--rules',
        'engine',
        '--json',
        json,
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Portfolio\s+BTC\/USDT, ETH\/USDT on one account, a run of ema-cross on each/);
    expect(r.stdout).toMatch(/Buy and hold\s+.*\(an equal-weight basket\)/);
    expect(r.stdout).toMatch(/By market:\n[\s\S]*BTC\/USDT\s+\d+[\s\S]*ETH\/USDT\s+\d+/);
    // Binance BTC/USDT has rules bundled with the samples; ETH/USDT none (fills unrounded).
    expect(r.stdout).toMatch(
      /Exchange\s+rules of BTC\/USDT \(binance, bundled\); none known for ETH\/USDT \(fills not rounded\)\n/,
    );
    const id = /Kept as (B\w{5})/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    // Shown again: the same summary and the same trades by market.
    const shown = run(['backtests', '--show', id!], env);
    expect(shown.code, shown.stderr).toBe(0);
    const marketTable = (out: string) => out.slice(out.indexOf('By market:')).trim();
    expect(marketTable(shown.stdout)).toBe(
      marketTable(r.stdout.slice(0, r.stdout.indexOf('\nBy exit reason'))),
    );
    // Beside a plain backtest of BTC/USDT with limit entries: how each ran is in the comparison.
    const plain = run(
      [
        'backtest',
        '--strategy',
        'ema-cross',
        '--data',
        files.split(',')[0]!,
        '--entry',
        'limit:0.2%:3',
        '--maker',
        '0.02%',
      ],
      env,
    );
    const other = /Kept as (B\w{5})/.exec(plain.stdout)?.[1];
    const compared = run(['backtests', '--compare', id!, other!], env);
    expect(compared.code, compared.stderr).toBe(0);
    const line = (label: string) =>
      compared.stdout
        .split('\n')
        .find((l) => l.startsWith(label))
        ?.split(/\s{2,}/);
    expect(line('Entries')).toEqual(['Entries', 'market', 'limit 0.2%, 3 bars']);
    expect(line('Costs')).toEqual(['Costs', 'fee 0.1%, 0 bps', 'fee 0.1% (maker 0.02%), 0 bps']);
    expect(line('Exchange')).toEqual(['Exchange', 'per market', 'binance, bundled']);
    expect(line('Sizing')).toEqual(['Sizing', 'engine rules', 'all-in']);
    // Several strategies: each a run on the market, on one account, broken down by run.
    const both = run(
      [
        'backtest',
        '--strategy',
        'ema-cross,rsi-reversion',
        '--data',
        files.split(',')[0]!,
        '--rules',
        'engine',
      ],
      env,
    );
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/^Portfolio\s+ema-cross BTC\/USDT, rsi-reversion BTC\/USDT on one account\n/);
    expect(both.stdout).toMatch(/Strategy\s+ema-cross \+ rsi-reversion\n/);
    expect(both.stdout).toMatch(
      /By run:\n[\s\S]*ema-cross BTC\/USDT\s+\d+[\s\S]*rsi-reversion BTC\/USDT\s+\d+/,
    );
    expect(both.stdout).not.toMatch(/By market:/);
    expectOneLineError(
      run(['backtest', '--strategy', 'ema-cross,rsi-reversion', '--data', files.split(',')[0]!], env),
      'several strategies backtest several runs on one account under the engine rules (its cross-run limits): add --rules engine',
    );
    expectOneLineError(
      run(
        [
          'backtest',
          '--strategy',
          'ema-cross,rsi-reversion',
          '--data',
          files.split(',')[0]!,
          '--rules',
          'engine',
          '--params',
          'fast=9',
        ],
        env,
      ),
      'several strategies run with their own defaults; drop --params, or backtest one strategy with its parameters',
    );
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.markets).toEqual(['BTC/USDT', 'ETH/USDT']);
    expect(doc.settings.exchangeRules).toBeNull();
    // Each trade names its market, and its MAE/MFE are measured on that market's own candles.
    const candlesOf = { 'BTC/USDT': btc, 'ETH/USDT': eth } as const;
    for (const symbol of ['BTC/USDT', 'ETH/USDT'] as const) {
      const t = doc.trades.find((x: { symbol: string }) => x.symbol === symbol);
      expect(t, symbol).toBeDefined();
      const c = candlesOf[symbol];
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < c.length; i++)
        if (c.time[i]! >= t.entryTime && c.time[i]! <= t.exitTime) {
          lo = Math.min(lo, c.low[i]!);
          hi = Math.max(hi, c.high[i]!);
        }
      expect(t.mae).toBeCloseTo(Math.min(0, lo / t.entryPrice - 1), 12);
      expect(t.mfe).toBeCloseTo(Math.max(0, hi / t.entryPrice - 1), 12);
    }
    const byMarket = doc.byMarket as Array<{ trades: number; pnl: number }>;
    expect(byMarket.reduce((a, m) => a + m.trades, 0)).toBe(doc.metrics.trades);
    expect(doc.metrics.finalEquity).toBeCloseTo(10_000 + byMarket.reduce((a, m) => a + m.pnl, 0), 6);
    expectOneLineError(
      run(['backtest', '--strategy', 'ema-cross', '--symbols', 'BTC/USDT,ETH/USDT', '--data', files], env),
      '--symbols backtests several markets on one account under the engine rules (its cross-run limits): add --rules engine',
    );
    expectOneLineError(
      run(
        [
          'backtest',
          '--strategy',
          'ema-cross',
          '--symbols',
          'BTC/USDT,ETH/USDT',
          '--data',
          files.split(',')[0]!,
          '--rules',
          'engine',
        ],
        env,
      ),
      '--symbols names 2 markets and --data 1 files; give one file per market, in the same order',
    );
  });

  it('writes the documented JSON with --json', () => {
    const doc = backtestJson('--strategy ema-cross --params fast=9,slow=21 --fee 0.00075 --capital 5000');
    expect(Object.keys(doc)).toEqual(
      expect.arrayContaining(['strategy', 'params', 'candles', 'metrics', 'trades']),
    );
    expect(doc.strategy).toBe('ema-cross');
    expect(doc.params).toEqual({ fast: 9, slow: 21 });
    expect(doc.settings).toMatchObject({ capital: 5000, fee: 0.00075 });
    expect(doc.metrics.trades).toBe(doc.trades.length);
    const t = doc.trades[0];
    expect(Object.keys(t)).toEqual(
      expect.arrayContaining([
        'side',
        'entryTime',
        'entryPrice',
        'exitTime',
        'exitPrice',
        'quantity',
        'pnl',
        'exitReason',
      ]),
    );
    expect(t.entryTime).toBeGreaterThan(1_500_000_000_000); // epoch ms
    const sum = doc.trades.reduce((s: number, x: { pnl: number }) => s + x.pnl, 0);
    expect(5000 + sum).toBeCloseTo(doc.metrics.finalEquity, 6);
  });

  it('resamples file data to a multiple of its timeframe with --timeframe', () => {
    const doc = backtestJson('--strategy ema-cross --timeframe 1d');
    expect(doc.candles.timeframe).toBe('1d');
    expect(doc.candles.count).toBeGreaterThan(2900);
  });

  it('trades only from --from, warming the indicators on the bars before it', () => {
    const doc = backtestJson('--strategy ma-trend --from 2022-01-01 --to 2023-01-01');
    expect(doc.metrics.startTime).toBe(Date.UTC(2022, 0, 1));
    expect(doc.metrics.endTime).toBe(Date.UTC(2023, 0, 1));
    expect(doc.trades.every((t: { entryTime: number }) => t.entryTime >= Date.UTC(2022, 0, 1))).toBe(true);
  });

  it('accepts exits, sizing and direction options', () => {
    const doc = backtestJson(
      '--strategy ema-cross --direction both --sizing risk:0.01 --stop 2% --take-profit 1.5%:30%,3%:40%,5%:30% --trailing 2%:1% --max-bars 48 --slippage 5',
    );
    expect(doc.settings.exits).toEqual({
      stopLoss: 0.02,
      takeProfit: [
        { at: 0.015, close: 0.3 },
        { at: 0.03, close: 0.4 },
        { at: 0.05, close: 0.3 },
      ],
      trailing: { activation: 0.02, offset: 0.01 },
      maxBars: 48,
    });
    const reasons = new Set(doc.trades.map((t: { exitReason: string }) => t.exitReason));
    expect([...reasons]).toEqual(expect.arrayContaining(['stop', 'take-profit', 'trailing-stop']));
    expect(doc.trades.some((t: { side: string }) => t.side === 'short')).toBe(true);
  });

  describe('bad input: one clear line, exit code 2, no stack trace', () => {
    it('a missing file', () =>
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', 'nope.csv']),
        'nope.csv: no such file',
      ));

    it('a malformed row, with file:line', () => {
      const file = join(mkdtempSync(join(tmpdir(), 'bosun-cli-')), 'bad.csv');
      writeFileSync(
        file,
        'timestamp,open,high,low,close,volume\n1700000000000,1,2,0.5,1.5,3\n1700000060000,1,2,0.5,abc,3\n',
      );
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', file]),
        `${file}:3: close is "abc", expected a number`,
      );
    });

    it('an unknown strategy', () =>
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cros', '--data', SAMPLE]),
        /^error: unknown strategy "ema-cros" \(did you mean ema-cross\?\); available: bb-breakout, ema-cross/,
      ));

    it('an unknown parameter', () =>
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--params', 'fats=9']),
        'unknown parameter "fats" for ema-cross (did you mean fast?); allowed: fast, slow',
      ));

    it('a parameter out of bounds', () =>
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--params', 'fast=1']),
        'ema-cross: fast is 1; allowed: a whole number from 2 to 500',
      ));

    it('a timeframe the data cannot serve', () =>
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--timeframe', '1h']),
        `${SAMPLE} holds 2h candles, which cannot serve 1h; allowed: 2h or a multiple of it`,
      ));

    it('too little data for the warm-up', () =>
      expectOneLineError(
        run([
          'backtest',
          '--strategy',
          'ma-trend',
          '--data',
          'data/samples/binance_BTC-USDT_1d.csv',
          '--to',
          '2017-10-01',
        ]),
        'the data has 45 candles; ma-trend with these parameters needs more than 125 (its warm-up)',
      ));

    it('an unknown option, a bad number, a missing strategy, a bad sizing', () => {
      expectOneLineError(
        run(['backtest', '--stategy', 'ema-cross']),
        /^error: backtest: unknown option --stategy \(did you mean --strategy\?\); allowed: --strategy/,
      );
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--fee', '2']),
        '--fee is "2"; allowed: a number from 0 to 0.1',
      );
      expectOneLineError(
        run(['backtest', '--data', SAMPLE]),
        /^error: backtest: --strategy is required; allowed: bb-breakout, ema-cross/,
      );
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--sizing', 'yolo']),
        /^error: sizing "yolo" is not valid; allowed: all-in/,
      );
      expectOneLineError(
        run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--sizing', 'risk:0.01']),
        /^error: risk sizing needs a stop-loss/,
      );
      expectOneLineError(
        run(['frobnicate']),
        'unknown command "frobnicate"; allowed: backtest, backtests, download, chart, strategies, bench, export, discord:deploy',
      );
    });

    it('a bad setting stops start-up, naming the key', () =>
      expectOneLineError(
        run(['strategies'], { LOG_LEVEL: 'loud' }),
        'LOG_LEVEL is "loud"; allowed: one of trace, debug, info, warn, error, fatal, silent',
      ));

    it('shows the stack trace with --verbose', () => {
      const r = run(['backtest', '--strategy', 'ema-cross', '--data', 'nope.csv', '--verbose']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\n\s+at .+:\d+:\d+/);
    });
  });
});

describe('npm run strategies', () => {
  it('lists every strategy with its parameters, defaults and bounds', () => {
    const r = run(['strategies']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ema-cross {2}\(1h\)/m);
    expect(r.stdout).toMatch(/fast = 12 +fast EMA period; a whole number from 2 to 500/);
    const list = JSON.parse(run(['strategies', '--json']).stdout);
    expect(list.map((s: { name: string }) => s.name)).toEqual([
      'bb-breakout',
      'ema-cross',
      'ict-confluence',
      'ma-accumulation',
      'ma-trend',
      'macd-momentum',
      'momentum',
      'rsi-reversion',
    ]);
  });
});

describe('downloading through the exchange emulator', () => {
  let emu: ExchangeEmulator;
  const dataDir = mkdtempSync(join(tmpdir(), 'bosun-cli-data-'));
  beforeAll(async () => {
    const candles = candlesFromCsv(readFileSync(`${SAMPLES}binance_BTC-USDT_2h.csv`, 'utf8')).slice(-3000);
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles, intervalMs: 7_200_000 }]).start();
  });
  afterAll(() => emu.stop());

  const env = () => ({ EXCHANGE_API_URL: emu.url, DATA_DIR: dataDir });

  it('downloads, caches, and serves the second request from the cache', async () => {
    const args = [
      'download',
      '--symbol',
      'BTC/USDT',
      '--timeframe',
      '4h',
      '--from',
      '2025-06-01',
      '--to',
      '2025-07-01',
    ];
    const first = await runAsync(args, env());
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /^binance BTC\/USDT 4h \(\d+ fetched\): 180 candles, 2025-06-01T00:00:00Z \.\. 2025-06-30T20:00:00Z; no gaps/,
    );
    const requests = emu.calls('/api/v3/klines').length;
    const second = await runAsync(args, env());
    expect(second.stdout).toMatch(/\(from cache\): 180 candles/);
    expect(emu.calls('/api/v3/klines').length).toBe(requests);
  });

  it('backtests downloaded candles in one command', async () => {
    const args =
      'backtest --strategy ema-cross --exchange binance --symbol BTC/USDT --timeframe 2h --from 2025-07-01 --to 2025-08-01';
    const r = await runAsync(args.split(' '), env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/BTC\/USDT 2h, 372 candles, 2025-07-01T00:00:00Z/);
  });

  it('draws a market chart from exchange candles', async () => {
    const file = join(tmp(), 'exchange-chart.png');
    const args = `chart --exchange binance --symbol BTC/USDT --timeframe 4h --from 2025-07-01 --indicators ema20,rsi --out ${file}`;
    const r = await runAsync(args.split(' '), env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Wrote chart ${file} (BTC/USDT 4h, last 120 bars)\n`);
    expect(pngSize(readFileSync(file))).toEqual({ width: 1280, height: 720 });
  });

  it('refuses a symbol the exchange does not list', async () => {
    const r = await runAsync(
      'download --symbol NOPE/USDT --timeframe 1h --from 2025-07-01'.split(' '),
      env(),
    );
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'error: symbol NOPE/USDT is not listed on binance; allowed: a market like BTC/USDT',
    );
  });
});

describe('charts from the command line', () => {
  it('backtest --chart writes the backtest chart as a 1280x720 PNG', async () => {
    const file = join(tmp(), 'bt.png');
    const r = run([
      'backtest',
      '--strategy',
      'ema-cross',
      '--data',
      SAMPLE,
      '--from',
      '2025-01-01',
      '--chart',
      file,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Wrote chart ${file}`);
    const png = readFileSync(file);
    expect(pngSize(png)).toEqual({ width: 1280, height: 720 });
    expect((await pixelStats(png, '#131722')).share).toBeGreaterThan(0.03);
  });

  it('npm run chart draws a market chart with indicators, in the size and theme asked', async () => {
    const file = join(tmp(), 'market.png');
    const args = `chart --data ${SAMPLE} --symbol BTC/USDT --timeframe 1d --indicators ema20,bb,rsi,macd --theme light --width 900 --height 900 --out ${file}`;
    const r = run(args.split(' '));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`Wrote chart ${file} (BTC/USDT 1d, last 120 bars)\n`);
    const png = readFileSync(file);
    expect(pngSize(png)).toEqual({ width: 900, height: 900 });
    expect((await pixelStats(png, '#ffffff')).at(1, 899)).toBe('#ffffff');
  });

  it('answers a bad indicator, theme, file name or renderer in one line', () => {
    expectOneLineError(
      run(['chart', '--data', SAMPLE, '--indicators', 'ema20,ichimoku']),
      /^error: unknown indicator "ichimoku"; allowed: ema<N>/,
    );
    expectOneLineError(
      run(['chart', '--data', SAMPLE, '--theme', 'neon']),
      '--theme is "neon"; allowed: dark, light',
    );
    expectOneLineError(
      run(['backtest', '--strategy', 'ema-cross', '--data', SAMPLE, '--chart', 'out.jpg']),
      'chart file "out.jpg" must end in .png',
    );
    expectOneLineError(
      run(['chart', '--data', SAMPLE], { CHART_RENDERER: 'svg' }),
      'CHART_RENDERER is "svg"; allowed: one of local (drawn here, no network), quickchart (a QuickChart server)',
    );
  });

  describe('with CHART_RENDERER=quickchart', () => {
    const stub = new QuickChartStub();
    beforeAll(() => stub.start());
    afterAll(() => stub.stop());

    it('sends the panels to the QuickChart server at QUICKCHART_URL and writes the stacked image', async () => {
      const file = join(tmp(), 'qc.png');
      const args = `backtest --strategy ema-cross --data ${SAMPLE} --from 2025-06-01 --chart ${file} --quiet`;
      const r = await runAsync(args.split(' '), { CHART_RENDERER: 'quickchart', QUICKCHART_URL: stub.url });
      expect(r.code, r.stderr).toBe(0);
      expect(stub.requests.length).toBe(3);
      expect(pngSize(readFileSync(file))).toEqual({ width: 1280, height: 720 });
    });
  });
});

describe('npm start with nothing configured', () => {
  it('serves the console chat on the bundled data, saves images, presses numbered buttons, and exits at the end of input', () => {
    const dataDir = tmp();
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: cleanEnv({ DATA_DIR: dataDir, MARKET_DATA: 'samples' }),
      input: '/help\nbacktest ema-cross BTC/USDT 4h 1y\n1\n1\n/chart BTC/USDT 4h ema20 extra\n9\n',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('bosun console chat. Type /help for the commands, Ctrl-D to quit.');
    expect(out).toContain(
      '/backtest STRATEGY SYMBOL TIMEFRAME [PERIOD] [sweep=VALUE] [rank=VALUE] [rules=plain|engine] [entry=VALUE] [param=value ...]',
    );
    expect(out).toContain('you are an admin');
    expect(out).toMatch(/Backtest ema-cross BTC\/USDT 4h 1y: \[#{10}\] 100% done/);
    expect(out).toMatch(/Total return\s+[+-]\d+\.\d\d%/);
    const images = [...out.matchAll(/^\[image\] [^:]+: (.+\.png)$/gm)].map((m) => m[1]!);
    expect(images).toHaveLength(3); // the backtest chart, then the chart from button 1, then 1 again
    for (const img of images) {
      expect(img.startsWith(join(dataDir, 'out'))).toBe(true);
      expect(pngSize(readFileSync(img))).toEqual({ width: 1280, height: 720 });
    }
    // Choices carry their message's number; a number alone took the one message just shown.
    expect(out).toMatch(/Choose: \[(\d+)\.1\] Chart BTC\/USDT 4h {2}\[\1\.2\] Parameters/);
    expect(out).toContain('too many arguments: "extra" is one more than /chart takes');
    expect(out).toContain('No choice 9 here');
    // The journal was created, whole, and the install file with its button secret.
    expect(journalIntegrity(dataDir)).toBe('ok');
    const install = JSON.parse(readFileSync(join(dataDir, 'install.json'), 'utf8'));
    expect(install.secret.length).toBeGreaterThanOrEqual(32);
  });

  it('ends cleanly when whoever reads its output goes away (npm start | head)', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      env: cleanEnv({ DATA_DIR: tmp(), MARKET_DATA: 'samples' }),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise((r) => child.stdout.once('data', r));
    child.stdout.destroy();
    child.stdin.end('/help\n/backtest ema-cross BTC/USDT 4h 1y\n');
    expect(await exited).toBe(0);
    expect(stderr).not.toContain('EPIPE');
  });

  it('refuses to start on a corrupt v0.1 state file and leaves it as it was', () => {
    const dataDir = tmp();
    writeFileSync(join(dataDir, 'bosun.json'), '{"version": 1, "inst');
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: cleanEnv({ DATA_DIR: dataDir }),
      input: '/help\n',
    });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(
      /^error: state file .*bosun\.json is not valid JSON \(.*\); bosun will not start on it and will not overwrite it/,
    );
    expect(readFileSync(join(dataDir, 'bosun.json'), 'utf8')).toBe('{"version": 1, "inst');
  });

  it('refuses to start on a journal that is not one, with one line, and leaves it as it was', () => {
    const dataDir = tmp();
    const text = 'notes, not a journal\n'.repeat(100);
    writeFileSync(join(dataDir, 'bosun.db'), text);
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: cleanEnv({ DATA_DIR: dataDir }),
      input: '/help\n',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `error: cannot open the journal ${join(dataDir, 'bosun.db')}: it is not an SQLite database; move it away (bosun makes a new one) or restore it from a backup`,
    ]);
    expect(readFileSync(join(dataDir, 'bosun.db'), 'utf8')).toBe(text);
  });
});

describe('npm run bench', () => {
  it('reports each figure beside a baseline from the same run', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bosun-bench-'));
    const r = spawnSync(process.execPath, [CLI, 'bench', '--quick', '--candles', '20000', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: cleanEnv({ DATA_DIR: dataDir }),
    });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.candles).toBe(20000);
    const names = report.rows.map((row: { name: string }) => row.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'npm run backtest (whole process)',
        'simulation loop (ema-cross)',
        'CSV load',
        'indicator adx(14)',
      ]),
    );
    expect(names.filter((n: string) => n.startsWith('backtest chart'))).toHaveLength(2);
    for (const row of report.rows) {
      expect(row.value).toBeGreaterThan(0);
      expect(row.baseline).toBeGreaterThan(0);
    }
  }, 180_000); // the whole --quick bench: about a minute alone, longer beside the other test files
});
