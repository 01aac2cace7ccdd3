import { z } from 'zod';
import { keptRows, listLines, togetherTables } from '../src/backtest/kept.js';
import { chartStyle, keptChart } from '../src/charts/index.js';
import { defineCommand } from '../src/chat/command.js';
import { bold, code, italic, reply } from '../src/chat/reply.js';

const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export default defineCommand({
  name: 'backtests',
  summary: 'The kept backtests: the newest, or one shown again as it ran',
  role: 'viewer',
  args: z.object({
    action: z.enum(['list', 'show']).optional().describe('list (default) or show'),
    id: z
      .string()
      .regex(/^[Bb][0-9A-Za-z]{5}$/)
      .optional()
      .describe('a kept backtest id like B7K2QF (see /backtests)'),
  }),
  positional: ['action', 'id'],
  examples: ['backtests', 'backtests show B7K2QF'],
  async run({ action = 'list', id }, ctx) {
    const archive = ctx.services.store.backtests;
    if (action === 'show') {
      if (id === undefined) return reply('Which one? /backtests show ID, the ids are in /backtests.');
      const k = await archive.get(id);
      const r = reply()
        .line(bold(`Backtest ${k.id}`), `: ${k.strategy} ${k.candles.symbol ?? ''} ${k.candles.timeframe}`)
        .table(keptRows(k), { align: ['left', 'left'] });
      for (const t of togetherTables(k, money)) r.line(bold(t.title)).table(t.rows, { header: t.header });
      // The chart as it was sent; a run that drew none (the CLI's) gets one of its kept equity curve.
      const chart = k.chart ? undefined : keptChart([k], chartStyle(ctx.services.config));
      const png = k.chart ?? (await (await ctx.services.charts()).render(chart!));
      return r.image(png, {
        chart,
        caption: `${k.id}: ${k.strategy}${k.chart ? '' : ' (its equity curve: the run drew no chart)'}`,
        filename: `backtest-${k.id}.png`,
      });
    }
    if (id !== undefined) return reply(`/backtests list takes no id; to see one: /backtests show ${id}`);
    const list = await archive.list(10);
    if (list.length === 0)
      return reply('No backtests kept yet: every /backtest is kept, and so is every npm run backtest.');
    const r = reply().line(bold('Kept backtests'), ' (newest first)');
    for (const b of listLines(list))
      r.line(code(b.id), ` ${b.what}: ${b.result}`).line(italic(`   ${b.when}`));
    const total = await archive.count();
    if (total > list.length) r.line(italic(`the newest ${list.length} of ${total}`));
    return r.line('Show one: ', code('/backtests show ID'), '; side by side: ', code('/compare ID ID'));
  },
});
