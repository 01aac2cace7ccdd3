import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import type { Services } from '../src/chat/command.js';
import { localStamp } from '../src/engine/clock.js';
import { redactUrl } from '../src/redact.js';
import { lastPrunes } from '../src/store/retention.js';

/** The status table, shared with /start. */
export function statusRows(s: Services, now = Date.now()): string[][] {
  const chats = s
    .chats()
    .map((c) => `${c.platform} ${c.state}${c.detail ? ` (${c.detail})` : ''}`)
    .join(', ');
  return [
    ['Version', s.version],
    ['Uptime', uptime(now - s.startedAt)],
    // The mode that trades now, not the configured one: TRADING_MODE=live alone trades paper.
    ['Mode', s.trading.mode === 'live' ? 'live (real orders)' : 'paper (simulated)'],
    ...liveWaits(s),
    [
      'Exchange',
      `${s.config.exchange.id}${s.config.exchange.apiUrl ? ` via ${redactUrl(s.config.exchange.apiUrl)}` : ''}`,
    ],
    ['Market data', s.config.marketData],
    ['Chats', chats || 'none'],
  ];
}

/**
 * The health check, as `/health/ready` answers it: ok, or degraded / failing with each check that
 * is not ok on its own row, in a few words (the JSON has the whole line).
 */
export function healthRows(s: Services): string[][] {
  const r = s.health();
  const rows = [['Health', r.status]];
  for (const c of r.checks) if (c.state !== 'ok') rows.push(['', `${c.name}: ${c.summary}`]);
  return rows;
}

/** With TRADING_MODE=live while paper trades: what live waits for, one short item a row. */
function liveWaits(s: Services): string[][] {
  if (s.config.tradingMode !== 'live') return [];
  return s.trading.liveWaitsFor().map((need, i) => [i === 0 ? 'Live waits' : '', need]);
}

/** 42s, 5m 3s, 3h 12m, 2d 4h */
export function uptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Where the journal is, what retention prunes, and the last prune of each kind: never silent. */
async function journalRows(s: Services): Promise<string[][]> {
  const limited = Object.entries(s.config.store.retention).filter(([, keep]) => keep !== 'keep');
  const rows = [
    ['Journal', `${s.store.where}${s.config.store.url ? ` (instance ${s.store.instance})` : ''}`],
    [
      'Retention',
      limited.length === 0
        ? 'everything kept'
        : `${limited.map(([kind, days]) => `${kind} ${days}d`).join(', ')}; the rest kept`,
    ],
  ];
  for (const p of await lastPrunes(s.store))
    rows.push([
      'Pruned',
      `${p.rows.toLocaleString('en-US')} ${p.kind} older than ${localStamp(p.before, s.config.timezone)}, at ${localStamp(p.at, s.config.timezone)}`,
    ]);
  return rows;
}

export default defineCommand({
  name: 'status',
  summary: 'Version, uptime, trading mode, exchange, chats, health and the journal',
  role: 'viewer',
  args: z.object({}),
  async run(_args, ctx) {
    const r = reply()
      .line(bold('bosun status'))
      .table([
        ...statusRows(ctx.services),
        ...healthRows(ctx.services),
        ...(await journalRows(ctx.services)),
      ]);
    const { config, trading } = ctx.services;
    if (config.tradingMode === 'live' && trading.mode === 'paper') {
      const blocked = trading.liveBlocked();
      r.line(
        blocked
          ? `TRADING_MODE=live, but trading paper: ${blocked}.`
          : 'TRADING_MODE=live, trading paper until an admin sends /mode live and confirms it.',
      );
    }
    return r;
  },
});
