import { z } from 'zod';
import { compareRows, overlapNote } from '../src/backtest/kept.js';
import { chartStyle, keptChart } from '../src/charts/index.js';
import { defineCommand } from '../src/chat/command.js';
import { bold, italic, reply } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';
import type { KeptBacktest } from '../src/store/backtests.js';

const idArg = () =>
  z
    .string()
    .regex(/^[Bb][0-9A-Za-z]{5}$/)
    .describe('a kept backtest id like B7K2QF (see /backtests)');

export default defineCommand({
  name: 'compare',
  summary: 'Kept backtests side by side, with their equity curves on one chart',
  role: 'viewer',
  args: z.object({ first: idArg(), second: idArg(), third: idArg().optional() }),
  positional: ['first', 'second', 'third'],
  examples: ['compare B7K2QF B3MX9A', 'compare B7K2QF B3MX9A BQ4TZ7'],
  async run({ first, second, third }, ctx) {
    const ids = [first, second, ...(third ? [third] : [])].map((id) => id.toUpperCase());
    if (new Set(ids).size < ids.length)
      throw badInput(`${ids.join(', ')}: give different backtests to compare`);
    const kept: KeptBacktest[] = [];
    for (const id of ids) kept.push(await ctx.services.store.backtests.get(id));
    const rows = compareRows(kept);
    const chart = keptChart(kept, chartStyle(ctx.services.config));
    const png = await (await ctx.services.charts()).render(chart);
    const r = reply()
      .line(bold(`Backtests ${ids.join(', ')}`))
      .table(rows.slice(1), { header: rows[0]! });
    const apart = overlapNote(kept);
    if (apart) r.line(italic(apart));
    return r.image(png, {
      caption: `equity of ${ids.join(', ')}`,
      filename: `compare-${ids.join('-')}.png`,
      chart,
    });
  },
});
