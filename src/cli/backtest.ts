/** `bosun backtest`: run a strategy over a file or downloaded candles, print a summary, write JSON. */
import { writeFileSync } from 'node:fs';
import { type BacktestResult, parseEntry, runBacktest } from '../backtest/run.js';
import type { RulesReport } from '../backtest/types.js';
import { togetherTables } from '../backtest/kept.js';
import { parseSizing } from '../backtest/sizing.js';
import {
  BREAKDOWN_HEADER,
  type Breakdown,
  breakdownRows,
  byExitReason,
  byMonth,
  byMarket,
} from '../backtest/breakdown.js';
import {
  type CandleInfo,
  candleInfo,
  coverageNote,
  excursionsOf,
  resultJson,
  summaryRows,
} from '../backtest/summary.js';
import { tableLines } from '../chat/reply.js';
import type { Config } from '../config.js';
import { badInput, toAppError } from '../errors.js';
import type { KeptBacktest } from '../store/backtests.js';
import type { Logger } from '../logger.js';
import { knownRules, type MarketRules } from '../market/rules.js';
import { symbolFromFileName } from '../market/symbol.js';
import { isoTime, parseDate, timeframeName } from '../market/timeframe.js';
import { SAMPLES_DIR } from '../paths.js';
import type { ExitRules, Strategy } from '../strategy/define.js';
import { parseParamList, parseParams } from '../strategy/params.js';
import { loadStrategy, strategyNames } from '../strategy/registry.js';
import {
  fraction,
  numberOption,
  oneOf,
  parseCommandArgs,
  parseTakeProfit,
  parseAdds,
  parseTrailing,
  writing,
} from './args.js';
import { CANDLE_SOURCE_OPTIONS, loadCandleSource } from './candles.js';
import { renderChartFile, STYLE_OPTIONS, styleFromArgs } from './charts.js';
import { progressBar } from './progress.js';
import { rankOption, sweepCli, walkForwardCli } from './sweep.js';
import { planSweep } from '../backtest/sweep-report.js';

export const BACKTEST_USAGE = `Usage: npm run backtest -- --strategy NAME (--data FILE | --exchange ID --symbol SYM --timeframe TF --from DATE [--to DATE])
  [--params k=v,...] [--fee 0.001] [--maker 0.0002] [--capital 10000] [--slippage BPS] [--sizing all-in|fraction:F|risk:R]
  [--direction long|short|both] [--stop 2%] [--take-profit 1.5%:30%,3%:40%,5%:30%] [--trailing 2%:1%] [--adds dca:3:2%|2%:25%,4%:25%]
  [--max-bars N] [--timeframe TF] [--from DATE] [--to DATE] [--json FILE] [--chart FILE.png]
  [--theme dark|light] [--width PX] [--height PX] [--quiet] [--verbose]
  [--sweep name=FROM..TO:STEP,name=a|b,...] [--rank sharpe|totalReturn|...] [--top N] [--workers N]
  [--walk-forward N] [--oos 30%] [--rules plain|engine] [--trades-csv FILE]
  [--entry market|limit:OFFSET:BARS[:market]|stop:OFFSET:BARS] [--exchange-rules on|off]
  [--symbols SYM,SYM,... --rules engine (with --data FILE,FILE,... in the same order, or --exchange)]
  [--strategy NAME,NAME,... --rules engine (each strategy a run on each market, their defaults)]`;

const OPTIONS = {
  strategy: { type: 'string' },
  ...CANDLE_SOURCE_OPTIONS,
  params: { type: 'string', multiple: true },
  fee: { type: 'string' },
  maker: { type: 'string' },
  entry: { type: 'string' },
  'exchange-rules': { type: 'string' },
  capital: { type: 'string' },
  slippage: { type: 'string' },
  sizing: { type: 'string' },
  direction: { type: 'string' },
  stop: { type: 'string' },
  'take-profit': { type: 'string' },
  trailing: { type: 'string' },
  adds: { type: 'string' },
  'max-bars': { type: 'string' },
  json: { type: 'string' },
  chart: { type: 'string' },
  ...STYLE_OPTIONS,
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
  sweep: { type: 'string', multiple: true },
  rank: { type: 'string' },
  top: { type: 'string' },
  workers: { type: 'string' },
  'walk-forward': { type: 'string' },
  oos: { type: 'string' },
  rules: { type: 'string' },
  'trades-csv': { type: 'string' },
  symbols: { type: 'string' },
} as const;

/** Options of the plain rules that the engine's rules decide for themselves. */
const PLAIN_ONLY = [
  'sizing',
  'direction',
  'stop',
  'take-profit',
  'trailing',
  'adds',
  'max-bars',
  'entry',
  'sweep',
  'walk-forward',
] as const;

