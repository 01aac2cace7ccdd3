import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import { OneTimeCodes } from '../src/chat/confirm.js';
import { AppError, badInput } from '../src/errors.js';

/** Codes the /mode live button carries. */
const codes = new OneTimeCodes();

export default defineCommand({
  name: 'mode',
  summary: 'Show paper or live trading; admins switch (live asks for a confirmation)',
  role: 'viewer',
  args: z.object({
    mode: z
      .enum(['show', 'paper', 'live'])
      .default('show')
      .describe('show (default), paper or live (admins)'),
    confirm: z.string().optional().describe('the confirmation code the /mode live button carries'),
    cancel: z.string().optional().describe('the code its Cancel button withdraws'),
  }),
  positional: ['mode', 'confirm'],
  needs: ({ mode }) =>
    mode === 'show' ? undefined : { role: 'admin', what: 'switching between paper and live' },
  examples: ['mode', 'mode live', 'mode paper'],
  async run({ mode, confirm, cancel }, ctx) {
    const trading = ctx.services.trading;
    if (cancel !== undefined) {
      codes.withdraw(cancel, ctx.caller.name);
      return reply(
        `Cancelled, nothing was done: still ${trading.mode === 'live' ? 'trading LIVE' : 'paper trading'}.`,
      );
    }
    if (mode === 'show') {
      const r = reply().line(bold('Trading mode: '), trading.mode === 'live' ? 'LIVE' : 'paper');
      if (trading.mode === 'live') {
        const l = trading.engine.state.live;
        r.line(`Confirmed by ${l.confirmedBy ?? '?'}; orders go to ${ctx.services.config.exchange.id}.`);
      } else r.line(trading.liveBlocked() ?? 'Live trading is possible: an admin can /mode live.');
      return r;
    }
    if (mode === 'paper') {
      if (trading.mode === 'paper') return reply('Already paper trading.');
      const open = await trading.goPaper(ctx.caller.name);
      return reply(
        `Paper trading now.${open ? ` ${open} live position(s) stay on the exchange with their exchange stops; /mode live manages them again.` : ''}`,
      );
    }
    if (trading.mode === 'live') return reply('Already trading live.');
    const blocked = trading.liveBlocked();
    if (blocked) throw new AppError('FORBIDDEN', `live trading refused: ${blocked}`);
    if (confirm === undefined) {
      const code = codes.issue(ctx.caller.name);
      return reply()
        .line(bold('Switch to LIVE trading?'))
        .line(
          `Orders will go to ${ctx.services.config.exchange.id} with real money. Paper runs stop; live runs start from the live state. The button is valid for 2 minutes, for you only.`,
        )
        .buttons([
          { label: 'Confirm live trading', command: 'mode', args: ['live', code], style: 'danger' },
          { label: 'Cancel', command: 'mode', args: ['live', `cancel=${code}`], style: 'secondary' },
        ]);
    }
    if (!codes.take(confirm, ctx.caller.name))
      throw badInput(
        'this confirmation is not valid (expired, used, or asked by someone else); send /mode live again',
      );
    await trading.goLive(ctx.caller.name);
    return reply().line(bold('LIVE trading is on.'), ' /mode paper switches back; /panic stops everything.');
  },
});
