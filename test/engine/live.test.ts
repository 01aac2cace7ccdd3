/**
 * Live trading through real ccxt against the exchange emulator: orders are never doubled, fills are
 * never lost, and each failure is reported once.
 */
import { cpSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { journalOrder } from '../helpers/journal.js';
import type { OrderRecord } from '../../src/store/state.js';
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

/** The live state file of a directory, as written. */
class StateFile {
  constructor(private readonly dir: string) {}
  order(id: string): OrderRecord {
    return journalOrder(this.dir, id)!;
  }
}

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
    const trade = (await b.store.journal.trades())[0]!;
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

  it('does not send again an order the exchange carries out late, within the resend grace: one order', async () => {
    emu = await emulator();
    // Timeout 300 ms, so the grace is 1 s; the exchange carries the request out after 700 ms, unanswered.
    const t = await session({ timeout: 300 });
    const id = await pendingSignal(t);
    emu.fault({ lose: true, lateMs: 700, path: '/api/v3/order', method: 'POST' });
    const started = Date.now();
    await t.engine.decide(id, 'approve', 'alice');
    await t.broker.idle();

    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    // The lookup at ~350 ms found nothing; the one after the grace found the late order and adopted it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
    expect(posts().filter((r) => r.query.newClientOrderId === entry.id)).toHaveLength(1);
    expect(entry.status).toBe('filled');
    expect(entry.sentAt).toBeGreaterThanOrEqual(started);
    expect(t.events.some((e) => e.type === 'order' && e.what === 'adopted')).toBe(true);
  });

  /**
   * A process that sends the entry and "dies" with the request in flight: its state directory is
   * copied at that moment (the image a kill -9 leaves), and the process is left hanging on the
   * request (its timeout is long) until the test ends.
   */
  async function crashWhileSending(fault: Parameters<ExchangeEmulator['fault']>[0]) {
    const a = await session({ timeout: 60_000 });
    engines.splice(engines.indexOf(a), 1);
    const id = await pendingSignal(a);
    emu.fault({ ...fault, path: '/api/v3/order', method: 'POST' });
    await a.engine.decide(id, 'approve', 'alice');
    await new Promise((r) => setTimeout(r, 100));
    const entryId = Object.values(a.store.data.orders).find((o) => o.purpose === 'entry')!.id;
    const image = tmp();
    cpSync(a.dir, image, { recursive: true });
    const crashed = new StateFile(image).order(entryId);
    expect(crashed).toMatchObject({ status: 'new', sentAt: expect.any(Number) });
    const cleanUp = async () => {
      await emu.stop(); // the hung request fails, and the abandoned process winds down
      await a.engine.stop().catch(() => undefined);
    };
    return { image, entryId, sentAt: crashed.sentAt as number, cleanUp };
  }

  it('after a restart, holds back an order sent just before the crash until the grace is over, then adopts it', async () => {
    emu = await emulator();
    // The exchange carries the request out 3 s after it arrived; the restart's grace is 5 s.
    const crash = await crashWhileSending({ lose: true, lateMs: 3000 });
    const b = await session({ dir: crash.image, timeout: 2500 });
    await b.engine.start();
    for (let i = 0; i < 160 && b.store.data.orders[crash.entryId]!.status !== 'filled'; i++)
      await new Promise((r) => setTimeout(r, 50));
    await b.broker.idle();
    const lookups = emu.requests.filter(
      (r) => r.path === '/api/v3/order' && r.method === 'GET' && r.query.origClientOrderId === crash.entryId,
    );
    // At start the exchange had no such order, and still it was not sent again.
    expect(lookups[0]!.status).toBe(400);
    expect(lookups.at(-1)!.status).toBe(200);
    expect(posts().filter((r) => r.query.newClientOrderId === crash.entryId)).toHaveLength(1);
    expect(emu.ordersByClientId(crash.entryId)).toHaveLength(1);
    expect(b.store.data.orders[crash.entryId]!.status).toBe('filled');
    expect(Object.values(b.store.data.positions)).toHaveLength(1);
    await crash.cleanUp();
  }, 20_000);

  it('after a restart, sends once the grace is over an order that never arrived', async () => {
    emu = await emulator();
    const crash = await crashWhileSending({ hang: true });
    const b = await session({ dir: crash.image, timeout: 500 });
    await b.engine.start();
    for (let i = 0; i < 60 && b.store.data.orders[crash.entryId]!.status !== 'filled'; i++)
      await new Promise((r) => setTimeout(r, 50));
    await b.broker.idle();
    const sends = posts().filter((r) => r.query.newClientOrderId === crash.entryId);
    // The hung request, then one send, a grace (1 s) after the first.
    expect(sends).toHaveLength(2);
    expect(sends[1]!.at - crash.sentAt).toBeGreaterThanOrEqual(1000);
    expect(emu.ordersByClientId(crash.entryId)).toHaveLength(1);
    expect(b.store.data.orders[crash.entryId]!.status).toBe('filled');
    await crash.cleanUp();
  }, 20_000);

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
    // The order that waited went out once, as the same order: a 502 leaves its fate unknown, so
    // not before the resend grace (2 s at this 1 s timeout) after the failed send.
    const entry = Object.values(t.store.data.orders).find((o) => o.purpose === 'entry')!;
    for (let i = 0; i < 80 && emu.ordersByClientId(entry.id).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    await t.broker.idle();
    expect(emu.ordersByClientId(entry.id)).toHaveLength(1);
    const sends = posts().filter((r) => r.query.newClientOrderId === entry.id);
    expect(sends.at(-1)!.at - t.store.data.orders[entry.id]!.createdAt).toBeGreaterThanOrEqual(2000);
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