export async function backtestCommand(argv: string[], config: Config, logger: Logger): Promise<number> {
  const { values: v } = parseCommandArgs('backtest', argv, OPTIONS);
  if (!v.strategy) throw badInput(`backtest: --strategy is required; allowed: ${strategyNames().join(', ')}`);
  const names = v.strategy.split(',').map((x) => x.trim());
  const strategies = await Promise.all(names.map((name) => loadStrategy(name)));
  const strategy = strategies[0]!;
  const raw = v.params ? parseParamList(v.params) : {};
  const exits: ExitRules = {};
  if (v.stop !== undefined) exits.stopLoss = fraction('stop', v.stop);
  if (v['take-profit'] !== undefined) exits.takeProfit = parseTakeProfit(v['take-profit']);
  if (v.trailing !== undefined) exits.trailing = parseTrailing(v.trailing);
  if (v.adds !== undefined) exits.adds = parseAdds(v.adds);
  const maxBars = numberOption('max-bars', v['max-bars'], 1, 1e7);
  if (maxBars !== undefined) exits.maxBars = maxBars;
  const direction = oneOf('direction', v.direction, ['long', 'short', 'both'] as const);
  const engineRules = (oneOf('rules', v.rules, ['plain', 'engine'] as const) ?? 'plain') === 'engine';
  const plainOnly = PLAIN_ONLY.find((name) => v[name] !== undefined);
  if (engineRules && plainOnly)
    throw badInput(
      `--${plainOnly} is for the plain rules; --rules engine trades as the engine does (its RISK_* settings, the strategy's own exits, one run): drop --${plainOnly} or use --rules plain`,
    );

  const style = styleFromArgs(v);
  const progress = progressBar(!v.quiet);
  if (v.symbols !== undefined || strategies.length > 1) {
    if (!engineRules)
      throw badInput(
        `${v.symbols !== undefined ? '--symbols backtests several markets' : 'several strategies backtest several runs'} on one account under the engine rules (its cross-run limits): add --rules engine`,
      );
    if (strategies.length > 1 && v.params !== undefined)
      throw badInput(
        'several strategies run with their own defaults; drop --params, or backtest one strategy with its parameters',
      );
    return portfolioCli(strategies, raw, v, config, logger, progress);
  }
  const folds = numberOption('walk-forward', v['walk-forward'], 1, 50);
  const grid = v.sweep !== undefined || folds !== undefined;
  if (grid && v.chart) throw badInput('--chart draws one run; drop it from a sweep or walk-forward');
  const plan = grid ? planSweep(strategy, v.sweep?.join(','), raw) : undefined;
  // Warm-up bars before --from, so the strategy is ready when trading starts.
  const warmup = plan ? plan.warmup : strategy.warmup(parseParams(strategy, raw));
  progress.update(0, 'loading');
  const loaded = await loadCandleSource(v, config, logger, warmup + 1);
  // One set of run settings for a single run and for every run of a sweep.
  const market = rulesOf(v, config, loaded.exchange, loaded.symbol);
  const maker = makerOf(v, config);
  const run = {
    capital: numberOption('capital', v.capital, 1, 1e12) ?? config.backtest.capital,
    fee: numberOption('fee', v.fee, 0, 0.1) ?? config.backtest.fee,
    ...(maker !== undefined ? { maker } : {}),
    slippageBps: numberOption('slippage', v.slippage, 0, 1000) ?? config.backtest.slippageBps,
    ...(market !== undefined ? { market } : {}),
    ...(v.entry !== undefined ? { entry: parseEntry(v.entry) } : {}),
    ...(v.sizing ? { sizing: parseSizing(v.sizing) } : {}),
    ...(direction ? { direction } : {}),
    exits,
    timeframeMs: loaded.timeframeMs,
  };
  if (plan) {
    const input = {
      strategy,
      plan,
      candles: loaded.candles,
      settings: {
        ...run,
        source: loaded.source,
        ...(loaded.symbol ? { symbol: loaded.symbol } : {}),
      },
      ...(loaded.from !== undefined ? { tradeFrom: loaded.from } : {}),
      rank: rankOption(v.rank),
      ...(v.workers !== undefined ? { workers: numberOption('workers', v.workers, 1, 64)! } : {}),
      top: numberOption('top', v.top, 1, 10_000) ?? 20,
      ...(v.json ? { json: v.json } : {}),
      quiet: v.quiet ?? false,
      progress,
    };
    if (folds === undefined) return sweepCli(input);
    const oos = v.oos === undefined ? 0.3 : fraction('oos', v.oos);
    return walkForwardCli({ ...input, folds, oosShare: oos });
  }
  const long = loaded.candles.length >= 200_000;
  let rules: RulesReport | undefined;
  let result: BacktestResult;
  if (engineRules) {
    if (!loaded.symbol)
      throw badInput(
        '--rules engine needs to know the market (its quote currency, the regime): give --symbol, or name the file like binance_BTC-USDT_1h.csv',
      );
    const { engineBacktest } = await import('../engine/backtest.js');
    ({ result, rules } = await engineBacktest(strategy, raw, loaded.candles, {
      config,
      logger,
      symbol: loaded.symbol,
      capital: run.capital,
      fee: run.fee,
      ...(maker !== undefined ? { maker } : {}),
      slippageBps: run.slippageBps,
      ...(market !== undefined ? { marketRules: market } : {}),
      timeframeMs: loaded.timeframeMs,
      ...(loaded.from !== undefined ? { tradeFrom: loaded.from } : {}),
      onProgress: (d: number) => progress.update(d, 'simulating'),
    }));
  } else
    result = runBacktest(strategy, raw, loaded.candles, {
      ...run,
      ...(loaded.from !== undefined ? { tradeFrom: loaded.from } : {}),
      ...(long ? { onProgress: (d: number) => progress.update(d, 'simulating') } : {}),
    });
  progress.done();

  const info = candleInfo(result, loaded.source, loaded.symbol);
  if (v.json) {
    const json = v.json;
    writing(`--json ${json}`, () =>
      writeFileSync(json, `${JSON.stringify(resultJson(result, info, rules), null, 2)}\n`),
    );
  }
  if (v['trades-csv']) await writeTradesCsv(v['trades-csv'], result);
  let png: Uint8Array | undefined;
  if (v.chart) {
    const { backtestChart, chartStyle } = await import('../charts/index.js');
    const doc = backtestChart(
      { result, ...(loaded.symbol ? { symbol: loaded.symbol } : {}) },
      chartStyle(config, style),
    );
    png = await renderChartFile(doc, v.chart, config);
  }
  const kept = await keep(config, result, info, { rules, chart: png });
  if (!v.quiet) {
    printRows(summaryRows(result, info, rules));
    if (loaded.gaps !== 'no gaps') console.log(`${'Gaps'.padEnd(18)}${loaded.gaps}`);
    // Only --from/--to ask for a span; a file alone is what was asked.
    const asked = {
      ...(v.from !== undefined ? { from: parseDate(v.from, '--from') } : {}),
      ...(v.to !== undefined ? { to: parseDate(v.to, '--to') } : {}),
    };
    const covered = coverageNote(asked, result.metrics, result.timeframeMs);
    if (covered) console.log(`\n${covered}`);
    const last = result.simulation.trades.slice(-5);
    if (last.length > 0) {
      console.log(`\nLast ${last.length} trade${last.length === 1 ? '' : 's'}:`);
      for (const t of last) {
        const sign = t.pnl >= 0 ? '+' : '';
        console.log(
          `  ${t.side.padEnd(5)} ${isoTime(t.entryTime)} @ ${fmt(t.entryPrice)} -> ${isoTime(t.exitTime)} @ ${fmt(t.exitPrice)}  ${sign}${fmt(t.pnl)} (${t.exitReason})`,
        );
      }
    }
    printBreakdowns(result);
    if (v['trades-csv'])
      console.log(`\nWrote ${result.simulation.trades.length} trades to ${v['trades-csv']}`);
    if (v.json) console.log(`${v['trades-csv'] ? '' : '\n'}Wrote ${v.json}`);
    if (v.chart) console.log(`${v.json ? '' : '\n'}Wrote chart ${v.chart}`);
    if (kept)
      console.log(`${v.json || v.chart ? '' : '\n'}Kept as ${kept}: npm run backtests -- show ${kept}`);
  }
  return 0;
}

