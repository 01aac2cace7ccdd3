import { z } from 'zod';
import { type Breakdown, byMarket } from '../src/backtest/breakdown.js';
import { togetherTables } from '../src/backtest/kept.js';
import { type BacktestResult, parseEntry, runBacktest } from '../src/backtest/run.js';
import {
  type CandleInfo,
  candleInfo,
  coverageNote,
  equityCurve,
  pct,
  ratio,
  summaryRows,
  tooShortToAnnualise,
} from '../src/backtest/summary.js';
import { RANK_METRICS, type RankMetric } from '../src/backtest/sweep.js';
import type { RulesReport } from '../src/backtest/types.js';
import {
  bestIndex,
  heatmapGrid,
  planSweep,
  compactRankedRows,
  runPlannedSweep,
  skippedLine,
  sweepFromParams,
  sweptText,
} from '../src/backtest/sweep-report.js';
import { periodArg, strategyArg, symbolArg, timeframeArg } from '../src/chat/arg-types.js';
import { type CommandContext, defineCommand } from '../src/chat/command.js';
import { type Progress, startProgress } from '../src/chat/progress.js';
import { bold, italic, type ReplyBuilder, reply } from '../src/chat/reply.js';
import { backtestChart, chartStyle, compareChart, sweepHeatmap } from '../src/charts/index.js';
import { metricName } from '../src/charts/heatmap-chart.js';
import { echo } from '../src/echo.js';
import { engineBacktest, runsBacktest } from '../src/engine/backtest.js';
import { AppError, badInput, toAppError } from '../src/errors.js';
import type { CandleAnswer } from '../src/market/provider.js';
import { quoteOf } from '../src/market/symbol.js';
import { EQUITY_POINTS, keptOf } from '../src/store/backtests.js';
import { spanName, timeframeMs } from '../src/market/timeframe.js';
import type { Strategy } from '../src/strategy/define.js';
import { parseParams } from '../src/strategy/params.js';
import { loadStrategy } from '../src/strategy/registry.js';

/** Without a period: 90 days, or 500 bars when that is longer. */
const defaultPeriod = (tfMs: number) => Math.max(90 * 86_400_000, 500 * tfMs);

/** Rows of a sweep's ranked table in chat (a phone screen); the rest are counted. */
const TOP_ROWS = 10;

const RANKS = Object.keys(RANK_METRICS) as [RankMetric, ...RankMetric[]];

/** Markets of a portfolio backtest at most: a reply (and a by-market table) a phone still reads. */
const MAX_MARKETS = 10;

/**
 * One market, or several comma-separated for a portfolio (`BTC/USDT,ETH/USDT`). A list passes here
 * and is checked market by market in {@link marketsOf}, so a bad one is named in its own line; one
 * market is refused here as before.
 */
const marketsArg = () =>
  z
    .string()
    .refine((s) => s.includes(',') || symbolArg().safeParse(s).success)
    .transform((s) => s.toUpperCase())
    .describe('a market like BTC/USDT')
    .meta({ complete: 'symbol' });

/**
 * A strategy, or several comma-separated to backtest their runs together on one account
 * (`ema-cross,rsi-reversion`, rules=engine), as the bot runs them.
 */
const strategiesArg = () =>
  z
    .string()
    .refine((s) => s.split(',').every((x) => strategyArg().safeParse(x).success))
    .describe('a strategy name (see /strategies), or several like ema-cross,rsi-reversion (rules=engine)')
    .meta({ complete: 'strategy' });

/** Strategies in one backtest at most. */
const MAX_STRATEGIES = 5;

