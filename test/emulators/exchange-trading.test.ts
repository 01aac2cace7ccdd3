/** The exchange emulator's signed trading endpoints, driven through real ccxt. */
import ccxt from 'ccxt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rewriteApiUrls } from '../../src/market/exchange.js';
import { HOUR, RISING_HOURS, T0 } from '../helpers/candles.js';
import { ExchangeEmulator } from './exchange/server.js';

/** Rising hours, except that hour 12 (open 112) dips to 104. */
const CANDLES = RISING_HOURS.map((c, i) => (i === 12 ? { ...c, low: 104 } : c));
const KEY = 'test-key';
const SECRET = 'test-secret';

function client(url: string, secret = SECRET) {
  const ex = new ccxt.binance({
    apiKey: KEY,
    secret,
    enableRateLimit: false,
    timeout: 1500,
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  rewriteApiUrls(ex, url);
  return ex;
}

async function amounts(ex: InstanceType<typeof ccxt.binance>, kind: 'total' | 'used' | 'free') {
  return (await ex.fetchBalance())[kind] as unknown as Record<string, number>;
}

describe('exchange emulator: trading through real ccxt', () => {
  let emu: ExchangeEmulator;
  let now = T0 + 10 * HOUR;
  beforeEach(async () => {
    now = T0 + 10 * HOUR;
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: CANDLES, intervalMs: HOUR }], {
      apiKey: KEY,
      secret: SECRET,
      balances: { USDT: 1000 },
    }).start();
    emu.now = () => now;
  });
  afterEach(() => emu.stop());

  it('fills a market buy at the current open, with commission in the asset received', async () => {
    const ex = client(emu.url);
    // Hour 10 opens at 110 (RISING_HOURS: hour k opens at 100 + k).
    const o = await ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'c1' });
    expect(o).toMatchObject({ clientOrderId: 'c1', status: 'closed', filled: 1, average: 110 });
    const bal = await ex.fetchBalance();
    expect((bal.total as unknown as Record<string, number>)['USDT']).toBeCloseTo(1000 - 110, 8);
    expect((bal.total as unknown as Record<string, number>)['BTC']).toBeCloseTo(1 - 0.001, 8);
    expect(emu.ordersByClientId('c1')).toHaveLength(1);
  });

  it('fills a stop once a later candle trades through it, while nobody is asking', async () => {
    const ex = client(emu.url);
    await ex.createOrder('BTC/USDT', 'market', 'buy', 2, undefined, { clientOrderId: 'b' });
    await ex.createOrder('BTC/USDT', 'market', 'sell', 1, undefined, {
      clientOrderId: 's',
      stopLossPrice: 106,
    });
    expect((await ex.fetchOpenOrders('BTC/USDT')).map((o) => o.clientOrderId)).toEqual(['s']);
    expect((await amounts(ex, 'used'))['BTC']).toBeCloseTo(1, 8);
    // Hours 10 and 11 stay above 106; hour 12 dips to 104 and closes at 13:00.
    now = T0 + 12 * HOUR + 30 * 60_000;
    expect((await ex.fetchOrder(undefined as never, 'BTC/USDT', { clientOrderId: 's' })).status).toBe('open');
    now = T0 + 13 * HOUR;
    const s = await ex.fetchOrder(undefined as never, 'BTC/USDT', { clientOrderId: 's' });
    expect(s).toMatchObject({ status: 'closed', filled: 1, average: 106 });
    // Sold 1 at 106 less 0.1 %: 1000 - 2 * 110 + 106 * 0.999.
    expect((await amounts(ex, 'total'))['USDT']).toBeCloseTo(1000 - 220 + 106 * 0.999, 8);
  });

  it('refuses a stop that would trigger at once', async () => {
    const ex = client(emu.url);
    await ex.createOrder('BTC/USDT', 'market', 'buy', 1);
    await expect(
      ex.createOrder('BTC/USDT', 'market', 'sell', 0.5, undefined, { stopLossPrice: 115 }),
    ).rejects.toBeInstanceOf(ccxt.OrderImmediatelyFillable);
  });

  it('refuses a reused client order id, unfunded orders, tiny orders, and bad signatures', async () => {
    const ex = client(emu.url);
    await ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'dup' });
    await expect(
      ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'dup' }),
    ).rejects.toThrow(/Duplicate order sent/);
    await expect(ex.createOrder('BTC/USDT', 'market', 'buy', 100)).rejects.toBeInstanceOf(
      ccxt.InsufficientFunds,
    );
    // Binance's "Filter failure: NOTIONAL" is a BadRequest to ccxt (so bosun checks it before sending).
    await expect(ex.createOrder('BTC/USDT', 'market', 'buy', 0.00002)).rejects.toBeInstanceOf(
      ccxt.BadRequest,
    );
    await expect(client(emu.url, 'wrong').fetchBalance()).rejects.toBeInstanceOf(ccxt.AuthenticationError);
    emu.wallClock = () => Date.now() + 60_000;
    await expect(ex.fetchBalance()).rejects.toBeInstanceOf(ccxt.InvalidNonce);
  });

  it('can carry an order out and lose the response; the order is then found by its client id', async () => {
    const ex = client(emu.url);
    await ex.loadMarkets();
    emu.fault({ lose: true, path: '/api/v3/order', method: 'POST' });
    await expect(
      ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'lost' }),
    ).rejects.toBeInstanceOf(ccxt.RequestTimeout);
    const found = await ex.fetchOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'lost' });
    expect(found).toMatchObject({ clientOrderId: 'lost', status: 'closed', filled: 1 });
    const trades = await ex.fetchMyTrades('BTC/USDT', undefined, undefined, { orderId: found.id });
    expect(trades[0]!.fee).toMatchObject({ currency: 'BTC' });
    expect(trades[0]!.fee!.cost).toBeCloseTo(0.001, 10);
  });

  it('can carry an order out late: unknown to a lookup at first, then there, and a resend is refused', async () => {
    const ex = client(emu.url);
    await ex.loadMarkets();
    emu.fault({ lose: true, lateMs: 2000, path: '/api/v3/order', method: 'POST' });
    await expect(
      ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'late' }),
    ).rejects.toBeInstanceOf(ccxt.RequestTimeout);
    await expect(
      ex.fetchOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'late' }),
    ).rejects.toBeInstanceOf(ccxt.OrderNotFound);
    // Timed out at 1.5 s; carried out at 2 s.
    await new Promise((r) => setTimeout(r, 700));
    const found = await ex.fetchOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'late' });
    expect(found).toMatchObject({ clientOrderId: 'late', status: 'closed', filled: 1 });
    await expect(
      ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'late' }),
    ).rejects.toThrow(/Duplicate order sent/);
  });

  it('cancels an open order and releases its funds', async () => {
    const ex = client(emu.url);
    await ex.createOrder('BTC/USDT', 'limit', 'buy', 1, 50, { clientOrderId: 'lim' });
    expect((await amounts(ex, 'used'))['USDT']).toBeCloseTo(50, 8);
    await ex.cancelOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'lim' });
    expect((await amounts(ex, 'free'))['USDT']).toBeCloseTo(1000, 8);
    await expect(
      ex.cancelOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'lim' }),
    ).rejects.toBeInstanceOf(ccxt.OrderNotFound);
  });
});
