import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, italic, reply } from '../src/chat/reply.js';
import { FILTER_HELP, type PairlistFilters } from '../src/engine/pairlist.js';

const show = (f: PairlistFilters) =>
  (Object.keys(FILTER_HELP) as Array<keyof PairlistFilters>).map((k) => {
    const v = f[k];
    return [k, Array.isArray(v) ? v.join(',') || '-' : String(v), FILTER_HELP[k]];
  });

export default defineCommand({
  name: 'pairlist',
  summary: 'Show the market filters and the markets they keep; admins change them',
  role: 'viewer',
  slow: true,
  args: z.object({
    action: z
      .enum(['show', 'refresh', 'reset'])
      .default('show')
      .describe('show (default), refresh the tickers, or reset (admins)'),
    changes: z
      .record(z.string(), z.string())
      .optional()
      .describe('filters to change as name=value, e.g. minVolume=5000000 (admins)'),
  }),
  positional: ['action'],
  rest: 'changes',
  needs: ({ action, changes }) =>
    action === 'reset' || Object.keys(changes ?? {}).length > 0
      ? { role: 'admin', what: 'changing the market filters' }
      : undefined,
  examples: ['pairlist', 'pairlist refresh', 'pairlist minVolume=5000000 deny=LUNA/USDT', 'pairlist reset'],
  async run({ action, changes }, ctx) {
    const watch = ctx.services.watch;
    const changing = action === 'reset' || (changes !== undefined && Object.keys(changes).length > 0);
    const out = reply();
    if (action === 'reset') {
      await watch.resetFilters(ctx.caller.name);
      out.line(bold('Market filters reset'), ` to the configuration by ${ctx.caller.name}.`);
    } else if (changes && Object.keys(changes).length > 0) {
      // All or nothing: one bad value leaves every filter as it was.
      await watch.setFilters(changes, ctx.caller.name);
      out.line(
        bold('Market filters changed'),
        ` by ${ctx.caller.name}: ${Object.entries(changes)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    const list = await watch.pairlist(action === 'refresh' || changing);
    out.line(
      bold(`${list.pairs.length} market${list.pairs.length === 1 ? '' : 's'}`),
      ` from ${list.source}: ${list.pairs.map((p) => p.symbol).join(', ') || 'none'}`,
    );
    if (list.dropped.length > 0)
      out.line(
        italic(
          `Left out ${list.dropped.length}: ${list.dropped
            .slice(0, 5)
            .map((d) => `${d.symbol} (${d.reason})`)
            .join('; ')}${list.dropped.length > 5 ? '; ...' : ''}`,
        ),
      );
    return out.table(show(watch.filters()), { header: ['Filter', 'Value', 'Meaning'] });
  },
});
