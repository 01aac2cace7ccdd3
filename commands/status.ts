import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import type { Services } from '../src/chat/services.js';

/** The status table, shared with /start. */
export function statusRows(s: Services, now = Date.now()): string[][] {
  const chats = s
    .chats()
    .map((c) => `${c.platform} ${c.state}${c.detail ? ` (${c.detail})` : ''}`)
    .join(', ');
  return [
    ['Version', s.version],
    ['Uptime', uptime(now - s.startedAt)],
    ['Mode', s.config.tradingMode === 'live' ? 'live (real orders)' : 'paper (simulated)'],
    [
      'Exchange',
      `${s.config.exchange.id}${s.config.exchange.apiUrl ? ` via ${s.config.exchange.apiUrl}` : ''}`,
    ],
    ['Market data', s.config.marketData],
    ['Chats', chats || 'none'],
  ];
}

/** 42s, 5m 3s, 3h 12m, 2d 4h */
export function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export default defineCommand({
  name: 'status',
  summary: 'Version, uptime, trading mode, exchange and connected chats',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    return reply().line(bold('bosun status')).table(statusRows(ctx.services));
  },
});
