import { z } from 'zod';
import { type BacktestResult, runBacktest } from '../src/backtest/run.js';
import {
  candleInfo,
  coverageNote,
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
import { bold, italic, reply } from '../src/chat/reply.js';
import { backtestChart, chartStyle, sweepHeatmap } from '../src/charts/index.js';
import { metricName } from '../src/charts/heatmap-chart.js';
import { engineBacktest } from '../src/engine/backtest.js';
import { AppError, badInput, toAppError } from '../src/errors.js';
import { keptOf } from '../src/store/backtests.js';
import { spanName, timeframeMs } from '../src/market/timeframe.js';
import type { Strategy } from '../src/strategy/define.js';
import { parseParams } from '../src/strategy/params.js';
import { loadStrategy } from '../src/strategy/registry.js';

/** Without a period: 90 days, or 500 bars when that is longer. */
const defaultPeriod = (tfMs: number) => Math.max(90 * 86_400_000, 500 * tfMs);

/** Rows of a sweep's ranked table in chat (a phone screen); the rest are counted. */
const TOP_ROWS = 10;

const RANKS = Object.keys(RANK_METRICS) as [RankMetric, ...RankMetric[]];

const args = z.object({
  strategy: strategyArg(),
  symbol: symbolArg(),
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
  params: z
    .record(z.string(), z.string())
    .optional()
    .describe('strategy parameters as name=value, e.g. fast=9 slow=21; a range like fast=5..20:5 sweeps'),
});
type Args = z.infer<typeof args>;

export default defineCommand({
  name: 'backtest',
  summary: 'Backtest a strategy on a market, or sweep its parameters, and send the summary and chart',
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
  ],
  async run(a, ctx) {
    const strategy = await loadStrategy(a.strategy);
    const { fixed, spec } = sweepFromParams(a.params ?? {}, a.sweep);
    if (spec.length > 0 && a.rules === 'engine')
      throw badInput('a sweep runs the plain rules; drop rules=engine, or give one set of parameters');
    if (spec.length > 0) return sweep(strategy, a, fixed, spec, ctx);
    if (a.rank)
      throw badInput(
        'rank orders a sweep, and none was given; add a range like fast=5..20:5 or sweep=fast=5..20:5',
      );
    return single(strategy, a, ctx);
  },
});

interface Loaded {
  period: number;
  title: string;
  progress: Progress;
  started: number;
  data: Awaited<ReturnType<CommandContext['services']['market']['candles']>>;
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
  const period = a.period ?? defaultPeriod(timeframeMs(a.timeframe));
  const title = `${kind} ${strategy.name} ${a.symbol} ${a.timeframe} ${spanName(period)}`;
  const progress = await startProgress(ctx, title);
  const started = Date.now();
  const data = await ctx.services.market.candles({
    symbol: a.symbol,
    timeframe: a.timeframe,
    period,
    warmupBars: warmup + 1,
    signal: ctx.signal,
    onProgress: (f) => void progress.update(f * share, 'loading candles'),
  });
  if (ctx.signal.aborted) throw new AppError('INTERNAL', 'stopped');
  return { period, title, progress, started, data };
}

const elapsed = (l: Loaded) => `done in ${((Date.now() - l.started) / 1000).toFixed(1)} s`;

/** The settings a single run and every run of a sweep share: the config's costs, the candles' timeframe. */
function runSettings(ctx: CommandContext, l: Loaded) {
  const { backtest } = ctx.services.config;
  return {
    capital: backtest.capital,
    fee: backtest.fee,
    slippageBps: backtest.slippageBps,
    timeframeMs: l.data.timeframeMs,
  };
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
    const settings = runSettings(ctx, l);
    ({ result, rules } = await engineBacktest(strategy, a.params ?? {}, data.candles, {
      config,
      // The rules in force now, /risk changes included: what a run started now would trade by.
      risk: ctx.services.engine.risk(),
      logger: ctx.logger,
      symbol: a.symbol,
      capital: settings.capital,
      fee: settings.fee,
      slippageBps: settings.slippageBps,
      timeframeMs: settings.timeframeMs,
      tradeFrom: data.from,
      onProgress: (d) => void progress.update(0.7 + 0.1 * d, 'trading by the engine rules'),
    }));
  } else
    result = runBacktest(strategy, a.params ?? {}, data.candles, {
      ...runSettings(ctx, l),
      tradeFrom: data.from,
    });
  await progress.update(0.8, 'drawing the chart');
  const png = await (
    await ctx.services.charts()
  ).render(backtestChart({ result, symbol: a.symbol }, chartStyle(config)));
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
  // Kept with its chart, so it can be shown again and compared; a journal that fails loses nothing here.
  try {
    const id = await ctx.services.store.backtests.keep(
      keptOf(result, info, { by: ctx.caller.name, rules }),
      png,
    );
    r.line(italic(`Kept as ${id}: /backtests show ${id}, or /compare ${id} with another`));
  } catch (err) {
    ctx.logger.warn({ err: toAppError(err).message }, 'a backtest was not kept');
    r.line(italic(`Not kept in the journal: ${toAppError(err).message}`));
  }
  return r
    .image(png, {
      caption: `${strategy.name} on ${a.symbol} ${a.timeframe}`,
      filename: `backtest-${strategy.name}.png`,
    })
    .buttons([
      { label: `Chart ${a.symbol} ${a.timeframe}`, command: 'chart', args: [a.symbol, a.timeframe] },
      { label: 'Parameters', command: 'strategies', args: [strategy.name] },
    ]);
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
    { ...runSettings(ctx, l), exits: {}, source: data.source, symbol: a.symbol },
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
  const png = await (
    await ctx.services.charts()
  ).render(
    sweepHeatmap(
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
    ),
  );
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
