import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { OneTimeCodes } from '../src/chat/confirm.js';
import { bold, reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';

/** Codes the /panic button carries. */
const codes = new OneTimeCodes();

export default defineCommand({
  name: 'panic',
  summary: 'Cancel open orders, close every position and stop every run (asks for a confirmation)',
  role: 'admin',
  args: z.object({
    confirm: z.string().optional().describe('the confirmation code the /panic button carries'),
    cancel: z.string().optional().describe('the code its Cancel button withdraws'),
  }),
  positional: ['confirm'],
  examples: ['panic'],
  async run({ confirm, cancel }, ctx) {
    const engine = ctx.services.engine;
    if (cancel !== undefined) {
      codes.withdraw(cancel, ctx.caller.name);
      return reply('Cancelled, nothing was done.');
    }
    if (confirm === undefined) {
      const code = codes.issue(ctx.caller.name);
      const s = engine.state;
      const runs = Object.values(s.runs).filter((r) => r.state !== 'stopped').length;
      return reply()
        .line(bold(`Panic (${ctx.services.trading.mode})?`))
        .line(
          `This stops ${runs} run(s), cancels open orders and closes ${Object.keys(s.positions).length} position(s) at market.`,
        )
        .buttons([
          { label: 'Yes, close everything', command: 'panic', args: [code], style: 'danger' },
          { label: 'Cancel', command: 'panic', args: [`cancel=${code}`], style: 'secondary' },
        ]);
    }
    if (!codes.take(confirm, ctx.caller.name))
      throw badInput(
        'this confirmation is not valid (expired, used, or asked by someone else); send /panic again',
      );
    const detail = await engine.panic(ctx.caller.name);
    return reply().line(bold('Panic done: '), detail, '.');
  },
});
