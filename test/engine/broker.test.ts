/**
 * The broker port: paper and live answer the engine the same way (filled, ordered or refused with
 * the reason), book a closed position's trade once into its run, and keep a position's exit rules
 * from the entry on, the live one through the order until its fill comes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FillCosts } from '../../src/backtest/fills.js';
import type { Broker, EntryOrder } from '../../src/engine/broker.js';
import { LiveBroker } from '../../src/engine/live/broker.js';
import { PaperBroker } from '../../src/engine/paper.js';
import type { PositionRecord, RunRecord, SignalRecord, State } from '../../src/store/state.js';
import { StateStore } from '../../src/store/state.js';
import type { ExchangeEmulator } from '../emulators/exchange/server.js';
import { quietLogger } from '../helpers/engine.js';
import { emulator, LIVE_DEFAULTS, liveExchange, tmp } from '../helpers/live.js';

const COSTS: FillCosts = { fee: 0.001, slippage: 0 };
const RULES = { stopLoss: 0.02 };

const run = (): RunRecord => ({
  id: 'R1',
  strategy: 'ema-cross',
  symbol: 'BTC/USDT',
  timeframe: '2h',
  params: {},
  approve: 'auto',
  state: 'active',
  createdAt: 0,
  createdBy: 'test',
  realizedPnl: 0,
  trades: 0,
});

function entry(price: number, quantity: number, o: Partial<EntryOrder> = {}): EntryOrder {
  return {
    positionId: 'P2',
    runId: 'R1',
    signalId: 'S1',
    symbol: 'BTC/USDT',
    side: 1,
    time: 1_700_000_000_000,
    price,
    rules: RULES,
    costs: COSTS,
    signalStop: Number.NaN,
    signalTarget: Number.NaN,
    size: () => ({ quantity }),
    ...o,
  };
}

/** The signal an entry answers (its stop is the one it showed people). */
const signal = (price: number, stop: number): SignalRecord => ({
  id: 'S1',
  runId: 'R1',
  symbol: 'BTC/USDT',
  timeframe: '2h',
  strategy: 'ema-cross',
  side: 'long',
  barTime: 0,
  createdAt: 0,
  price,
  signalStop: null,
  signalTarget: null,
  stop,
  targets: [],
  quantity: 0.01,
  risk: 0,
  rewardRisk: null,
  status: 'approved',
  messages: [],
  indicators: {},
});

let emu: ExchangeEmulator | undefined;
const stores: StateStore[] = [];
const brokers: Broker[] = [];

afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
  for (const s of stores.splice(0)) await s.close();
  await emu?.stop();
  emu = undefined;
});

async function open(book: 'paper' | 'live'): Promise<StateStore> {
  const store = await StateStore.open(tmp(), Date.now(), book);
  stores.push(store);
  await store.update((s) => {
    s.runs.R1 = run();
  });
  return store;
}

describe('the paper broker', () => {
  it('fills an entry at once, and books the close into its run once', async () => {
    const store = await open('paper');
    const broker = new PaperBroker({ USDT: 1000 });
    const opened = await store.update((s) => broker.enter(s, entry(100, 1)));
    expect(opened.kind).toBe('filled');
    const pos = Object.values(store.data.positions)[0]!;
    // 1 at 100 and the 0.1 % fee: 1000 - 100 - 0.1.
    expect(broker.cash(store.data, 'USDT')).toBeCloseTo(899.9, 10);
    expect(pos.stop).toBeCloseTo(98, 10);

    const closed = await store.update((s) =>
      broker.close(s, s.positions[pos.id]!, {
        time: pos.entryTime + 1,
        price: 110,
        reason: 'manual',
        costs: COSTS,
      }),
    );
    expect(closed.kind).toBe('filled');
    // +10 on the price, less 0.10 in and 0.11 out.
    const pnl = 10 - 0.1 - 0.11;
    expect(closed.kind === 'filled' && closed.trade.pnl).toBeCloseTo(pnl, 10);
    expect(store.data.positions).toEqual({});
    expect(store.data.runs.R1).toMatchObject({ trades: 1 });
    expect(store.data.runs.R1!.realizedPnl).toBeCloseTo(pnl, 10);
    expect(await store.journal.trades()).toHaveLength(1);
  });

  it('refuses, with the reason, an entry whose price is already beyond its stop', async () => {
    const store = await open('paper');
    const broker = new PaperBroker({ USDT: 1000 });
    const result = await store.update((s) => broker.enter(s, entry(100, 1, { signalStop: 105 })));
    expect(result).toEqual({ kind: 'refused', reason: 'the price 100 is already beyond the stop 105' });
    expect(store.data.positions).toEqual({});
  });

  it("fills whole amount steps and refuses an order under the exchange's minimum, as the exchange would", async () => {
    const store = await open('paper');
    const broker = new PaperBroker({ USDT: 1000 });
    const market = { amountStep: 0.001, priceStep: 0.1, minAmount: 0.001, minNotional: 5, source: 'test' };
    const costs = { ...COSTS, market };
    // 1.23456 -> 1.234; the 2 % stop from 100 is 98 on the 0.1 tick.
    const opened = await store.update((s) => broker.enter(s, entry(100, 1.23456, { costs })));
    expect(opened.kind === 'filled' && opened.position.qty).toBe(1.234);
    expect(broker.cash(store.data, 'USDT')).toBeCloseTo(1000 - 123.4 - 0.1234, 10);
    // 0.049 x 100 = 4.90 of value: under 5.
    const small = await store.update((s) =>
      broker.enter(s, entry(100, 0.0499, { costs, positionId: 'P3', signalId: 'S2' })),
    );
    expect(small).toEqual({
      kind: 'refused',
      reason: "below the exchange's minimum order value: 4.9 < 5 (test)",
    });
    expect(Object.keys(store.data.positions)).toHaveLength(1);
  });
});

