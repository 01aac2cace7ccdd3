/**
 * Live trading through real ccxt against the exchange emulator: orders are never doubled, fills are
 * never lost, and each failure is reported once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ExchangeEmulator } from '../emulators/exchange/server.js';
import { sliceEndingOnSignal } from '../helpers/signals.js';
import { emulator, type LiveEngine, liveEngine, pendingSignal, tmp } from '../helpers/live.js';

let emu: ExchangeEmulator;
const engines: LiveEngine[] = [];
let file: string;

async function session(o: Parameters<typeof liveEngine>[2] = {}) {
  file ??= await sliceEndingOnSignal('rsi-reversion');
  const t = await liveEngine(emu, file, o);
  engines.push(t);
  return t;
}

afterEach(async () => {
  for (const t of engines.splice(0)) await t.engine.stop().catch(() => undefined);
  await emu?.stop();
});

const posts = () => emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order');

describe('live broker', () => {
  it('turns an approval into one market order, a position from its fill, and an exchange stop', async () => {
    emu = await emulator();
    const t = await session();
    const id = await pendingSignal(t);
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();

    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
    const exOrder = emu.ordersByClientId(entry.id)[0]!;
    const pos = Object.values(t.store.data.positions)[0]!;
    // Bought exOrder.origQty; the 0.1 % commission was taken in BTC, so the position holds 99.9 %.
    expect(pos.qty).toBeCloseTo(exOrder.origQty * 0.999, 10);
    expect(pos.entryPrice).toBe(emu.price('BTC/USDT'));
    expect(t.store.data.signals[id]!.status).toBe('filled');
    // The stop sits on the exchange for the whole position.
    const stop = emu.ordersByClientId(pos.stopOrder!)[0]!;
    expect(stop).toMatchObject({ type: 'STOP_LOSS', side: 'SELL', status: 'NEW' });
    expect(stop.stopPrice).toBeCloseTo(pos.stop as number, 2);
    expect(emu.total('BTC')).toBeCloseTo(pos.qty, 8);
    // Cash in the state is the exchange's, moved by the fill.
    expect(t.store.data.balances.USDT).toBeCloseTo(emu.total('USDT'), 6);
    expect(t.events.filter((e) => e.type === 'entry')).toHaveLength(1);
  });

  it('adopts an order whose response was lost (a timeout after the exchange took it): exactly one order', async () => {
    emu = await emulator();
    const t = await session({ timeout: 600 });
    const id = await pendingSignal(t);
    emu.fault({ lose: true, path: '/api/v3/order', method: 'POST' });
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();

    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
    expect(posts().filter((r) => r.query.newClientOrderId === entry.id)).toHaveLength(1);
    expect(entry.status).toBe('filled');
    expect(Object.values(t.store.data.positions)).toHaveLength(1);
    expect(t.events.some((e) => e.type === 'order' && e.what === 'adopted')).toBe(true);
  });

  it('resends after 429 five times, waiting as told, and places one order', async () => {
    emu = await emulator();
    const t = await session();
    const id = await pendingSignal(t);
    emu.fault({ status: 429, path: '/api/v3/order', method: 'POST', times: 5 });
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();

    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    const tries = posts().filter((r) => r.query.newClientOrderId === entry.id);
    expect(tries.map((r) => r.status)).toEqual([429, 429, 429, 429, 429, 200]);
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
    // Backoff 40 ms doubled each time: the gaps are at least 40, 80, 160, 320, 640 ms.
    tries.slice(1).forEach((r, k) => expect(r.at - tries[k]!.at).toBeGreaterThanOrEqual(40 * 2 ** k - 5));
  });

  it('takes InsufficientFunds as final: one request, one notice, the signal skipped', async () => {
    emu = await emulator();
    const t = await session();
    const id = await pendingSignal(t);
    // Funds leave the account outside bosun after its last balance check.
    emu.balances.get('USDT')!.free = 20;
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();

    expect(posts()).toHaveLength(1);
    const notices = t.events.filter((e) => e.type === 'order' && e.what === 'rejected');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ detail: expect.stringMatching(/insufficient balance/) });
    expect(t.store.data.signals[id]!.status).toBe('skipped');
    expect(Object.keys(t.store.data.positions)).toHaveLength(0);
  });

  it('records a stop that filled while bosun was down, after the restart', async () => {
    emu = await emulator();
    const dir = tmp();
    const a = await session({ dir });
    const id = await pendingSignal(a);
    await a.engine.decide(id, 'approve', 'alice');
    await a.broker.idle();
    const pos = Object.values(a.store.data.positions)[0]!;
    await a.engine.stop();

    // While bosun is down the market falls through the stop.
    const { ALL_2H } = await import('../helpers/live.js');
    const start = a.feed.now();
    const hit = ALL_2H.find((c) => c.time >= start && c.low <= (pos.stop as number))!;
    const b = await session({ dir });
    emu.now = () => hit.time + 7_200_000;
    await b.engine.start();
    await b.broker.idle();

    expect(b.store.data.positions).toEqual({});
    const trade = b.store.data.trades[0]!;
    expect(trade.exitReason).toBe('stop');
    expect(trade.exitPrice).toBeCloseTo(Math.min(pos.stop as number, hit.open), 2);
    expect(b.store.data.orders[pos.stopOrder!]!.status).toBe('filled');
    expect(b.events.some((e) => e.type === 'exit' && e.trade !== undefined)).toBe(true);
    expect(b.store.data.balances.USDT).toBeCloseTo(emu.total('USDT'), 6);
  });

  it('finds by client id an order the exchange took but whose outcome was never written (the process died)', async () => {
    emu = await emulator();
    const dir = tmp();
    const a = await session({ dir, timeout: 400 });
    const id = await pendingSignal(a);
    // The order is written as "new", reaches the exchange, and the process dies before hearing back:
    // the response is lost and this engine is abandoned without settling it.
    emu.fault({ lose: true, path: '/api/v3/order', method: 'POST' });
    emu.fault({ hang: true, path: '/api/v3/order', method: 'GET', times: 100 });
    await a.engine.decide(id, 'approve', 'alice');
    const entryId = Object.values(a.store.data.orders).find((o) => o.purpose === 'entry')!.id;
    await new Promise((r) => setTimeout(r, 300));
    expect(a.store.data.orders[entryId]!.status).toBe('new');
    expect(emu.ordersByClientId(entryId)).toHaveLength(1);
    await a.broker.stop();
    emu.clearFaults();

    const b = await session({ dir });
    await b.engine.start();
    await b.broker.idle();
    expect(emu.ordersByClientId(entryId)).toHaveLength(1);
    expect(posts().filter((r) => r.query.newClientOrderId === entryId)).toHaveLength(1);
    expect(b.store.data.orders[entryId]!.status).toBe('filled');
    expect(Object.values(b.store.data.positions)).toHaveLength(1);
  });

  it('pauses trading after repeated exchange failures, tells the chats once, and resumes when it answers', async () => {
    emu = await emulator();
    // The order's send fails, then its lookup (after retries): two failures in a row.
    const t = await session({ settings: { breakerFailures: 2 } });
    const id = await pendingSignal(t);
    emu.fault({ status: 502, times: 1000 });
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();
    const down = t.events.filter((e) => e.type === 'exchange' && !e.up);
    expect(down).toHaveLength(1);
    expect(t.broker.paused).toBe(true);
    expect(emu.orders).toHaveLength(0);

    emu.clearFaults();
    await new Promise((r) => setTimeout(r, 400));
    await t.broker.idle();
    await t.broker.idle();
    expect(t.events.filter((e) => e.type === 'exchange' && e.up)).toHaveLength(1);
    expect(t.broker.paused).toBe(false);
    // The order that waited went out once, as the same order.
    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
  });

  it('sends a limit entry below the price, cancels it at its timeout, and buys the rest at market', async () => {
    emu = await emulator();
    const t = await session({ settings: { entryOrder: 'limit', limitOffsetBps: 50, limitTimeout: 150 } });
    const id = await pendingSignal(t);
    const price = emu.price('BTC/USDT');
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();
    const limit = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    // 50 bps under the latest price, which the market does not reach while the clock stands still.
    expect(limit.price).toBeCloseTo(price * 0.995, 1);
    expect(emu.ordersByClientId(limit.id)[0]).toMatchObject({ type: 'LIMIT', status: 'NEW' });
    expect(t.store.data.signals[id]!.status).toBe('ordered');

    await new Promise((r) => setTimeout(r, 400));
    await t.broker.idle();
    expect(emu.ordersByClientId(limit.id)[0]!.status).toBe('CANCELED');
    const market = emu.ordersByClientId(`${limit.id}m`)[0]!;
    expect(market).toMatchObject({ type: 'MARKET', status: 'FILLED', origQty: limit.amount });
    expect(Object.values(t.store.data.positions)).toHaveLength(1);
    expect(t.store.data.signals[id]!.status).toBe('filled');
  });

  it('refuses an entry below the market minimum or above the notional limit before sending', async () => {
    emu = await emulator();
    const t = await session({ settings: { maxNotionalRun: 3 } });
    const id = await pendingSignal(t);
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();
    expect(posts()).toHaveLength(0);
    expect(t.store.data.signals[id]!.reason).toMatch(/below the minimum order value 5 USDT/);
  });
});
