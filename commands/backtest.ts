import { z } from 'zod';
import { runBacktest } from '../src/backtest/run.js';
import { candleInfo, summaryRows } from '../src/backtest/summary.js';
import { periodArg, strategyArg, symbolArg, timeframeArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { startProgress } from '../src/chat/progress.js';
import { bold, italic, reply } from '../src/chat/reply.js';
import { backtestChart, chartStyle } from '../src/charts/index.js';
import { AppError } from '../src/errors.js';
import { spanName, timeframeMs } from '../src/market/timeframe.js';
import { parseParams } from '../src/strategy/params.js';
import { loadStrategy } from '../src/strategy/registry.js';

/** Without a period: 90 days, or 500 bars when that is longer. */
const defaultPeriod = (tfMs: number) => Math.max(90 * 86_400_000, 500 * tfMs);

export default defineCommand({
  name: 'backtest',
  summary: 'Backtest a strategy on a market and send the summary and chart',
  role: 'viewer',
  slow: true,
  args: z.object({
    strategy: strategyArg(),
    symbol: symbolArg(),
    timeframe: timeframeArg(),
    period: periodArg().optional(),
    params: z
      .record(z.string(), z.string())
      .optional()
      .describe('strategy parameters as name=value, e.g. fast=9 slow=21'),
  }),
  positional: ['strategy', 'symbol', 'timeframe', 'period'],
  rest: 'params',
  examples: ['backtest ema-cross BTC/USDT 1h 90d fast=9 slow=21', 'backtest rsi-reversion BTC/USDT 4h 1y'],
  async run(args, ctx) {
    const strategy = await loadStrategy(args.strategy);
    const params = parseParams(strategy, args.params ?? {});
    const tfMs = timeframeMs(args.timeframe);
    const period = args.period ?? defaultPeriod(tfMs);
    const title = `Backtest ${strategy.name} ${args.symbol} ${args.timeframe} ${spanName(period)}`;
    const progress = await startProgress(ctx, title);
    const started = Date.now();

    const data = await ctx.services.market.candles({
      symbol: args.symbol,
      timeframe: args.timeframe,
      period,
      warmupBars: strategy.warmup(params) + 1,
      signal: ctx.signal,
      onProgress: (f) => void progress.update(f * 0.7, 'loading candles'),
    });
    if (ctx.signal.aborted) throw new AppError('INTERNAL', 'stopped');
    await progress.update(0.7, 'simulating');
    const { config } = ctx.services;
    const result = runBacktest(strategy, args.params ?? {}, data.candles, {
      capital: config.backtest.capital,
      fee: config.backtest.fee,
      slippageBps: config.backtest.slippageBps,
      timeframeMs: data.timeframeMs,
      tradeFrom: data.from,
    });
    await progress.update(0.8, 'drawing the chart');
    const png = await (
      await ctx.services.charts()
    ).render(backtestChart({ result, symbol: args.symbol }, chartStyle(config)));
    await progress.done(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const m = result.metrics;
    const sign = m.totalReturn >= 0 ? '+' : '';
    const r = reply().line(
      bold(title),
      `: ${sign}${(m.totalReturn * 100).toFixed(2)}% over ${m.trades} trades`,
    );
    if (data.note) r.line(italic(data.note));
    const info = candleInfo(result, data.source, args.symbol);
    return r
      .table(
        summaryRows(result, info).map(([k, v]) => [k, v]),
        { align: ['left', 'left'] },
      )
      .image(png, {
        caption: `${strategy.name} on ${args.symbol} ${args.timeframe}`,
        filename: `backtest-${strategy.name}.png`,
      })
      .buttons([
        {
          label: `Chart ${args.symbol} ${args.timeframe}`,
          command: 'chart',
          args: [args.symbol, args.timeframe],
        },
        { label: 'Parameters', command: 'strategies', args: [strategy.name] },
      ]);
  },
});
