import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { money, price } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'balance',
  summary: 'Paper balances per quote currency: cash, in positions, equity',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    const engine = ctx.services.engine;
    const rows = engine.quotes().map((q) => {
      const a = engine.account(ctx.services.engine.state, q);
      const start = engine.initialBalance(q);
      return [q, price(a.cash), price(a.equity - a.cash), price(a.equity), money(a.equity - start)];
    });
    return reply()
      .line(bold('Paper balances'), ' (simulated; no real money moves)')
      .table(rows, { header: ['Currency', 'Cash', 'In positions', 'Equity', 'Since start'] });
  },
});
