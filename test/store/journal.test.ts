/**
 * The journal behind the state store, on both backends: SQLite in DATA_DIR and a real PostgreSQL
 * server. Each change is one transaction committed before update() resolves; a change that throws,
 * or whose write fails, leaves memory and journal as they were; the working set reloads as it was
 * held; the history rows (decisions, trades, fills, equity, candles, ...) are written once each.
 * What is read back is read through a connection of the test's own.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startPostgres } from '../../src/dev/postgres.js';
import { journalCheck } from '../../src/health.js';
import { openDatabase } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations.js';
import { type State, StateStore, type TradeRecord } from '../../src/store/state.js';
import {
  BACKENDS,
  button,
  oneLine,
  order,
  position,
  run,
  signal,
  trade,
  useBackend,
} from '../fixtures/store/backends.js';

/** What the engine holds, without the install (not in the journal) and the emptied log. */
function working(s: Readonly<State>) {
  const { install: _install, log: _log, ...rest } = s;
  return JSON.parse(JSON.stringify(rest)) as unknown;
}

const num = (v: unknown) => Number(v);

describe.each(BACKENDS)('the journal on %s', (backend) => {
  const { fresh } = useBackend(backend);

  describe('an update', () => {
    it('is committed before it resolves, and a reopen sees it', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.runs.R1 = run('R1');
        s.log.decisions.push({ time: 5, runId: 'R1', kind: 'start', detail: 'started', indicators: {} });
      });
      // Read at once, through another connection: already there.
      const runs = await place.rows('runs', 'id');
      expect(runs.map((r) => [r.id, num(r.current), JSON.parse(String(r.data))])).toEqual([
        ['R1', 1, run('R1')],
      ]);
      expect((await place.rows('decisions', 'seq')).map((r) => r.detail)).toEqual(['started']);
      await store.close();
      const again = await place.open();
      expect(again.data.runs).toEqual({ R1: run('R1') });
    });

    it('returns what the change returns, and runs one at a time in call order', async () => {
      const store = await (await fresh()).open();
      const order: number[] = [];
      const results = await Promise.all(
        [1, 2, 3].map((i) =>
          store.update((s) => {
            order.push(i);
            s.engine.nextId += i;
            return s.engine.nextId;
          }),
        ),
      );
      // nextId starts at 1: 1 + 1 = 2, 2 + 2 = 4, 4 + 3 = 7.
      expect(results).toEqual([2, 4, 7]);
      expect(order).toEqual([1, 2, 3]);
    });

    it('that throws leaves memory and journal as they were', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.runs.R1 = run('R1');
        s.signals.S1 = signal('S1', 'R1');
        s.positions.P1 = position('P1', 'R1');
        s.balances.USDT = 1000;
        s.subscriptions['telegram:1'] = { since: 1, muted: [] };
      });
      const memory = working(store.data);
      const journal = await place.dump();
      const boom = new Error('boom');
      await expect(
        store.update((s) => {
          s.runs.R1!.state = 'paused';
          s.runs.R2 = run('R2');
          delete s.signals.S1;
          s.positions.P1!.exits.push({
            time: 9,
            price: 110,
            quantity: 1,
            fee: 0.11,
            pnl: 9.89,
            reason: 'signal',
          });
          s.balances.USDT = 1109.89;
          s.engine.nextId = 99;
          s.regime = { state: 'RISK_ON', since: 1, history: [] };
          s.log.decisions.push({ time: 9, runId: 'R1', kind: 'exit', detail: 'half', indicators: {} });
          s.log.equity.push({ time: 9, quote: 'USDT', equity: 1200 });
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(working(store.data)).toEqual(memory);
      expect(store.data.log.decisions).toEqual([]);
      expect(await place.dump()).toBe(journal);
      // The next change commits only its own rows: none of the thrown change's.
      await store.update((s) => {
        s.log.decisions.push({ time: 10, runId: 'R1', kind: 'hold', detail: 'next', indicators: {} });
      });
      expect((await place.rows('decisions', 'seq')).map((r) => r.detail)).toEqual(['next']);
      expect(await place.rows('fills', 'seq')).toHaveLength(1); // P1's entry only
      await store.close();
      expect(working((await place.open()).data)).toEqual(memory);
    });

    it('whose write fails half-way is undone in memory and in the journal, with one line', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.runs.R1 = run('R1');
        s.balances.USDT = 1000;
      });
      // The database refuses one decision: the records before it in the same transaction were
      // already written when it fails.
      await place.query(
        backend === 'sqlite'
          ? `create trigger refuse before insert on decisions when new.detail = 'refused'
             begin select raise(abort, 'decision refused by the test'); end`
          : `create function refuse() returns trigger language plpgsql as $$
             begin if new.detail = 'refused' then raise exception 'decision refused by the test'; end if;
             return new; end $$;
             create trigger refuse before insert on decisions for each row execute function refuse()`,
      );
      const memory = working(store.data);
      const journal = await place.dump();
      const line = await oneLine(
        store.update((s) => {
          s.runs.R1!.state = 'stopped';
          s.runs.R2 = run('R2');
          s.balances.USDT = 900;
          s.positions.P1 = position('P1', 'R1');
          s.log.decisions.push({ time: 1, runId: 'R1', kind: 'x', detail: 'refused', indicators: {} });
        }),
      );
      const where = backend === 'sqlite' ? `the journal ${place.dir}/bosun.db` : 'the journal at ';
      expect(line).toContain(where);
      expect(line).toContain('decision refused by the test');
      expect(working(store.data)).toEqual(memory);
      expect(await place.dump()).toBe(journal);
      // The store goes on: the next change is written whole.
      await store.update((s) => {
        s.runs.R2 = run('R2');
      });
      await store.close();
      expect(Object.keys((await place.open()).data.runs).sort()).toEqual(['R1', 'R2']);
    });
  });

  describe('the working set', () => {
    it('reloads after a reopen exactly as it was held in memory', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.runs.R1 = run('R1', { lastSignal: { id: 'S1', time: 3, side: 'long', status: 'filled' } });
        s.runs.R2 = run('R2', { state: 'paused', reason: 'by ada' });
        s.signals.S1 = signal('S1', 'R1', { status: 'filled', decidedBy: 'ada', size: 0.5 });
        s.signals.S2 = signal('S2', 'R2', { side: 'short', stop: null, rewardRisk: null });
        s.positions.P1 = position('P1', 'R1', { stop: 'inf', trailStop: null });
        s.orders.O1 = order('O1', { status: 'unknown', sentAt: 77 });
        s.buttons.b1 = button();
        s.subscriptions['discord:9'] = { since: 5, muted: ['trades'] };
        s.balances = { USDT: 1234.5, USDC: 10 };
        s.settings.risk.maxOpen = 3;
        s.settings.pairlist.deny = 'DOGE/USDT';
        s.regime = {
          state: 'CHOP',
          since: 100,
          history: [{ at: 100, from: null, to: 'CHOP', confidence: 0.4, why: 'flat' }],
        };
        s.live.initial.USDT = 500;
        s.engine.nextId = 42;
        s.engine.killSwitch = { at: 7, reason: 'drawdown' };
        s.engine.peak.USDT = 1300;
      });
      await store.update((s) => {
        s.positions.P1!.mark = 104;
        s.positions.P1!.barsHeld = 1;
      });
      const held = working(store.data);
      await store.close();
      const again = await place.open();
      expect(working(again.data)).toEqual(held);
      expect(again.data.install).toEqual(store.data.install);
    });

    it('keeps the rows of records that leave it, as not current, and does not reload them', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.signals.S1 = signal('S1', 'R1');
        s.signals.S2 = signal('S2', 'R1');
        s.buttons.b1 = button();
        s.positions.P1 = position('P1', 'R1');
      });
      await store.update((s) => {
        s.signals.S1!.status = 'expired';
      });
      await store.update((s) => {
        delete s.signals.S1;
        delete s.buttons.b1;
        delete s.positions.P1;
      });
      const current = async (table: string) =>
        (await place.rows(table, 'id')).map((r) => [r.id, num(r.current)]);
      expect(await current('signals')).toEqual([
        ['S1', 0],
        ['S2', 1],
      ]);
      expect(await current('buttons')).toEqual([['b1', 0]]);
      expect(await current('positions')).toEqual([['P1', 0]]);
      // The row keeps the record as last committed.
      const s1 = (await place.rows('signals', 'id'))[0]!;
      expect(JSON.parse(String(s1.data))).toEqual(signal('S1', 'R1', { status: 'expired' }));
      await store.close();
      const again = await place.open();
      expect(Object.keys(again.data.signals)).toEqual(['S2']);
      expect(again.data.buttons).toEqual({});
      expect(again.data.positions).toEqual({});
      // Back in the working set: current again.
      await again.update((s) => {
        s.signals.S1 = signal('S1', 'R1', { status: 'approved' });
      });
      expect(await current('signals')).toEqual([
        ['S1', 1],
        ['S2', 1],
      ]);
    });
    it('keeps the version a record left with, changed in the same change, or never committed before', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.signals.S1 = signal('S1', 'R1');
        s.positions.P1 = position('P1', 'R1');
      });
      // Decided and dropped from memory in one change; a position's last exit and its close too.
      const exit = { time: 9, price: 101, quantity: 1, fee: 0, pnl: 1, reason: 'take-profit' as const };
      await store.update((s) => {
        s.signals.S1!.status = 'expired';
        delete s.signals.S1;
        s.positions.P1!.exits.push(exit);
        delete s.positions.P1;
        // Made and gone within this change: kept all the same, not current.
        s.signals.S2 = signal('S2', 'R1', { status: 'refused', reason: 'max open positions' });
        delete s.signals.S2;
      });
      const rows = async (table: string) =>
        (await place.rows(table, 'id')).map((r) => [r.id, num(r.current), JSON.parse(String(r.data))]);
      expect(await rows('signals')).toEqual([
        ['S1', 0, signal('S1', 'R1', { status: 'expired' })],
        ['S2', 0, signal('S2', 'R1', { status: 'refused', reason: 'max open positions' })],
      ]);
      const [p1] = await rows('positions');
      expect(p1![2].exits).toEqual([exit]);
      // The status column follows the final version.
      expect((await place.rows('signals', 'id')).map((r) => r.status)).toEqual(['expired', 'refused']);
    });

    it('undoes a change that throws after deleting a record: back in memory, as it was in the journal', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.signals.S1 = signal('S1', 'R1');
      });
      await expect(
        store.update((s) => {
          delete s.signals.S1;
          throw new Error('half-way');
        }),
      ).rejects.toThrow('half-way');
      expect(store.data.signals.S1).toEqual(signal('S1', 'R1'));
      expect((await place.rows('signals', 'id')).map((r) => num(r.current))).toEqual([1]);
      // The next change does not retire it after all.
      await store.update((s) => {
        s.balances.USDT = 1;
      });
      expect((await place.rows('signals', 'id')).map((r) => num(r.current))).toEqual([1]);
    });
  });

  describe('history rows', () => {
    it('decisions keep their kind, detail, signal and indicator values', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.log.decisions.push(
          {
            time: 3_600_000,
            runId: 'R1',
            kind: 'entry-signal',
            detail: 'long approved',
            signalId: 'S1',
            indicators: { ema12: 101.5, rsi14: null },
          },
          { time: 7_200_000, runId: 'R1', kind: 'hold', detail: 'no cross', indicators: {} },
        );
      });
      const rows = await place.rows('decisions', 'seq');
      expect(
        rows.map((r) => [
          num(r.time),
          r.run_id,
          r.kind,
          r.detail,
          r.signal_id,
          JSON.parse(String(r.indicators)),
        ]),
      ).toEqual([
        [3_600_000, 'R1', 'entry-signal', 'long approved', 'S1', { ema12: 101.5, rsi14: null }],
        [7_200_000, 'R1', 'hold', 'no cross', null, {}],
      ]);
    });

    it('fills: the entry of a new position, each exit as it comes, the rest at the close; never twice', async () => {
      const place = await fresh();
      const store = await place.open();
      // Long 2 at 100, entry fee 0.2.
      await store.update((s) => {
        s.positions.P1 = position('P1', 'R1');
      });
      // A new mark is not a fill.
      await store.update((s) => {
        s.positions.P1!.mark = 103;
        s.positions.P1!.barsHeld = 1;
      });
      // Half at the target: 1 at 106, fee 0.1% = 0.106, PnL (106 - 100) x 1 - 0.106 = 5.894.
      const e1 = {
        time: 14_400_000,
        price: 106,
        quantity: 1,
        fee: 0.106,
        pnl: 5.894,
        reason: 'take-profit' as const,
      };
      await store.update((s) => {
        const p = s.positions.P1!;
        p.exits.push(e1);
        p.qty = 1;
        p.mark = 106;
      });
      await store.update((s) => {
        s.positions.P1!.mark = 105;
      });
      // The rest on a signal: 1 at 104, fee 0.104, PnL (104 - 100) x 1 - 0.104 = 3.896.
      const e2 = {
        time: 18_000_000,
        price: 104,
        quantity: 1,
        fee: 0.104,
        pnl: 3.896,
        reason: 'signal' as const,
      };
      const t = trade('P1', 'R1', [e1, e2], { time: 10_800_000, price: 100, fee: 0.2 });
      await store.update((s) => {
        delete s.positions.P1;
        s.log.trades.push(t);
      });
      const fills = await place.rows('fills', 'seq');
      expect(
        fills.map((f) => [
          f.position_id,
          f.kind,
          num(f.time),
          f.price,
          f.quantity,
          f.fee,
          f.pnl,
          f.reason,
          num(f.side),
        ]),
      ).toEqual([
        ['P1', 'entry', 10_800_000, 100, 2, 0.2, 0, 'entry', 1],
        ['P1', 'exit', 14_400_000, 106, 1, 0.106, 5.894, 'take-profit', 1],
        ['P1', 'exit', 18_000_000, 104, 1, 0.104, 3.896, 'signal', 1],
      ]);
      // The trade: quantity 1 + 1 = 2, PnL 5.894 + 3.896 = 9.79, fees 0.2 + 0.106 + 0.104 = 0.41.
      const [row] = await place.rows('trades', 'id');
      expect([row!.quantity, row!.pnl, row!.fees, row!.exit_reason]).toEqual([2, t.pnl, t.fees, 'signal']);
      expect(t.pnl).toBeCloseTo(9.79, 10);
      expect(t.fees).toBeCloseTo(0.41, 10);
      expect(await store.journal.realized('USDT', 0, 20_000_000)).toBeCloseTo(9.79, 10);
      // Only the first exit had happened by 15,000,000.
      expect(await store.journal.realized('USDT', 0, 15_000_000)).toBeCloseTo(5.894, 10);
    });

    it('fills of a position opened and closed in one change: the entry fee is what the exits did not pay', async () => {
      const place = await fresh();
      const store = await place.open();
      // Fees 0.55 in all; exits paid 0.1 + 0.15 = 0.25, so the entry paid 0.55 - 0.25 = 0.3.
      const t = trade(
        'P2',
        'R1',
        [
          { time: 2, price: 101, quantity: 1, fee: 0.1, pnl: 0.6, reason: 'take-profit' },
          { time: 3, price: 99, quantity: 1, fee: 0.15, pnl: -1.45, reason: 'stop' },
        ],
        { time: 1, price: 100, fee: 0.3 },
      );
      expect(t.fees).toBeCloseTo(0.55, 10);
      await store.update((s) => {
        s.log.trades.push(t);
      });
      const fills = await place.rows('fills', 'seq');
      expect(fills.map((f) => [f.kind, f.quantity, f.reason])).toEqual([
        ['entry', 2, 'entry'],
        ['exit', 1, 'take-profit'],
        ['exit', 1, 'stop'],
      ]);
      expect(fills[0]!.fee as number).toBeCloseTo(0.3, 10);
    });

    it('fills are not written again for a position held across a restart', async () => {
      const place = await fresh();
      const first = await place.open();
      await first.update((s) => {
        s.positions.P3 = position('P3', 'R1');
      });
      const e1 = { time: 20, price: 110, quantity: 1, fee: 0.11, pnl: 9.89, reason: 'take-profit' as const };
      await first.update((s) => {
        s.positions.P3!.exits.push(e1);
        s.positions.P3!.qty = 1;
      });
      await first.close();
      const store = await place.open();
      await store.update((s) => {
        s.positions.P3!.mark = 111;
        s.positions.P3!.barsHeld = 2;
      });
      expect((await place.rows('fills', 'seq')).map((f) => f.kind)).toEqual(['entry', 'exit']);
      const e2 = { time: 30, price: 90, quantity: 1, fee: 0.09, pnl: -10.09, reason: 'stop' as const };
      await store.update((s) => {
        delete s.positions.P3;
        s.log.trades.push(trade('P3', 'R1', [e1, e2], { time: 10_800_000, price: 100, fee: 0.2 }));
      });
      const fills = await place.rows('fills', 'seq');
      expect(fills.map((f) => [f.kind, num(f.time)])).toEqual([
        ['entry', 10_800_000],
        ['exit', 20],
        ['exit', 30],
      ]);
    });

    it('equity: one point per quote and time, the latest value kept', async () => {
      const place = await fresh();
      const store = await place.open();
      await store.update((s) => {
        s.log.equity.push(
          { time: 1_000, quote: 'USDT', equity: 10_000 },
          { time: 1_000, quote: 'USDT', equity: 10_010 },
          { time: 1_000, quote: 'USDC', equity: 500 },
        );
      });
      await store.update((s) => {
        s.log.equity.push(
          { time: 1_000, quote: 'USDT', equity: 10_020 },
          { time: 2_000, quote: 'USDT', equity: 10_030 },
        );
      });
      const rows = await place.rows('equity', 'quote, time');
      expect(rows.map((r) => [r.quote, num(r.time), r.equity])).toEqual([
        ['USDC', 1_000, 500],
        ['USDT', 1_000, 10_020],
        ['USDT', 2_000, 10_030],
      ]);
      expect(await store.journal.equityAt('USDT', 1_500)).toBe(10_020);
      expect(await store.journal.equityAt('USDT', 999)).toBeUndefined();
      expect(await store.journal.equity('USDT', 0, 5_000)).toEqual([
        { time: 1_000, equity: 10_020 },
        { time: 2_000, equity: 10_030 },
      ]);
    });

    it('candles: each closed candle once, whoever sends it again', async () => {
      const place = await fresh();
      const store = await place.open();
      const c = (time: number, close: number) => ({
        source: 'binance',
        symbol: 'BTC/USDT',
        timeframe: '1h',
        time,
        open: 100,
        high: 110,
        low: 90,
        close,
        volume: 12.5,
      });
      await store.update((s) => {
        s.log.candles.push(c(0, 105), c(0, 105));
      });
      await store.update((s) => {
        s.log.candles.push(c(0, 105), c(3_600_000, 107));
      });
      // Another instance follows the same market: candles are market data, kept once.
      const other = await place.open('paper', 'other');
      await other.update((s) => {
        s.log.candles.push(c(3_600_000, 107));
      });
      const rows = await place.query('select * from candles order by time');
      expect(rows.map((r) => [num(r.time), r.close])).toEqual([
        [0, 105],
        [3_600_000, 107],
      ]);
    });

    it('trades, notifications, settings changes, regime changes and snapshots read back as written', async () => {
      const place = await fresh();
      const store = await place.open();
      const t: TradeRecord = trade(
        'P9',
        'R1',
        [{ time: 50, price: 95, quantity: 2, fee: 0.19, pnl: -10.39, reason: 'stop' }],
        { time: 10, price: 100, fee: 0.2 },
      );
      await store.update((s) => {
        s.log.trades.push(t);
        s.log.notifications.push({ time: 50, chat: 'telegram:1', category: 'trades', text: 'Stopped out' });
        s.log.settings.push({ at: 60, who: 'ada', key: 'risk.maxOpen', old: '5', new: '3' });
        s.log.settings.push({ at: 61, who: 'ada', key: 'pairlist.deny', old: null, new: 'DOGE/USDT' });
        s.log.regime.push({ at: 70, from: 'CHOP', to: 'RISK_OFF', confidence: 0.7, why: 'falling' });
        s.log.snapshots.push(
          {
            at: 80,
            symbol: 'BTC/USDT',
            timeframe: '1h',
            candles: [[0, 1, 2, 0.5, 1.5, 10]],
            indicators: { rsi14: 55 },
            orderBook: { bid: 99.5, bidSize: 3, ask: 100.5, askSize: 4 },
            correlationBtc: null,
          },
          {
            at: 81,
            symbol: 'ETH/USDT',
            timeframe: '1h',
            candles: [],
            indicators: {},
            orderBook: null,
            correlationBtc: 0.8,
          },
        );
      });
      expect(await store.journal.trades()).toEqual([t]);
      expect(await store.journal.tradeCounts()).toEqual({ trades: 1, wins: 0, losses: 1, pnl: t.pnl });
      expect(
        (await place.rows('notifications', 'seq')).map((r) => [num(r.time), r.chat, r.category, r.text]),
      ).toEqual([[50, 'telegram:1', 'trades', 'Stopped out']]);
      expect(await store.journal.settingsHistory(10)).toEqual([
        { at: 61, who: 'ada', key: 'pairlist.deny', old: null, new: 'DOGE/USDT', book: 'paper' },
        { at: 60, who: 'ada', key: 'risk.maxOpen', old: '5', new: '3', book: 'paper' },
      ]);
      expect(
        (await place.rows('regime_changes', 'seq')).map((r) => [
          num(r.at),
          r.from_state,
          r.to_state,
          r.confidence,
          r.why,
        ]),
      ).toEqual([[70, 'CHOP', 'RISK_OFF', 0.7, 'falling']]);
      expect(
        (await store.journal.snapshots(10)).map((x) => [x.symbol, x.orderBook, x.correlationBtc]),
      ).toEqual([
        ['BTC/USDT', { bid: 99.5, bidSize: 3, ask: 100.5, askSize: 4 }, null],
        ['ETH/USDT', null, 0.8],
      ]);
      expect(await store.journal.count('trades')).toBe(1);
      expect(await store.journal.count('fills')).toBe(2);
    });
  });

  describe('books and instances', () => {
    it('keep to their own rows in one journal', async () => {
      const place = await fresh();
      // Opened together on a fresh journal: they also migrate it together.
      const names = [
        ['paper', 'main'],
        ['live', 'main'],
        ['paper', 'kraken'],
        ['live', 'kraken'],
      ] as const;
      const stores = await Promise.all(names.map(([book, instance]) => place.open(book, instance)));
      await Promise.all(
        stores.map((store, i) =>
          store.update((s) => {
            // The same ids everywhere, different contents.
            s.runs.R1 = run('R1', { strategy: `strategy-${i}` });
            s.positions.P1 = position('P1', 'R1', { entryPrice: 100 + i });
            s.balances.USDT = 1000 * (i + 1);
            s.log.decisions.push({ time: 1, runId: 'R1', kind: 'k', detail: `d${i}`, indicators: {} });
            s.log.equity.push({ time: 1, quote: 'USDT', equity: 1000 * (i + 1) });
            s.log.trades.push(
              trade('T1', 'R1', [{ time: 2, price: 101, quantity: 1, fee: 0, pnl: i, reason: 'signal' }], {
                time: 1,
                price: 100,
                fee: 0,
              }),
            );
          }),
        ),
      );
      for (const s of stores) await s.close();
      for (const [i, [book, instance]] of names.entries()) {
        const again = await place.open(book, instance);
        expect(again.data.runs.R1!.strategy).toBe(`strategy-${i}`);
        expect(again.data.positions.P1!.entryPrice).toBe(100 + i);
        expect(again.data.balances).toEqual({ USDT: 1000 * (i + 1) });
        expect((await place.rows('decisions', 'seq', book, instance)).map((r) => r.detail)).toEqual([
          `d${i}`,
        ]);
        expect(await again.journal.equityAt('USDT', 1)).toBe(1000 * (i + 1));
        expect((await again.journal.trades()).map((t) => t.pnl)).toEqual([i]);
        expect(await again.journal.count('fills')).toBe(1 + 2); // P1's entry; T1's entry and exit
        await again.close();
      }
      const all = await place.query(
        'select instance, book, count(*) as n from decisions group by instance, book',
      );
      expect(all.map((r) => [r.instance, r.book, num(r.n)]).sort()).toEqual([
        ['kraken', 'live', 1],
        ['kraken', 'paper', 1],
        ['main', 'live', 1],
        ['main', 'paper', 1],
      ]);
    });
  });

  describe('the paper and live books of one process', () => {
    it('write at the same time without waiting for each other', async () => {
      const place = await fresh();
      const [paper, live] = [await place.open('paper'), await place.open('live')];
      const started = Date.now();
      const changes = [];
      for (let i = 1; i <= 20; i++)
        for (const store of [paper, live])
          changes.push(
            store.update((s) => {
              s.engine.nextId = i + 1;
              s.log.decisions.push({ time: i, runId: 'R1', kind: 'k', detail: store.book, indicators: {} });
            }),
          );
      await Promise.all(changes);
      // Each change is a few milliseconds; waiting on each other's lock would be seconds.
      expect(Date.now() - started).toBeLessThan(3_000);
      for (const book of ['paper', 'live'] as const) {
        const rows = await place.rows('decisions', 'seq', book);
        expect(rows.map((r) => num(r.time))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      }
    });
  });

  describe('migrations', () => {
    const latest = Object.keys(migrations('sqlite')).at(-1)!;

    it('a new journal runs them all, in one go; a reopen runs none', async () => {
      const place = await fresh();
      const first = await openDatabase({ dataDir: place.dir, url: place.url });
      expect(first.migrated).toEqual(Object.keys(migrations(backend)));
      await first.close();
      const second = await openDatabase({ dataDir: place.dir, url: place.url });
      expect(second.migrated).toEqual([]);
      await second.close();
      expect(
        (await place.query('select name from bosun_migrations order by name')).map((r) => r.name),
      ).toEqual(Object.keys(migrations(backend)));
    });

    it('a journal from a newer bosun is refused with one line, and left as it is', async () => {
      const place = await fresh();
      await (await place.open()).close();
      await place.query(
        `insert into bosun_migrations (name, timestamp) values ('9999_future', '2030-01-01')`,
      );
      const line = await oneLine(StateStore.open(place.dir, Date.now(), 'paper', place.options()));
      const where = backend === 'sqlite' ? `${place.dir}/bosun.db` : place.url!;
      const setting = backend === 'sqlite' ? 'DATA_DIR' : 'DATABASE_URL';
      expect(line).toBe(
        `the journal at ${where} was written by a newer bosun (it has schema 9999_future; this version knows up to ${latest}); upgrade bosun, or point ${setting} at another journal`,
      );
      expect(
        (await place.query('select name from bosun_migrations order by name')).map((r) => r.name),
      ).toEqual([...Object.keys(migrations(backend)), '9999_future']);
    });
  });
});

