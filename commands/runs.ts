import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { money } from '../src/chat/notices.js';
import { bold, reply } from '../src/chat/reply.js';

export default defineCommand({
  name: 'runs',
  summary: 'Strategy runs: state, last signal and PnL',
  role: 'viewer',
  args: z.object({
    all: z.enum(['all']).optional().describe('all: include stopped runs'),
  }),
  positional: ['all'],
  run({ all }, ctx) {
    const s = ctx.services.engine.state;
    const runs = Object.values(s.runs).filter((r) => all || r.state !== 'stopped');
    if (runs.length === 0) {
      const stopped = Object.keys(s.runs).length;
      return reply(
        `${stopped > 0 ? `No active runs (${stopped} stopped: /runs all lists them).` : 'No runs.'} Start one with /start STRATEGY SYMBOL TIMEFRAME, e.g. /start ema-cross BTC/USDT 15m.`,
      );
    }
    const rows = runs.map((r) => {
      const pos = Object.values(s.positions).find((p) => p.runId === r.id);
      const unreal = pos ? pos.side * pos.qty * (pos.mark - pos.entryPrice) : 0;
      return [
        r.id,
        `${r.strategy} ${r.symbol} ${r.timeframe}`,
        r.state + (r.state !== 'active' && r.reason ? ` (${r.reason})` : ''),
        r.approve,
        r.lastSignal ? `${r.lastSignal.id} ${r.lastSignal.side} ${r.lastSignal.status}` : '-',
        pos ? pos.id : '-',
        money(r.realizedPnl + unreal),
        String(r.trades),
      ];
    });
    const kill = s.engine.killSwitch;
    const out = reply().line(bold(`Runs (${runs.length})`), ` · ${ctx.services.engine.feed.describe()}`);
    if (kill) out.line(bold('Kill-switch on: '), kill.reason);
    return out.table(rows, {
      header: ['Run', 'Strategy', 'State', 'Approve', 'Last signal', 'Position', 'PnL', 'Trades'],
    });
  },
});