const args = z.object({
  strategy: strategiesArg(),
  symbol: marketsArg(),
  timeframe: timeframeArg(),
  period: periodArg().optional(),
  sweep: z
    .string()
    .optional()
    .describe('a grid to sweep, name=FROM..TO:STEP or name=a|b, comma-separated, e.g. fast=5..20:5'),
  rank: z.enum(RANKS).optional().describe('the metric a sweep is ranked by (default sharpe)'),
  rules: z
    .enum(['plain', 'engine'])
    .optional()
    .describe(
      'plain: the strategy alone (default); engine: what a run would do (risk rules, sizing, regime)',
    ),
  entry: z
    .string()
    .optional()
    .describe(
      'plain rules: market (default), limit:OFFSET:BARS[:market] or stop:OFFSET:BARS, e.g. limit:0.2%:3',
    ),
  params: z
    .record(z.string(), z.string())
    .optional()
    .describe('strategy parameters as name=value, e.g. fast=9 slow=21; a range like fast=5..20:5 sweeps'),
});
type Args = z.infer<typeof args>;

export default defineCommand({
  name: 'backtest',
  summary: 'Backtest a strategy on one market or several, or sweep its parameters; summary and chart',
  role: 'viewer',
  slow: true,
  args,
  positional: ['strategy', 'symbol', 'timeframe', 'period'],
  rest: 'params',
  examples: [
    'backtest ema-cross BTC/USDT 1h 90d fast=9 slow=21',
    'backtest rsi-reversion BTC/USDT 4h 1y',
    'backtest ema-cross BTC/USDT 4h 1y fast=5..20:5 slow=20..60:10',
    'backtest ema-cross BTC/USDT 4h 1y sweep=fast=5..20:5,slow=20..60:10 rank=totalReturn',
    'backtest momentum BTC/USDT 15m 30d rules=engine',
    'backtest ema-cross BTC/USDT,ETH/USDT,SOL/USDT 1h 90d rules=engine',
    'backtest ema-cross,rsi-reversion BTC/USDT 15m 30d rules=engine',
    'backtest ema-cross BTC/USDT 4h 1y entry=limit:0.3%:2',
  ],
  // A kept backtest shown again: `/backtest show ID` is `/backtests show ID`.
  handsOver: (words) =>
    words.length === 2 && words[0]!.toLowerCase() === 'show' && /^[Bb][0-9A-Za-z]{5}$/.test(words[1]!)
      ? { command: 'backtests', words: ['show', words[1]!] }
      : undefined,
  async run(a, ctx) {
    const names = a.strategy.split(',');
    if (names.length > MAX_STRATEGIES)
      throw badInput(`STRATEGY names ${names.length} strategies; allowed: 1 to ${MAX_STRATEGIES}`);
    if (new Set(names).size < names.length) throw badInput('a strategy is given twice; give each once');
    const strategies = await Promise.all(names.map((n) => loadStrategy(n)));
    const strategy = strategies[0]!;
    const { fixed, spec } = sweepFromParams(a.params ?? {}, a.sweep);
    const markets = marketsOf(a.symbol);
    if (strategies.length > 1) {
      if (a.rules !== 'engine')
        throw badInput('several strategies share one account under the engine rules: add rules=engine');
      if (a.params !== undefined || a.sweep !== undefined || a.entry !== undefined)
        throw badInput(
          'several strategies run with their own defaults: drop the parameters (and sweep=, entry=), or backtest one strategy',
        );
      return portfolio(strategies, a, markets, ctx);
    }
    if (markets.length > 1 && spec.length > 0)
      throw badInput('a sweep runs on one market; give one symbol, or one set of parameters for several');
    if (markets.length > 1 && a.rules !== 'engine')
      throw badInput(
        'several markets share one account under the engine rules (its cross-run limits): add rules=engine',
      );
    if (spec.length > 0 && a.rules === 'engine')
      throw badInput('a sweep runs the plain rules; drop rules=engine, or give one set of parameters');
    if (a.entry !== undefined && a.rules === 'engine')
      throw badInput(
        'entry= applies to the plain rules only (under the engine rules the paper broker enters at market): drop entry=, or drop rules=engine',
      );
    if (a.entry !== undefined) parseEntry(a.entry);
    if (spec.length > 0) return sweep(strategy, a, fixed, spec, ctx);
    if (a.rank)
      throw badInput(
        'rank orders a sweep, and none was given; add a range like fast=5..20:5 or sweep=fast=5..20:5',
      );
    return markets.length > 1 ? portfolio([strategy], a, markets, ctx) : single(strategy, a, ctx);
  },
});

