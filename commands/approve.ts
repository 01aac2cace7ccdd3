import { z } from 'zod';
import { signalIdArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'approve',
  summary: 'Approve a signal waiting for approval (the Approve button does this)',
  role: 'trader',
  args: z.object({
    id: signalIdArg(),
    size: z.enum(['full', 'half']).default('full').describe('full (default) or half'),
  }),
  positional: ['id', 'size'],
  examples: ['approve S12', 'approve S12 half'],
  async run({ id, size }, ctx) {
    const out = await ctx.services.engine.decide(id, size === 'half' ? 'half' : 'approve', ctx.caller.name);
    return out.ok ? reply(out.message) : reply(out.message).privately().nothingDone();
  },
});