/**
 * Keep a backtest in the journal (DATA_DIR's, or DATABASE_URL's); its id. A journal that cannot be
 * written loses the backtest nothing: one line on stderr says why it was not kept.
 */
async function keep(
  config: Config,
  result: BacktestResult,
  info: CandleInfo,
  o: {
    rules: RulesReport | undefined;
    chart?: Uint8Array | undefined;
    byMarket?: Breakdown[] | undefined;
    byRun?: Breakdown[] | undefined;
  },
): Promise<string | undefined> {
  const { chart } = o;
  try {
    // The journal's drivers load only here: the CLI's other commands start without them.
    const { keptOf, openArchive } = await import('../store/backtests.js');
    const b: Omit<KeptBacktest, 'id'> = keptOf(result, info, { by: 'cli', ...o });
    const { archive, close } = await openArchive({
      dataDir: config.dataDir,
      url: config.store.url,
      instance: config.store.instance,
    });
    try {
      return await archive.keep(b, chart);
    } finally {
      await close();
    }
  } catch (err) {
    console.error(`Not kept in the journal: ${toAppError(err).message}`);
    return undefined;
  }
}

function fmt(v: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 });
}

export function printRows(rows: Array<[string, string]>): void {
  for (const [label, value] of rows) console.log(`${label.padEnd(18)}${value}`);
}

