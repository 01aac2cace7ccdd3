import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { runTitle } from '../src/chat/notices.js';
import { reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'stop',
  summary: 'Stop a run (or all): no new signals; open positions keep their stops and targets',
  role: 'trader',
  args: z.object({
    id: z
      .string()
      .regex(/^([Rr]\d+|all)$/)
      .describe('a run id like R3 (see /runs), or all'),
  }),
  positional: ['id'],
  examples: ['stop R3', 'stop all'],
  async run({ id }, ctx) {
    const stopped = await ctx.services.engine.stopRun(
      id === 'all' ? 'all' : id.toUpperCase(),
      ctx.caller.name,
    );
    if (stopped.length === 0) return reply('Nothing was running.');
    const open = Object.values(ctx.services.engine.state.positions).filter((p) =>
      stopped.some((r) => r.id === p.runId),
    );
    const r = reply();
    for (const run of stopped) r.line(`Stopped ${run.id}: ${runTitle(run)}.`);
    if (open.length > 0)
      r.line(
        `Still open with their stops and targets: ${open.map((p) => p.id).join(', ')}. /close ID closes one now.`,
      );
    return r;
  },
});
