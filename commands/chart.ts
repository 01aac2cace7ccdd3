import { z } from 'zod';
import { symbolArg, timeframeArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { italic, reply } from '../src/chat/reply.js';
import {
  chartStyle,
  INDICATOR_WARMUP,
  INDICATORS_ALLOWED,
  marketChart,
  parseIndicators,
} from '../src/charts/index.js';
import { timeframeMs } from '../src/market/timeframe.js';

const SWITCH_TO = ['15m', '1h', '4h', '1d'];

export default defineCommand({
  name: 'chart',
  summary: 'Draw a market chart with indicators',
  role: 'viewer',
  slow: true,
  args: z.object({
    symbol: symbolArg(),
    timeframe: timeframeArg().default('1h'),
    indicators: z.string().max(200).default('ema20,ema50').describe(INDICATORS_ALLOWED),
    bars: z.number().int().min(20).max(1000).default(120).describe('how many candles to draw, 20 to 1000'),
  }),
  positional: ['symbol', 'timeframe', 'indicators'],
  examples: ['chart BTC/USDT', 'chart BTC/USDT 4h ema20,bb,rsi', 'chart BTC/USDT 1d sma50,macd bars=300'],
  async run(args, ctx) {
    const indicators = parseIndicators(args.indicators);
    const tfMs = timeframeMs(args.timeframe);
    const data = await ctx.services.market.candles({
      symbol: args.symbol,
      timeframe: args.timeframe,
      period: args.bars * tfMs,
      warmupBars: INDICATOR_WARMUP,
      signal: ctx.signal,
    });
    const doc = marketChart(
      {
        symbol: args.symbol,
        timeframe: args.timeframe,
        candles: data.candles,
        bars: args.bars,
        indicators,
        source: data.source,
      },
      chartStyle(ctx.services.config),
    );
    const png = await (await ctx.services.charts()).render(doc);
    const r = reply();
    if (data.note) r.line(italic(data.note));
    return r
      .image(png, {
        caption: `${args.symbol} ${args.timeframe} (${args.indicators})`,
        filename: `chart-${args.timeframe}.png`,
        chart: doc,
      })
      .buttons(
        SWITCH_TO.filter((tf) => tf !== args.timeframe).map((tf) => ({
          label: tf,
          command: 'chart',
          args: [args.symbol, tf, args.indicators, `bars=${args.bars}`],
        })),
      );
  },
});