/** The trades of runs on one account by market and by run, under its summary (those given). */
export function printTogether(b: {
  byMarket?: Breakdown[] | undefined;
  byRun?: Breakdown[] | undefined;
}): void {
  for (const t of togetherTables(b, fmt)) {
    console.log(`\n${t.title}:`);
    for (const line of tableLines({ kind: 'table', header: t.header, rows: t.rows }))
      console.log(`  ${line}`);
  }
}

/** Months listed under the summary at most; a longer run has them in --json. */
const MONTH_ROWS = 24;

/** The results by exit reason and by month, under the summary. */
function printBreakdowns(result: BacktestResult): void {
  const trades = result.simulation.trades;
  if (trades.length === 0) return;
  const rows = (list: Breakdown[]) => breakdownRows(list, fmt);
  console.log('\nBy exit reason:');
  for (const line of tableLines({
    kind: 'table',
    header: BREAKDOWN_HEADER,
    rows: rows(byExitReason(trades)),
  }))
    console.log(`  ${line}`);
  const months = byMonth(trades);
  if (months.length > MONTH_ROWS) {
    console.log(`\nBy month: ${months.length} months, in --json (breakdowns.month) and --trades-csv`);
    return;
  }
  console.log('\nBy month (of the exit):');
  for (const line of tableLines({ kind: 'table', header: BREAKDOWN_HEADER, rows: rows(months) }))
    console.log(`  ${line}`);
}

/** Every trade as a CSV row, with its MAE and MFE: one header line, times in ISO and epoch ms. */
async function writeTradesCsv(path: string, result: BacktestResult): Promise<void> {
  const { stringify } = await import('csv-stringify/sync');
  const ex = excursionsOf(result);
  // A portfolio's trades say their market first.
  const market = result.portfolio !== undefined;
  const rows = result.simulation.trades.map((t, k) => [
    ...(market ? [t.symbol ?? ''] : []),
    t.side,
    isoTime(t.entryTime),
    t.entryTime,
    t.entryPrice,
    isoTime(t.exitTime),
    t.exitTime,
    t.exitPrice,
    t.quantity,
    t.pnl,
    t.returnPct,
    t.fees,
    t.exitReason,
    t.bars,
    ex[k]!.mae,
    ex[k]!.mfe,
  ]);
  const header = [
    ...(market ? ['symbol'] : []),
    'side',
    'entry_time',
    'entry_ms',
    'entry_price',
    'exit_time',
    'exit_ms',
    'exit_price',
    'quantity',
    'pnl',
    'return',
    'fees',
    'exit_reason',
    'bars',
    'mae',
    'mfe',
  ];
  writing(`--trades-csv ${path}`, () => writeFileSync(path, stringify([header, ...rows])));
}

/**
 * `--symbols A,B --rules engine` and `--strategy a,b --rules engine`: the runs (each strategy on each
 * market) on one account; the summary of the account, then its trades by market and by run.
 */
