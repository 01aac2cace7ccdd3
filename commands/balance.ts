import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { money, price } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'balance',
  summary: 'Balances per quote currency (paper or live): cash, in positions, equity',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    const engine = ctx.services.engine;
    const rows = engine.quotes().map((q) => {
      const a = engine.account(ctx.services.engine.state, q);
      const start = engine.initialBalance(q);
      return [q, price(a.cash), price(a.equity - a.cash), price(a.equity), money(a.equity - start)];
    });
    const live = ctx.services.trading.mode === 'live';
    return reply()
      .line(
        bold(live ? 'LIVE balances' : 'Paper balances'),
        live
          ? ` (on ${ctx.services.config.exchange.id}, as last synced)`
          : ' (simulated; no real money moves)',
      )
      .table(rows, { header: ['Currency', 'Cash', 'In positions', 'Equity', 'Since start'] });
  },
});
