import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import { spanName } from '../src/market/timeframe.js';

export default defineCommand({
  name: 'settings',
  summary: 'How the engine is set up: mode, feed, paper balance, fees, approvals, reports',
  role: 'viewer',
  args: z.object({}),
  run(_args, ctx) {
    const { config, engine } = ctx.services;
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
        ],
        { align: ['left', 'left'] },
      );
  },
});
