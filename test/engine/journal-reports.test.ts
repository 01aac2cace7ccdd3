/**
 * Reports read the journal: with a year of 1m equity points and thousands of trades kept, the
 * 30-day window, the daily series and the win counts are right to the last point (the JSON state
 * kept two weeks of 1m points and fell back to the initial balance after that).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from '../../src/engine/report.js';
import { type State, StateStore } from '../../src/store/state.js';

const MIN = 60_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const POINTS = 365 * 1440;
/** The account grows by one cent a minute, from 10,000. */
const equityAt = (t: number) => 10_000 + ((t - T0) / MIN) * 0.01;

let store: StateStore;

beforeAll(async () => {
  store = await StateStore.open(mkdtempSync(join(tmpdir(), 'bosun-year-')));
  // A year of points, written in big transactions straight into the table the engine appends to.
  const db = store.journal.db;
  const rows = [];
  for (let i = 0; i < POINTS; i++) {
    const time = T0 + i * MIN;
    rows.push({ instance: 'main', book: 'paper', quote: 'USDT', time, equity: equityAt(time) });
    if (rows.length === 5_000 || i === POINTS - 1) {
      const chunk = rows.splice(0);
      await db.transaction().execute(async (trx) => {
        for (let k = 0; k < chunk.length; k += 200)
          await trx
            .insertInto('equity')
            .values(chunk.slice(k, k + 200))
            .execute();
      });
    }
  }
  // A trade closed every 6 hours all year through the store's own path: wins on even ones.
  await store.update((s) => {
    for (let k = 0; k < 365 * 4; k++) {
      const exitTime = T0 + k * 6 * 3_600_000 + 30 * MIN;
      const pnl = k % 2 === 0 ? 5 : -3;
      s.log.trades.push({
        id: `P${k}`,
        runId: 'R1',
        symbol: 'BTC/USDT',
        quote: 'USDT',
        side: 'long',
        entryTime: exitTime - 10 * MIN,
        entryPrice: 100,
        exitTime,
        exitPrice: 100 + pnl,
        quantity: 1,
        pnl,
        returnPct: pnl / 100,
        fees: 0,
        exitReason: 'signal',
        bars: 10,
        exits: [{ time: exitTime, price: 100 + pnl, quantity: 1, fee: 0, pnl, reason: 'signal' }],
      });
    }
  });
}, 120_000);

afterAll(async () => {
  await store.close();
});

describe('reports over a year of 1m history', () => {
  it('count the whole window: 30 days of PnL, trades and daily points', async () => {
    const last = T0 + (POINTS - 1) * MIN;
    const now = last + MIN;
    const from = now - 30 * DAY;
    const s = { positions: {} } as unknown as State;
    const cash = equityAt(last);
    const rep = await performance(s, store.journal, {
      quote: 'USDT',
      initial: 10_000,
      cash,
      from,
      to: now,
      tz: 'UTC',
    });
    // The window starts at a point on the grid: 30 days x 1,440 minutes x 1 cent before the last.
    expect(rep.windowPnl).toBeCloseTo(cash - equityAt(from), 6);
    expect(rep.windowPnl).toBeCloseTo(30 * 1440 * 0.01 - 0.01, 6);
    expect(rep.cumulativePnl).toBeCloseTo((POINTS - 1) * 0.01, 6);
    // 4 trades a day; in 30 days from a midnight: 120, half won (+5) and half lost (-3).
    expect([rep.windowTrades, rep.windowWins, rep.windowLosses]).toEqual([120, 60, 60]);
    expect(rep.windowRealized).toBe(60 * 5 - 60 * 3);
    expect([rep.allTrades, rep.allWins, rep.allLosses]).toEqual([1460, 730, 730]);
    // One point per day, 30 of them; each full day ends at the next midnight's point and made
    // 1,440 cents, the last (today) ends now.
    expect(rep.days).toHaveLength(30);
    const lastDay = rep.days.at(-1)!;
    expect(lastDay.time).toBe(now - DAY);
    for (const d of rep.days.slice(0, -1)) {
      expect(d.equity).toBeCloseTo(equityAt(d.time + DAY), 6);
      expect(d.pnl).toBeCloseTo(14.4, 6);
    }
  });

  it('see the start of the history too: a window a year back has its own points', async () => {
    const from = T0 + 10 * DAY;
    const to = T0 + 11 * DAY;
    expect(await store.journal.equityAt('USDT', from)).toBeCloseTo(equityAt(from), 9);
    expect(await store.journal.tradeCounts({ quote: 'USDT', from, to })).toEqual({
      trades: 4,
      wins: 2,
      losses: 2,
      pnl: 4,
    });
  });
});
