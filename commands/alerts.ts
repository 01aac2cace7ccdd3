import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { alertText } from '../src/chat/price-alerts.js';
import { reply } from '../src/chat/reply.js';
import { AppError } from '../src/errors.js';

export default defineCommand({
  name: 'alerts',
  summary: 'The alerts set with /alert: on ones first, then those that fired or ended',
  role: 'viewer',
  args: z.object({}),
  examples: ['alerts'],
  run(_args, ctx) {
    const alerts = ctx.services.alerts;
    if (!alerts) throw new AppError('INTERNAL', 'alerts are not running yet; try again in a moment');
    const list = alerts.list();
    if (list.length === 0) return reply('No alerts. Set one with /alert BTC/USDT > 70000 (see /help alert).');
    return reply()
      .line(`Alerts (${list.length})`)
      .table(
        list.slice(0, 30).map((x) => [x.id, alertText(x), x.armed ? 'on' : (x.why ?? 'off'), x.by]),
        { header: ['Id', 'When', 'State', 'By'] },
      )
      .line('/alert off ID removes one.');
  },
});
