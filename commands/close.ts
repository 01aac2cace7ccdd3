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
    if (id === 'all' && Object.keys(ctx.services.engine.state.positions).length === 0)
      return reply('No open positions.');
    const { trades, ordered, refused } = await ctx.services.engine.closePositions(id, ctx.caller.name);
    if (trades.length === 0 && ordered.length === 0 && refused.length === 0)
      return reply(`${id.toUpperCase()} had closed already.`).nothingDone();
    const r = reply();
    for (const n of refused) r.line(`${n.id} was not closed: ${n.reason}.`);
    for (const t of trades) r.line(`Closed ${tradeLine(t)}`);
    for (const o of ordered)
      r.line(
        `Selling ${o.amount} ${o.symbol} of ${o.positionId} at market (order ${o.id}); the fill follows.`,
      );
    return r;
  },
});