/**
 * The markets in the symbol position: one, or a list for a portfolio, each a market, each once, at
 * most MAX_MARKETS, of one quote currency (one account holds one); checked before any candle loads.
 */
function marketsOf(symbol: string): string[] {
  if (!symbol.includes(',')) return [symbol];
  const list = symbol.split(',').map((s) => s.trim());
  const bad = list.find((s) => !symbolArg().safeParse(s).success);
  if (bad !== undefined)
    throw badInput(`${echo(bad)} in SYMBOL is not a market; allowed: markets like BTC/USDT,ETH/USDT`);
  if (list.length > MAX_MARKETS)
    throw badInput(`SYMBOL names ${list.length} markets; allowed: 2 to ${MAX_MARKETS} on one account`);
  const twice = list.find((s, k) => list.indexOf(s) !== k);
  if (twice !== undefined) throw badInput(`${twice} is given twice; give each market once`);
  const quote = quoteOf(list[0]!);
  const other = list.find((s) => quoteOf(s) !== quote);
  if (other !== undefined)
    throw badInput(
      `${other} is quoted in ${quoteOf(other)} and ${list[0]} in ${quote}; one account trades one quote currency: give markets of one quote`,
    );
  return list;
}

interface Loaded {
  period: number;
  title: string;
  progress: Progress;
  started: number;
  data: CandleAnswer;
}

/** The candles for a run or a sweep, with its warm-up, under a progress message. */
async function load(
  kind: string,
  strategy: Strategy,
  a: Args,
  warmup: number,
  share: number,
  ctx: CommandContext,
): Promise<Loaded> {
  const { data, ...l } = await loadMarkets(kind, strategy.name, a, [a.symbol], warmup, share, ctx);
  return { ...l, data: data[0]! };
}

/**
 * The candles of each market, one after another, with the warm-up, under one progress message
 * (loading takes the first `share` of its bar).
 */
async function loadMarkets(
  kind: string,
  strategy: string,
  a: Args,
  symbols: readonly string[],
  warmup: number,
  share: number,
  ctx: CommandContext,
): Promise<Omit<Loaded, 'data'> & { data: CandleAnswer[] }> {
  const period = a.period ?? defaultPeriod(timeframeMs(a.timeframe));
  const title = `${kind} ${strategy} ${symbols.join(',')} ${a.timeframe} ${spanName(period)}`;
  const progress = await startProgress(ctx, title);
  const started = Date.now();
  const data: CandleAnswer[] = [];
  for (const [k, symbol] of symbols.entries()) {
    const phase = symbols.length > 1 ? `loading ${symbol}` : 'loading candles';
    data.push(
      await ctx.services.market.candles({
        symbol,
        timeframe: a.timeframe,
        period,
        warmupBars: warmup + 1,
        signal: ctx.signal,
        onProgress: (f) => void progress.update(((k + f) / symbols.length) * share, phase),
      }),
    );
    if (ctx.signal.aborted) throw new AppError('INTERNAL', 'stopped');
  }
  return { period, title, progress, started, data };
}

const elapsed = (l: Pick<Loaded, 'started'>) => `done in ${((Date.now() - l.started) / 1000).toFixed(1)} s`;

/** The settings every backtest here shares: the config's costs, the candles' timeframe. */
function runSettings(ctx: CommandContext, data: Pick<CandleAnswer, 'timeframeMs'>) {
  const { backtest } = ctx.services.config;
  return {
    capital: backtest.capital,
    fee: backtest.fee,
    ...(backtest.makerFee !== undefined ? { maker: backtest.makerFee } : {}),
    slippageBps: backtest.slippageBps,
    timeframeMs: data.timeframeMs,
  };
}

/**
 * What a plain backtest adds: the market's exchange rules that came with the candles, and how
 * entries are made (`entry=`).
 */
function plainSettings(a: Args, data: Pick<CandleAnswer, 'rules'>) {
  return {
    ...(data.rules ? { market: data.rules } : {}),
    ...(a.entry !== undefined ? { entry: parseEntry(a.entry) } : {}),
  };
}

