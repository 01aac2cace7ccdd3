import { z } from 'zod';
import { timeframeArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { scanReply } from '../src/chat/notices.js';

export default defineCommand({
  name: 'scan',
  summary: 'Rank the filtered markets by momentum strength, with the reasons',
  role: 'viewer',
  slow: true,
  args: z.object({
    timeframe: timeframeArg().optional(),
    top: z.coerce.number().int().min(1).max(50).default(10).describe('how many markets to show, 1 to 50'),
  }),
  positional: ['timeframe', 'top'],
  examples: ['scan', 'scan 1h', 'scan 4h 5'],
  async run({ timeframe, top }, ctx) {
    const result = await ctx.services.watch.scan(timeframe, ctx.signal);
    return scanReply(result, top, ctx.services.config.timezone).buttons([
      { label: 'Regime', command: 'regime', args: [] },
      { label: 'Pairlist', command: 'pairlist', args: [] },
    ]);
  },
});
