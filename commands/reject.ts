import { z } from 'zod';
import { signalIdArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'reject',
  summary: 'Reject a signal waiting for approval (the Reject button does this)',
  role: 'trader',
  args: z.object({
    id: signalIdArg(),
  }),
  positional: ['id'],
  examples: ['reject S12'],
  async run({ id }, ctx) {
    const out = await ctx.services.engine.decide(id, 'reject', ctx.caller.name);
    return out.ok ? reply(out.message) : reply(out.message).privately().nothingDone();
  },
});
