import { z } from 'zod';
import { positionIdArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { price, tradeLine } from '../src/chat/notices.js';
import { reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';

export default defineCommand({
  name: 'exit',
  summary: 'Close a position, or a share of it (50%), at the market price now',
  role: 'trader',
  args: z.object({
    id: positionIdArg(),
    share: z
      .string()
      .regex(/^\d+(\.\d+)?%$/)
      .default('100%')
      .describe('how much of it to close, e.g. 50% (default all)'),
  }),
  positional: ['id', 'share'],
  examples: ['exit P12', 'exit P12 50%'],
  async run({ id, share }, ctx) {
    const part = Number(share.slice(0, -1)) / 100;
    if (!(part > 0 && part <= 1))
      throw badInput(`share ${share} is out of range; allowed: above 0% up to 100%`);
    const out = await ctx.services.engine.closePositions(id, ctx.caller.name, part);
    const r = reply();
    for (const n of out.refused) r.line(`${n.id} was not closed: ${n.reason}.`);
    for (const p of out.parts ?? [])
      r.line(
        `Closed ${+p.fill.quantity.toPrecision(8)} of ${p.position.id} ${p.position.symbol} at ${price(p.fill.price)}: ${p.fill.pnl >= 0 ? '+' : ''}${p.fill.pnl.toFixed(2)} ${p.position.quote}; ${+p.position.qty.toPrecision(8)} stays open.`,
      );
    for (const t of out.trades) r.line(`Closed ${tradeLine(t)}`);
    for (const o of out.ordered)
      r.line(
        `Selling ${o.amount} ${o.symbol} of ${o.positionId} at market (order ${o.id}); the fill follows.`,
      );
    if (r.blocks.length === 0) return reply(`${id.toUpperCase()} had closed already.`).nothingDone();
    if (out.trades.length + out.ordered.length + (out.parts?.length ?? 0) === 0) r.nothingDone();
    return r;
  },
});
