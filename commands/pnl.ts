import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { pct } from '../src/backtest/summary.js';
import { money } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';
import { localStamp, startOfPeriod } from '../src/engine/clock.js';
import { winRate } from '../src/engine/report.js';

export default defineCommand({
  name: 'pnl',
  summary: 'Profit and loss for the day, week, month or all time',
  role: 'viewer',
  args: z.object({
    period: z.enum(['day', 'week', 'month', 'all']).default('day').describe('day, week, month or all'),
  }),
  positional: ['period'],
  async run({ period }, ctx) {
    const engine = ctx.services.engine;
    const tz = ctx.services.config.timezone;
    const now = engine.feed.now();
    const from = period === 'all' ? Number.NEGATIVE_INFINITY : startOfPeriod(now, tz, period);
    const reports = await Promise.all(engine.quotes().map((q) => engine.performance(q, from, now)));
    const rows = reports.map((p) => {
      const q = p.quote;
      const won = winRate(p.windowWins, p.windowLosses);
      const rate = won === undefined ? '-' : `${(won * 100).toFixed(1)}%`;
      return [
        q,
        money(p.windowPnl),
        money(p.windowRealized),
        String(p.windowTrades),
        rate,
        pct(p.initial ? p.windowPnl / p.initial : 0),
      ];
    });
    const since = period === 'all' ? 'since the start' : `since ${localStamp(from, tz)} ${tz}`;
    return reply()
      .line(
        bold(`PnL ${period === 'all' ? 'all time' : `this ${period}`}`),
        ` (${since}, by the engine's clock)`,
      )
      .table(rows, { header: ['Currency', 'PnL', 'Realised', 'Trades', 'Win rate', 'Of start'] });
  },
});
