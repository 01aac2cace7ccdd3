import { z } from 'zod';
import { strategyArg } from '../src/chat/arg-types.js';
import { defineCommand } from '../src/chat/command.js';
import { bold, code, reply } from '../src/chat/reply.js';
import { allowedText, describeParams } from '../src/strategy/params.js';
import { loadAllStrategies, loadStrategy } from '../src/strategy/registry.js';

export default defineCommand({
  name: 'strategies',
  summary: 'The strategies, with their parameters, defaults and bounds',
  role: 'viewer',
  args: z.object({ name: strategyArg().optional() }),
  positional: ['name'],
  examples: ['strategies', 'strategies ema-cross'],
  async run({ name }, _ctx) {
    const list = name === undefined ? await loadAllStrategies() : [await loadStrategy(name)];
    const r = reply();
    for (const s of list) {
      r.line(bold(s.name), ` - ${s.description}`);
      const params = describeParams(s);
      if (params.length > 0)
        r.table(
          params.map((p) => [p.name, String(p.default ?? '-'), allowedText(p)]),
          { header: ['parameter', 'default', 'allowed'], align: ['left', 'right', 'left'] },
        );
    }
    return r.line(
      'Set parameters as name=value, e.g. ',
      code('/backtest ema-cross BTC/USDT 1h 90d fast=9 slow=21'),
    );
  },
});