/**
 * Keep a backtest in the journal with its chart, so it can be shown again and compared, and say so
 * in the reply; a journal that fails loses the reply nothing, one line says it was not kept.
 */
async function keep(
  r: ReplyBuilder,
  ctx: CommandContext,
  result: BacktestResult,
  info: CandleInfo,
  o: {
    rules: RulesReport | undefined;
    chart: Uint8Array;
    byMarket?: Breakdown[] | undefined;
    byRun?: Breakdown[] | undefined;
  },
): Promise<void> {
  try {
    const { chart, ...rest } = o;
    const id = await ctx.services.store.backtests.keep(
      keptOf(result, info, { by: ctx.caller.name, ...rest }),
      chart,
    );
    r.line(italic(`Kept as ${id}: /backtests show ${id}, or /compare ${id} with another`));
  } catch (err) {
    ctx.logger.warn({ err: toAppError(err).message }, 'a backtest was not kept');
    r.line(italic(`Not kept in the journal: ${toAppError(err).message}`));
  }
}

async function single(strategy: Strategy, a: Args, ctx: CommandContext) {
  const params = parseParams(strategy, a.params ?? {});
  const l = await load('Backtest', strategy, a, strategy.warmup(params), 0.7, ctx);
  const { data, progress } = l;
  await progress.update(0.7, 'simulating');
  const { config } = ctx.services;
  let rules: RulesReport | undefined;
  let result: BacktestResult;
  if (a.rules === 'engine') {
    const settings = runSettings(ctx, data);
    ({ result, rules } = await engineBacktest(strategy, a.params ?? {}, data.candles, {
      config,
      // The rules in force now, /risk changes included: what a run started now would trade by.
      risk: ctx.services.engine.risk(),
      logger: ctx.logger,
      symbol: a.symbol,
      ...settings,
      ...(data.rules ? { marketRules: data.rules } : {}),
      tradeFrom: data.from,
      onProgress: (d) => void progress.update(0.7 + 0.1 * d, 'trading by the engine rules'),
    }));
  } else
    result = runBacktest(strategy, a.params ?? {}, data.candles, {
      ...runSettings(ctx, data),
      ...plainSettings(a, data),
      tradeFrom: data.from,
    });
  await progress.update(0.8, 'drawing the chart');
  const chart = backtestChart({ result, symbol: a.symbol }, chartStyle(config));
  const png = await (await ctx.services.charts()).render(chart);
  await progress.done(elapsed(l));

  const m = result.metrics;
  const r = reply().line(bold(l.title), `: ${pct(m.totalReturn)} over ${m.trades} trades`);
  if (data.note) r.line(italic(data.note));
  const covered = coverageNote({ period: l.period }, m, data.timeframeMs);
  if (covered) r.line(italic(covered));
  const info = candleInfo(result, data.source, a.symbol);
  r.table(
    summaryRows(result, info, rules).map(([k, v]) => [k, v]),
    { align: ['left', 'left'] },
  );
  await keep(r, ctx, result, info, { rules, chart: png });
  return r
    .image(png, {
      caption: `${strategy.name} on ${a.symbol} ${a.timeframe}`,
      filename: `backtest-${strategy.name}.png`,
      chart,
    })
    .buttons([
      { label: `Chart ${a.symbol} ${a.timeframe}`, command: 'chart', args: [a.symbol, a.timeframe] },
      { label: 'Parameters', command: 'strategies', args: [strategy.name] },
    ]);
}

/**
 * Several markets on one account under the engine rules: a run of the strategy on each, stepped in
 * time order so the cross-run limits bind across them (`portfolioBacktest`, as the CLI's
 * `--symbols`). The answer: the account's summary with the markets named and buy-and-hold an
 * equal-weight basket, the trades by market, and the account's equity against the basket's.
 */
