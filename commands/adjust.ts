import { z } from 'zod';
import { positionIdArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { ladderOf, manualArgs } from '../src/chat/manual-args.js';
import { reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';

export default defineCommand({
  name: 'adjust',
  summary: "Move an open position's stop or take-profit targets",
  role: 'trader',
  args: z.object({
    id: positionIdArg(),
    stop: manualArgs.stop.describe('the new stop price'),
    tp: manualArgs.tp.describe('the new take-profit prices, nearest first, comma-separated'),
  }),
  positional: ['id'],
  examples: ['adjust P12 stop=61500', 'adjust P12 tp=66000,68000', 'adjust P12 stop=62000 tp=70000'],
  async run({ id, stop, tp }, ctx) {
    if (stop === undefined && tp === undefined)
      throw badInput('nothing to change; allowed: stop=PRICE, tp=PRICE[,PRICE...] or both');
    const said = await ctx.services.engine.adjust(id, { stop, targets: ladderOf(tp) }, ctx.caller.name);
    return reply(`Adjusted ${said}.`);
  },
});