async function portfolioCli(
  strategies: Strategy[],
  raw: Record<string, unknown>,
  v: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'],
  config: Config,
  logger: Logger,
  progress: ReturnType<typeof progressBar>,
): Promise<number> {
  const listed = v.symbols
    ?.split(',')
    .map((x) => x.trim().toUpperCase())
    .filter(Boolean);
  if (listed && listed.length < 2)
    throw badInput(`--symbols takes two or more markets, like BTC/USDT,ETH/USDT (for one, use --symbol)`);
  if (listed && v.symbol !== undefined)
    throw badInput('give either --symbol (one market) or --symbols, not both');
  const single = listed
    ? undefined
    : (v.symbol?.toUpperCase() ?? (v.data ? symbolFromFileName(v.data) : undefined));
  if (!listed && single === undefined)
    throw badInput(
      'several strategies need to know the market: give --symbol, or name the file like binance_BTC-USDT_1h.csv',
    );
  const symbols = listed ?? [single!];
  const files = v.data?.split(',').map((x) => x.trim());
  if (files && files.length !== symbols.length)
    throw badInput(
      `--symbols names ${symbols.length} markets and --data ${files.length} files; give one file per market, in the same order`,
    );
  if (v.chart)
    throw badInput('--chart draws one market; a portfolio has its equity in --json and in npm run backtests');
  const warmup = Math.max(
    ...strategies.map((s) => s.warmup(parseParams(s, strategies.length > 1 ? {} : raw))),
  );
  progress.update(0, 'loading');
  const loaded: Array<Awaited<ReturnType<typeof loadCandleSource>>> = [];
  for (const [k, symbol] of symbols.entries())
    loaded.push(
      await loadCandleSource(
        { ...v, symbol, ...(files ? { data: files[k]! } : {}) },
        config,
        logger,
        warmup + 1,
      ),
    );
  const tfMs = loaded[0]!.timeframeMs;
  const odd = loaded.findIndex((l) => l.timeframeMs !== tfMs);
  if (odd >= 0)
    throw badInput(
      `${symbols[odd]}'s candles are ${timeframeName(loaded[odd]!.timeframeMs)} and ${symbols[0]}'s ${timeframeName(tfMs)}; give --timeframe to make them one`,
    );
  const maker = makerOf(v, config);
  const { runsBacktest } = await import('../engine/backtest.js');
  const { result, rules, records, byRun } = await runsBacktest(
    strategies.flatMap((strategy) => symbols.map((symbol) => ({ strategy, params: raw, symbol }))),
    symbols.map((symbol, k) => {
      const rules = rulesOf(v, config, loaded[k]!.exchange, symbol);
      return { symbol, candles: loaded[k]!.candles, ...(rules !== undefined ? { rules } : {}) };
    }),
    {
      config,
      logger,
      capital: numberOption('capital', v.capital, 1, 1e12) ?? config.backtest.capital,
      fee: numberOption('fee', v.fee, 0, 0.1) ?? config.backtest.fee,
      ...(maker !== undefined ? { maker } : {}),
      slippageBps: numberOption('slippage', v.slippage, 0, 1000) ?? config.backtest.slippageBps,
      timeframeMs: tfMs,
      ...(loaded[0]!.from !== undefined ? { tradeFrom: loaded[0]!.from } : {}),
      onProgress: (d: number) => progress.update(d, 'simulating'),
    },
  );
  progress.done();
  const info = candleInfo(result, loaded.map((l) => l.source).join(', '), symbols.join(','));
  const markets = symbols.length > 1 ? byMarket(symbols, records) : undefined;
  if (v.json) {
    const doc = {
      ...resultJson(result, info, rules),
      markets: symbols,
      ...(markets ? { byMarket: markets } : {}),
      ...(byRun ? { byRun } : {}),
    };
    const json = v.json;
    writing(`--json ${json}`, () => writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`));
  }
  if (v['trades-csv']) await writeTradesCsv(v['trades-csv'], result);
  const kept = await keep(config, result, info, { rules, byMarket: markets, byRun });
  if (v.quiet) return 0;
  printRows(summaryRows(result, info, rules));
  printTogether({ byMarket: markets, byRun });
  printBreakdowns(result);
  if (v.json) console.log(`\nWrote ${v.json}`);
  if (kept) console.log(`${v.json ? '' : '\n'}Kept as ${kept}: npm run backtests -- show ${kept}`);
  return 0;
}

/**
 * The exchange rules a backtest's fills obey: those known for the candles' exchange and market
 * (cached from a download, else bundled with the samples); null with `--exchange-rules off`.
 */
function rulesOf(
  v: { 'exchange-rules'?: string | undefined },
  config: Config,
  exchange: string | undefined,
  symbol: string | undefined,
): MarketRules | null | undefined {
  const use = oneOf('exchange-rules', v['exchange-rules'], ['on', 'off'] as const) ?? 'on';
  if (use === 'off') return null;
  if (exchange === undefined || symbol === undefined) return undefined;
  return knownRules(exchange, symbol, { dataDir: config.dataDir, samplesDir: SAMPLES_DIR });
}

/** The maker fee: --maker, else BACKTEST_MAKER_FEE, else none (the taker fee applies to all). */
function makerOf(v: { maker?: string | undefined }, config: Config): number | undefined {
  if (v.maker === undefined) return config.backtest.makerFee;
  const maker = fraction('maker', v.maker);
  if (!(maker <= 0.1)) throw badInput(`--maker: ${v.maker} is over 10%; allowed: 0 to 0.1 (0.0002 or 0.02%)`);
  return maker;
}