async function portfolio(strategies: Strategy[], a: Args, symbols: string[], ctx: CommandContext) {
  const warmup = Math.max(...strategies.map((s) => s.warmup(parseParams(s, a.params ?? {}))));
  const l = await loadMarkets('Backtest', a.strategy, a, symbols, warmup, 0.6, ctx);
  const { data, progress } = l;
  const { config } = ctx.services;
  const settings = runSettings(ctx, data[0]!);
  const { result, rules, records, byRun } = await runsBacktest(
    strategies.flatMap((strategy) => symbols.map((symbol) => ({ strategy, params: a.params ?? {}, symbol }))),
    symbols.map((symbol, k) => ({
      symbol,
      candles: data[k]!.candles,
      ...(data[k]!.rules ? { rules: data[k]!.rules } : {}),
    })),
    {
      config,
      // The rules in force now, /risk changes included, as for one market.
      risk: ctx.services.engine.risk(),
      logger: ctx.logger,
      ...settings,
      // Trading starts when every market's warm-up is behind it.
      tradeFrom: Math.max(...data.map((d) => d.from)),
      onProgress: (d) => void progress.update(0.6 + 0.3 * d, 'trading by the engine rules'),
    },
  );
  await progress.update(0.9, 'drawing the chart');
  const named = symbols.length <= 4 ? symbols.join(', ') : `${symbols.length} markets`;
  const chart = basketChart(
    result,
    `${result.strategy} on ${named} ${a.timeframe}, one account`,
    symbols.length > 1 ? 'Basket (buy and hold, equal weight)' : `Buy and hold ${symbols[0]}`,
    chartStyle(config),
  );
  const png = await (await ctx.services.charts()).render(chart);
  await progress.done(elapsed(l));

  const m = result.metrics;
  const r = reply().line(bold(l.title), `: ${pct(m.totalReturn)} over ${m.trades} trades`);
  for (const [k, d] of data.entries()) if (d.note) r.line(italic(`${symbols[k]}: ${d.note}`));
  const covered = coverageNote({ period: l.period }, m, settings.timeframeMs);
  if (covered) r.line(italic(covered));
  const info = candleInfo(result, [...new Set(data.map((d) => d.source))].join(', '), symbols.join(','));
  r.table(summaryRows(result, info, rules), { align: ['left', 'left'] });
  const markets = symbols.length > 1 ? byMarket(symbols, records) : undefined;
  for (const t of togetherTables({ byMarket: markets, byRun }, money))
    r.line(bold(t.title)).table(t.rows, { header: t.header });
  await keep(r, ctx, result, info, { rules, chart: png, byMarket: markets, byRun });
  const against = symbols.length > 1 ? 'the basket' : `holding ${symbols[0]}`;
  return r
    .image(png, {
      caption: `${result.strategy} on ${symbols.join(', ')} ${a.timeframe}: the account against ${against}`,
      filename: `backtest-${strategies.map((s) => s.name).join('-')}-portfolio.png`,
      chart,
    })
    .buttons(
      strategies.map((s) => ({ label: `${s.name} parameters`, command: 'strategies', args: [s.name] })),
    );
}

const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * The account's equity against buy-and-hold of the basket (the result's candles), each as a change
 * from its start, on the chart of kept backtests' curves.
 */
function basketChart(
  result: BacktestResult,
  title: string,
  held: string,
  style: ReturnType<typeof chartStyle>,
) {
  const basket = { ...result, simulation: { ...result.simulation, equity: result.candles.close } };
  return compareChart(
    [
      {
        label: `Portfolio (${result.strategy}, the engine rules)`,
        capital: result.capital,
        equity: equityCurve(result, EQUITY_POINTS),
      },
      {
        label: held,
        capital: result.candles.close[0]!,
        equity: equityCurve(basket, EQUITY_POINTS),
      },
    ],
    title,
    style,
  );
}

/**
 * A small grid in chat: every set is an ordinary backtest on the same candles, run in worker
 * threads (the bot keeps answering meanwhile); the answer is the ranked table, the heatmap of the
 * rank metric over the first two swept parameters, and a button that backtests the best set alone.
 */
