import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { reportWithChart } from '../src/chat/notices.js';
import { startOfDay } from '../src/engine/clock.js';

export default defineCommand({
  name: 'daily',
  summary: 'The daily report now: PnL, win rate, trades, open positions and the performance chart',
  role: 'viewer',
  slow: true,
  args: z.object({}),
  async run(_args, ctx) {
    const { engine, config } = ctx.services;
    const now = engine.feed.now();
    const quotes = engine.quotes();
    for (const [i, q] of quotes.entries()) {
      const rep = await engine.performance(q, startOfDay(now, config.timezone), now);
      const r = await reportWithChart(rep, 'Report so far today', ctx.services, ctx.logger);
      if (i === quotes.length - 1) return r;
      await ctx.send(r);
    }
    return undefined;
  },
});
