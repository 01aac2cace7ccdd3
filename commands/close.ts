import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { tradeLine } from '../src/chat/notices.js';
import { reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'close',
  summary: 'Close an open position (or all) at the market price now',
  role: 'trader',
  args: z.object({
    id: z
      .string()
      .regex(/^([Pp]\d+|all)$/)
      .describe('a position id like P12 (see /positions), or all'),
  }),
  positional: ['id'],
  examples: ['close P12', 'close all'],
  async run({ id }, ctx) {
    if (id === 'all' && Object.keys(ctx.services.store.data.positions).length === 0)
      return reply('No open positions.');
    const trades = await ctx.services.engine.closePositions(id, ctx.caller.name);
    if (trades.length === 0) return reply(`${id.toUpperCase()} had closed already (a stop or target).`);
    const r = reply();
    for (const t of trades) r.line(`Closed ${tradeLine(t)}`);
    return r;
  },
});
