import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { reportReply } from '../src/chat/notices.js';
import { chartStyle, performanceChart } from '../src/charts/index.js';
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
    const tz = config.timezone;
    const quotes = engine.quotes();
    for (const [i, q] of quotes.entries()) {
      const rep = engine.performance(q, startOfDay(now, tz), now);
      const r = reportReply(rep, 'Report so far today', tz);
      const doc = performanceChart(rep.days, `Performance · ${q}`, q, chartStyle(config));
      r.image(await (await ctx.services.charts()).render(doc), {
        caption: `Equity and daily PnL, ${q}`,
        filename: 'performance.png',
      });
      if (i === quotes.length - 1) return r;
      await ctx.send(r);
    }
    return undefined;
  },
});