/** A TCP port on 127.0.0.1 with nothing listening on it. */
function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe('the journal on PostgreSQL', () => {
  const { fresh, server } = useBackend('postgres');
  const SECRET = 'pa55-w0rd-never-shown';

  it('refuses a second writer under the same instance and book, with one line', async () => {
    const place = await fresh();
    await place.open('paper', 'main');
    const line = await oneLine(StateStore.open(place.dir, Date.now(), 'paper', place.options('main')));
    expect(line).toBe(
      `another bosun is already writing to ${place.url} as instance "main" (paper book); give this one its own name with INSTANCE, or stop the other`,
    );
    // Another book or another instance is not a second writer; after the first closes, anyone may.
    await place.open('live', 'main');
    await place.open('paper', 'other');
  });

  it('gives the writer lock back as soon as the writer closes', async () => {
    const place = await fresh();
    // A restart, or a switch of mode, opens again at once: the lock must be free by then (left to
    // the end of the session, it sometimes was not, on a busy machine).
    for (let i = 1; i <= 30; i++) {
      const store = await place.open();
      await store.update((s) => {
        s.engine.nextId = i + 1;
      });
      await store.close();
    }
    expect((await place.open()).data.engine.nextId).toBe(31);
  });

  it.each([
    [
      'nothing listens there',
      async () => `postgres://bosun:${SECRET}@127.0.0.1:${await unusedPort()}/bosun`,
      'nothing answers there; start the server, or check the host and port in DATABASE_URL',
    ],
    [
      'the database does not exist',
      async () => `postgres://bosun:${SECRET}@127.0.0.1:${server().port}/nosuchdb`,
      'that database does not exist; create it (createdb) or name another in DATABASE_URL',
    ],
  ])('a DATABASE_URL where %s: one line, the password masked', async (_what, url, why) => {
    const u = await url();
    const err = await StateStore.open((await fresh()).dir, Date.now(), 'paper', { url: u }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    const line = await oneLine(Promise.reject(err));
    expect(line).toBe(`cannot use the journal at ${u.replace(SECRET, '[REDACTED]')}: ${why}`);
    expect(line).not.toContain(SECRET);
    expect(String(err?.stack)).not.toContain(SECRET);
  });

  it('a write the database holds (a lock someone keeps): the health check fails after 30 s, and is well once it lands', async () => {
    const place = await fresh();
    const store = await place.open();
    await place.query('BEGIN');
    await place.query('LOCK TABLE runs IN ACCESS EXCLUSIVE MODE');
    const landing = store.update((s) => {
      s.runs.R1 = run('R1');
    });
    await new Promise((r) => setTimeout(r, 200));
    const since = store.writes.since!;
    expect(since).toBeGreaterThan(0);
    expect(journalCheck([store], since + 20_000).state).toBe('ok');
    expect(journalCheck([store], since + 45_000)).toEqual({
      name: 'journal',
      state: 'failing',
      summary: 'a write has waited 45s',
      detail: 'a write has waited 45s for the database to answer; nothing newer is kept until it does',
    });
    await place.query('COMMIT');
    await landing;
    expect(store.writes.since).toBeUndefined();
    expect(journalCheck([store], Date.now()).state).toBe('ok');
    expect((await place.rows('runs', 'id')).map((r) => r.id)).toContain('R1');
  });

  it('a server that stops: the change fails with one line and is undone in memory', async () => {
    const own = await startPostgres({ durable: false });
    try {
      const url = await own.createDatabase('stops');
      const store = await StateStore.open((await fresh()).dir, Date.now(), 'paper', { url });
      await store.update((s) => {
        s.runs.R1 = run('R1');
      });
      const held = working(store.data);
      await own.stop();
      const line = await oneLine(
        store.update((s) => {
          s.runs.R1!.state = 'stopped';
          s.log.decisions.push({ time: 1, runId: 'R1', kind: 'stop', detail: 'x', indicators: {} });
        }),
      );
      // The server's end also ended the session holding the instance's lock: nothing more is
      // written until a restart (another bosun may have the name by then).
      expect(line).toBe(
        `lost the connection that holds instance "main" (paper book) on postgres://bosun@127.0.0.1:${own.port}/stops (the server restarted?); nothing more is written: restart bosun`,
      );
      expect(working(store.data)).toEqual(held);
      expect(store.data.log.decisions).toEqual([]);
      await store.close().catch(() => undefined);
    } finally {
      await own.stop();
    }
  });
});
