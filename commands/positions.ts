import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { OPEN_HEADER, openRows, price } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';
import { openPositions } from '../src/engine/report.js';
import type { State } from '../src/store/state.js';

export default defineCommand({
  name: 'positions',
  summary: 'Open positions with stops, targets and unrealised PnL, each with a Close button',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    const open = openPositions(ctx.services.engine.state as State);
    if (open.length === 0) return reply('No open positions.');
    const r = reply()
      .line(bold(`Open positions (${open.length})`))
      .table(openRows(open), { header: OPEN_HEADER });
    for (const p of open)
      r.line(
        `${p.id} (run ${p.runId}): stop ${price(p.stop)}${p.targets.length ? `, targets ${p.targets.map(price).join(' / ')}` : ''}`,
      );
    // Five buttons to a row is what Discord allows.
    for (let i = 0; i < open.length && i < 25; i += 5)
      r.buttons(
        open
          .slice(i, i + 5)
          .map((p) => ({ label: `Close ${p.id}`, command: 'close', args: [p.id], style: 'danger' as const })),
      );
    return r;
  },
});