async function sweep(
  strategy: Strategy,
  a: Args,
  fixed: Record<string, string>,
  spec: string[],
  ctx: CommandContext,
) {
  const { config } = ctx.services;
  const rank = a.rank ?? 'sharpe';
  const plan = planSweep(strategy, spec, fixed, config.backtest.chatSweepMax);
  const l = await load('Sweep', strategy, a, plan.warmup, 0.3, ctx);
  const { data, progress } = l;
  const report = await runPlannedSweep(
    strategy.name,
    plan,
    data.candles,
    {
      ...runSettings(ctx, data),
      ...plainSettings(a, data),
      exits: {},
      source: data.source,
      symbol: a.symbol,
    },
    rank,
    {
      tradeFrom: data.from,
      signal: ctx.signal,
      onProgress: (d, t) => void progress.update(0.3 + (0.6 * d) / t, `${d}/${t} sets`),
    },
  );
  const best = report.ranked[0];
  if (!best) {
    await progress.done('no set ran');
    throw badInput(`no parameter set of the sweep ran: ${report.skipped[0]?.error ?? 'none was valid'}`);
  }
  await progress.update(0.9, 'drawing the heatmap');
  const grid = heatmapGrid(report);
  const axesText = [grid.x.name, grid.y.name].filter(Boolean).join(' and ');
  const chart = sweepHeatmap(
    {
      grid,
      title: `${metricName(rank)} of ${strategy.name} on ${a.symbol} ${a.timeframe}, ${spanName(l.period)}, by ${axesText}`,
      subtitle: [
        `${report.outcomes.length} sets`,
        ...(grid.folded.length > 0 ? [`each square the best over ${grid.folded.join(', ')}`] : []),
        ...(report.skipped.length > 0 ? [`${report.skipped.length} skipped`] : []),
        `fee ${+(config.backtest.fee * 100).toFixed(4)}% per side`,
      ].join('   ·   '),
    },
    chartStyle(config),
  );
  const png = await (await ctx.services.charts()).render(chart);
  await progress.done(elapsed(l));

  const bestParams = plan.valid[bestIndex(report)!]!;
  const m = best.metrics;
  const r = reply()
    .line(
      bold(l.title),
      `: ${report.outcomes.length} sets in ${report.seconds.toFixed(1)} s, ranked by ${metricName(rank)}`,
    )
    .line(
      `Best ${sweptText(plan.axes, bestParams)}: ${pct(m.totalReturn)} over ${m.trades} trades, Sharpe ${ratio(m.sharpe)}, max drawdown ${pct(-m.maxDrawdown)}`,
    );
  if (Object.keys(fixed).length > 0)
    r.line(
      `Fixed: ${Object.entries(fixed)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  if (data.note) r.line(italic(data.note));
  const covered = coverageNote({ period: l.period }, m, data.timeframeMs);
  if (covered) r.line(italic(covered));
  const short = tooShortToAnnualise(m);
  // A sweep compares sets on the same candles, so its figures stay; the reader is told what they rest on.
  if (short) r.line(italic(`${short}: the Sharpe figures here are annualised from that short span.`));
  const rows = compactRankedRows(plan.axes, report.ranked.slice(0, TOP_ROWS), rank);
  r.table(rows.slice(1), { header: rows[0]! });
  if (report.ranked.length > TOP_ROWS) r.line(italic(`top ${TOP_ROWS} of ${report.ranked.length}`));
  const skipped = skippedLine(report);
  if (skipped) r.line(italic(skipped));
  const label = `Backtest ${sweptText(plan.axes, bestParams)}`;
  return r
    .image(png, {
      caption: `${strategy.name} on ${a.symbol} ${a.timeframe}: ${metricName(rank)} by ${axesText}`,
      filename: `sweep-${strategy.name}.png`,
      chart,
    })
    .buttons([
      {
        label: label.length > 60 ? 'Backtest the best set' : label,
        command: 'backtest',
        args: [
          strategy.name,
          a.symbol,
          a.timeframe,
          spanName(l.period),
          ...Object.entries(bestParams).map(([k, v]) => `${k}=${String(v)}`),
        ],
      },
      { label: 'Parameters', command: 'strategies', args: [strategy.name] },
    ]);
}
