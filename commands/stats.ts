import { z } from 'zod';
import {
  BREAKDOWN_HEADER,
  type Breakdown,
  breakdownRows,
  byExitReason,
  byMonth,
  bySymbol,
} from '../src/backtest/breakdown.js';
import { defineCommand } from '../src/chat/command.js';
import { money } from '../src/chat/notices.js';
import { bold, italic, reply } from '../src/chat/reply.js';
import { localStamp } from '../src/engine/clock.js';

/** Months shown at most (the newest). */
const MONTHS = 12;

const rows = (list: readonly Breakdown[]) => breakdownRows(list, money);

export default defineCommand({
  name: 'stats',
  summary: "The account's closed trades broken down: by exit reason, by market, by month",
  role: 'viewer',
  args: z.object({}),
  async run(_args, ctx) {
    const { engine, trading, config } = ctx.services;
    const trades = await engine.store.journal.trades();
    const book = trading.mode === 'live' ? 'Live account' : 'Paper account';
    if (trades.length === 0) return reply(`${book}: no closed trades yet.`);
    const total = trades.reduce((a, t) => a + t.pnl, 0);
    const months = byMonth(trades);
    const r = reply()
      .line(
        bold(`${book}: ${trades.length} closed trades`),
        `, ${money(total)} since ${localStamp(trades[0]!.exitTime, config.timezone)}`,
      )
      .line(bold('By exit reason'))
      .table(rows(byExitReason(trades)), { header: BREAKDOWN_HEADER })
      .line(bold('By market'))
      .table(rows(bySymbol(trades)), { header: BREAKDOWN_HEADER })
      .line(bold('By month'), ' (of the exit, UTC)')
      .table(rows(months.slice(-MONTHS)), { header: BREAKDOWN_HEADER });
    if (months.length > MONTHS) r.line(italic(`the newest ${MONTHS} of ${months.length} months`));
    return r;
  },
});
