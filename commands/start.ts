import { z } from 'zod';
import { strategyArg, symbolArg, timeframeArg } from '../src/chat/arg-types.js';
import { chatKey, defineCommand } from '../src/chat/command.js';
import { runTitle } from '../src/chat/notices.js';
import { bold, code, reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';
import { statusRows } from './status.js';

export default defineCommand({
  name: 'start',
  summary: 'Start a strategy run (traders), or without arguments: welcome and status',
  role: 'viewer',
  args: z.object({
    strategy: strategyArg().optional(),
    symbol: symbolArg().optional(),
    timeframe: timeframeArg().optional(),
    approve: z
      .enum(['auto', 'manual'])
      .default('manual')
      .describe('manual (each signal waits for Approve) or auto'),
    params: z
      .record(z.string(), z.string())
      .optional()
      .describe('strategy parameters as name=value, e.g. fast=9 slow=21'),
  }),
  positional: ['strategy', 'symbol', 'timeframe'],
  rest: 'params',
  needs: ({ strategy }) => (strategy === undefined ? undefined : { role: 'trader', what: 'starting a run' }),
  examples: ['start', 'start ema-cross BTC/USDT 15m fast=9 slow=21 approve=auto'],
  async run(args, ctx) {
    const { caller, services } = ctx;
    if (args.strategy === undefined) {
      return reply()
        .line(
          bold(`Hello ${caller.name}, I am bosun`),
          `, your trading bot. You are ${caller.role === 'admin' ? 'an' : 'a'} ${caller.role}.`,
        )
        .table(statusRows(services))
        .line(
          'Try ',
          code('/runs'),
          ', ',
          code('/positions'),
          ', ',
          code('/backtest ema-cross BTC/USDT 4h 1y'),
          ' or ',
          code('/start ema-cross BTC/USDT 15m'),
          '; ',
          code('/help'),
          ' lists everything.',
        )
        .buttons([
          { label: 'Strategies', command: 'strategies', args: [] },
          { label: 'Help', command: 'help', args: [] },
        ]);
    }
    if (args.symbol === undefined || args.timeframe === undefined)
      throw badInput('a run needs STRATEGY SYMBOL TIMEFRAME, e.g. /start ema-cross BTC/USDT 15m');
    const run = await services.engine.startRun(
      {
        strategy: args.strategy,
        symbol: args.symbol,
        timeframe: args.timeframe,
        params: args.params ?? {},
        approve: args.approve,
      },
      caller.name,
    );
    // The chat that starts a run hears about it, unless it chose its notifications already (a
    // script on the JSON API is no chat: its notices go to WEBHOOK_URL).
    const key = chatKey(ctx.chat);
    const subscribed = key in services.store.data.subscriptions || ctx.chat.platform === 'api';
    if (!subscribed)
      await services.store.update((s) => {
        s.subscriptions[key] = { since: Date.now(), muted: [] };
      });
    const params = Object.entries(run.params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    const r = reply().line(bold(`Run ${run.id} started`), `: ${runTitle(run)}, ${run.approve} approval`);
    // A warm-up the feed can never supply: say so now, not after days of silence.
    const shortfall = services.engine.warmupShortfall(run.id);
    if (shortfall) r.line(bold('Warning: '), shortfall);
    return r
      .line(params ? `Parameters: ${params}` : 'Default parameters.')
      .line(`It acts on closed candles from ${services.engine.feed.describe()}.`)
      .line(
        subscribed
          ? 'Notifications go to the subscribed chats.'
          : 'This chat is now subscribed to its notifications (/unsubscribe to stop).',
      )
      .buttons([
        { label: 'Runs', command: 'runs', args: [], once: false },
        { label: `Stop ${run.id}`, command: 'stop', args: [run.id], style: 'danger' },
      ]);
  },
});
