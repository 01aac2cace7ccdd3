import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import { localStamp } from '../src/engine/clock.js';
import { spanName } from '../src/market/timeframe.js';
import { FIRST_START } from '../src/engine/settings-history.js';
import type { StateStore } from '../src/store/state.js';

/** A value as the history shows it: unset for none, long ones shortened. */
const shown = (v: string | null) => (v === null ? 'unset' : v.length > 40 ? `${v.slice(0, 39)}…` : v);

async function history(store: StateStore, n: number, tz: string) {
  const [changes, baseline] = await Promise.all([
    store.journal.settingsHistory(n, { except: FIRST_START }),
    store.journal.settingsBy(FIRST_START),
  ]);
  const first =
    baseline.at === undefined
      ? undefined
      : `The ${baseline.count} settings of the first start (${localStamp(baseline.at, tz)}) are the baseline; changes are measured from them.`;
  if (changes.length === 0)
    return reply(
      first ? `No settings changed since the first start. ${first}` : 'No settings changes recorded yet.',
    );
  const r = reply()
    .line(bold(`Last ${changes.length} settings changes`), ` (newest first, times in ${tz})`)
    .table(
      changes.map((c) => [
        localStamp(c.at, tz),
        c.who,
        c.book === 'live' ? `${c.key} (live)` : c.key,
        `${shown(c.old)} → ${shown(c.new)}`,
      ]),
      { header: ['When', 'Who', 'Setting', 'Change'] },
    );
  return first ? r.line(first) : r;
}

export default defineCommand({
  name: 'settings',
  summary: 'How the engine is set up: mode, feed, paper balance, fees, approvals, reports',
  role: 'viewer',
  args: z.object({
    action: z.enum(['history']).optional().describe('history: the recent settings changes'),
    n: z.coerce.number().int().min(1).max(50).default(15).describe('how many changes, 1 to 50 (default 15)'),
  }),
  positional: ['action', 'n'],
  examples: ['settings', 'settings history', 'settings history 30'],
  async run({ action, n }, ctx) {
    const { config, engine } = ctx.services;
    if (action === 'history') return history(ctx.services.store, n, config.timezone);
    const st = engine.settings;
    return reply()
      .line(bold('Engine settings'), ' (risk rules: /risk)')
      .table(
        [
          ['Mode', ctx.services.trading.mode === 'live' ? 'live' : 'paper (simulated fills)'],
          ['Market feed', engine.feed.describe()],
          [
            'Paper balance',
            Object.entries(st.paperBalance)
              .map(([q, v]) => `${v} ${q}`)
              .join(', '),
          ],
          ['Fee per side', `${+(st.fee * 100).toFixed(4)}%`],
          ['Slippage', `${st.slippageBps} bps on market fills`],
          ['Approval timeout', spanName(st.approvalTimeoutMs)],
          [
            'Daily report',
            `${st.reportTime} ${st.timezone}${engine.feed.accelerated ? ' (on the replay clock)' : ''}`,
          ],
          ['Data directory', config.dataDir],
          [
            'Journal',
            `${ctx.services.store.where}${config.store.url ? ` (instance ${config.store.instance})` : ''}`,
          ],
        ],
        { align: ['left', 'left'] },
      );
  },
});