describe('the live broker', () => {
  async function live(): Promise<{ store: StateStore; broker: LiveBroker }> {
    emu = await emulator();
    const store = await open('live');
    const broker = new LiveBroker({
      exchange: liveExchange(emu.url),
      settings: LIVE_DEFAULTS,
      logger: quietLogger(),
      backoffMs: 20,
    });
    brokers.push(broker);
    await broker.start({ store, emit: () => undefined });
    return { store, broker };
  }

  it('orders an entry, and its fill becomes a position with the exit rules the order carried', async () => {
    const { store, broker } = await live();
    const price = emu!.price('BTC/USDT');
    const result = await store.update((s) => broker.enter(s, entry(price, 0.01)));
    expect(result).toMatchObject({
      kind: 'ordered',
      order: { purpose: 'entry', amount: 0.01, rules: RULES },
    });
    expect(store.data.positions).toEqual({});

    broker.flush();
    await broker.idle();
    const pos = Object.values(store.data.positions)[0]!;
    // The engine holds no strategy here: the 2 % stop came with the order.
    // 2 % under the entry, on the exchange's price tick (0.01).
    expect(Math.abs((pos.stop as number) - pos.entryPrice * 0.98)).toBeLessThanOrEqual(0.005 + 1e-9);
  });

  it('orders a close at the market, and refuses a second while the first is under way', async () => {
    const { store, broker } = await live();
    await store.update((s) => broker.enter(s, entry(emu!.price('BTC/USDT'), 0.01)));
    broker.flush();
    await broker.idle();
    const id = Object.keys(store.data.positions)[0]!;
    const exit = { time: Date.now(), price: Number.NaN, reason: 'manual' as const, costs: COSTS };
    const [first, second] = await store.update((s: State) => {
      const pos: PositionRecord = s.positions[id]!;
      return [broker.close(s, pos, exit), broker.close(s, pos, exit)];
    });
    expect(first).toMatchObject({ kind: 'ordered', order: { purpose: 'exit', side: 'sell' } });
    expect(second).toEqual({ kind: 'refused', reason: `a sell of ${id} (manual) is already under way` });

    broker.flush();
    await broker.idle();
    expect(store.data.positions).toEqual({});
    expect(store.data.runs.R1).toMatchObject({ trades: 1 });
    expect(await store.journal.trades()).toHaveLength(1);
  });

  it('guards the fill of an order recorded before orders carried rules with the stop its signal showed', async () => {
    const { store, broker } = await live();
    const price = emu!.price('BTC/USDT');
    const stop = Math.round(price * 0.95 * 100) / 100;
    await store.update((s) => {
      s.signals.S1 = signal(price, stop);
      broker.enter(s, entry(price, 0.01));
      // As the previous version recorded it: no rules on the order.
      delete Object.values(s.orders)[0]!.rules;
    });
    broker.flush();
    await broker.idle();
    const pos = Object.values(store.data.positions)[0]!;
    expect(pos.stop).toBe(stop);
    expect(pos.stopOrder).toBeDefined();
  });

  it('withdraws a sell not sent yet (a panic) so the position can be sold again', async () => {
    const { store, broker } = await live();
    await store.update((s) => broker.enter(s, entry(emu!.price('BTC/USDT'), 0.01)));
    broker.flush();
    await broker.idle();
    const id = Object.keys(store.data.positions)[0]!;
    const exit = { time: Date.now(), price: Number.NaN, reason: 'signal' as const, costs: COSTS };
    // Recorded, not flushed: it has not left.
    const first = await store.update((s) => broker.close(s, s.positions[id]!, exit));
    expect(first.kind).toBe('ordered');

    expect(await broker.cancelWorking()).toBe(1);
    const order = first.kind === 'ordered' ? store.data.orders[first.order.id] : undefined;
    expect(order).toMatchObject({ status: 'cancelled', note: 'panic' });
    expect(store.data.positions[id]!.closing).toBeUndefined();
    const again = await store.update((s) => broker.close(s, s.positions[id]!, { ...exit, reason: 'manual' }));
    expect(again.kind).toBe('ordered');
  });

  it('refuses a short entry with the reason (spot only)', async () => {
    const { store, broker } = await live();
    const result = await store.update((s) =>
      broker.enter(s, entry(emu!.price('BTC/USDT'), 0.01, { side: -1 })),
    );
    expect(result).toEqual({
      kind: 'refused',
      reason: 'short entries need a margin or futures account; the live broker trades spot only',
    });
  });
});
