import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { localStamp } from '../src/engine/clock.js';
import { pct } from '../src/backtest/summary.js';
import { money, price, qty } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'trades',
  summary: 'The last closed trades',
  role: 'viewer',
  args: z.object({
    n: z.coerce.number().int().min(1).max(50).default(10).describe('how many, 1 to 50 (default 10)'),
  }),
  positional: ['n'],
  async run({ n }, ctx) {
    const journal = ctx.services.engine.store.journal;
    const { trades: total } = await journal.tradeCounts();
    if (total === 0) return reply('No closed trades yet.');
    const tz = ctx.services.config.timezone;
    const last = (await journal.trades({ limit: n })).reverse();
    return reply()
      .line(bold(`Last ${last.length} of ${total} trades`), ` (times in ${tz})`)
      .table(
        last.map((t) => [
          t.id,
          localStamp(t.exitTime, tz),
          t.symbol,
          t.side,
          qty(t.quantity),
          price(t.entryPrice),
          price(t.exitPrice),
          money(t.pnl),
          pct(t.returnPct),
          t.exitReason,
        ]),
        { header: ['Id', 'Closed', 'Symbol', 'Side', 'Qty', 'Entry', 'Exit', 'PnL', 'Return', 'Why'] },
      );
  },
});
