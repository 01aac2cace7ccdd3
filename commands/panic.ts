import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';

/** Confirmation codes handed out by /panic, one use each, for two minutes. */
const codes = new Map<string, { by: string; expires: number }>();

export default defineCommand({
  name: 'panic',
  summary: 'Cancel open orders, close every position and stop every run (asks for a confirmation)',
  role: 'admin',
  args: z.object({
    confirm: z.string().optional().describe('the confirmation code the /panic button carries'),
  }),
  positional: ['confirm'],
  examples: ['panic'],
  async run({ confirm }, ctx) {
    const engine = ctx.services.engine;
    if (confirm === undefined) {
      const code = randomBytes(6).toString('hex');
      codes.set(code, { by: ctx.caller.name, expires: Date.now() + 120_000 });
      const s = engine.state;
      const runs = Object.values(s.runs).filter((r) => r.state !== 'stopped').length;
      return reply()
        .line(bold(`Panic (${ctx.services.trading.mode})?`))
        .line(
          `This stops ${runs} run(s), cancels open orders and closes ${Object.keys(s.positions).length} position(s) at market.`,
        )
        .buttons([
          { label: 'Yes, close everything', command: 'panic', args: [code], style: 'danger' },
          { label: 'Cancel', command: 'positions', args: [], style: 'secondary' },
        ]);
    }
    const c = codes.get(confirm);
    codes.delete(confirm);
    if (!c || c.expires < Date.now() || c.by !== ctx.caller.name)
      throw badInput(
        'this confirmation is not valid (expired, used, or asked by someone else); send /panic again',
      );
    const detail = await engine.panic(ctx.caller.name);
    return reply().line(bold('Panic done: '), detail, '.');
  },
});
