import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, code, reply } from '../src/chat/reply.js';
import { statusRows } from './status.js';

export default defineCommand({
  name: 'start',
  summary: 'Welcome, and how bosun is doing',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    return reply()
      .line(
        bold(`Hello ${ctx.caller.name}, I am bosun`),
        `, your trading bot. You are ${ctx.caller.role === 'admin' ? 'an' : 'a'} ${ctx.caller.role}.`,
      )
      .table(statusRows(ctx.services))
      .line(
        'Try ',
        code('/backtest ema-cross BTC/USDT 4h 1y'),
        ' or ',
        code('/chart BTC/USDT 1d'),
        '; ',
        code('/help'),
        ' lists everything.',
      )
      .buttons([
        { label: 'Strategies', command: 'strategies', args: [] },
        { label: 'Help', command: 'help', args: [] },
      ]);
  },
});
