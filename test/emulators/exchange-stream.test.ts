/**
 * The exchange emulator's WebSocket streams, driven through real ccxt.pro (and, for the wire protocol
 * itself, a bare WebSocket). Several tests pin down how ccxt 4.5 reports what happens on a stream.
 */
import ccxt from 'ccxt';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOUR, RISING_HOURS, T0 } from '../helpers/candles.js';
import { type EmulatorCandle, ExchangeEmulator, pointCcxtAt } from './exchange/server.js';

const KEY = 'test-key';
const SECRET = 'test-secret';
/** A quarter hour: one step of an hourly candle's price path. */
const Q = HOUR / 4;
const T10 = T0 + 10 * HOUR;
const T11 = T0 + 11 * HOUR;

type Pro = InstanceType<typeof ccxt.pro.binance>;
type Row = [number, number, number, number, number, number];

/** A ccxt.pro client on the emulator; `config` merges into ccxt's constructor options. */
async function client(emu: ExchangeEmulator, config: Record<string, unknown> = {}): Promise<Pro> {
  const ex = new ccxt.pro.binance({
    apiKey: KEY,
    secret: SECRET,
    enableRateLimit: false,
    timeout: 1500,
    ...config,
    options: {
      fetchMarkets: { types: ['spot'] },
      fetchCurrencies: false,
      fetchMargins: false,
      // Redial at once (ccxt waits about 1 s, doubling, for a URL it dialled in the last 30 s).
      ws: { backoff: { base: 10 } },
    },
  });
  await pointCcxtAt(ex, emu);
  return ex;
}

/** A promise that must settle within `ms`. */
function within<T>(p: Promise<T>, ms = 1000): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms)),
  ]);
}

const rows = (p: Promise<unknown>) => within(p) as Promise<Row[]>;

/** A market named `symbol` with the rising hours' data. */
const market = (symbol: string, candles: EmulatorCandle[] = RISING_HOURS) => ({
  symbol,
  candles,
  intervalMs: HOUR,
});

describe('exchange emulator streams (through real ccxt.pro)', () => {
  let emu: ExchangeEmulator;
  const clients: Pro[] = [];
  const open = async (config?: Record<string, unknown>) => {
    const ex = await client(emu, config);
    clients.push(ex);
    return ex;
  };
  const start = async (markets = [market('BTC/USDT')]) => {
    emu = await new ExchangeEmulator(markets, {
      apiKey: KEY,
      secret: SECRET,
      balances: { USDT: 1000 },
    }).start();
    emu.streams.advanceTo(T10);
  };

  beforeEach(() => start());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((ex) => ex.close()));
    await emu.stop();
  });

  describe('market streams', () => {
    it('streams a candle along its path (open, nearer extreme, other extreme, close), then closes it', async () => {
      const ex = await open();
      // Hour 10 of the rising hours: open 110, high 112, low 109, close 111, volume 10. The low is
      // nearer the open (1 below, the high 2 above), so the path is 110, 109, 112, 111; a quarter
      // of the volume (2.5) trades at each step.
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 110, 110, 2.5]]);
      const at = async (t: number) => {
        const next = ex.watchOHLCV('BTC/USDT', '1h');
        emu.streams.advanceTo(t);
        return rows(next);
      };
      expect(await at(T10 + Q)).toEqual([[T10, 110, 110, 109, 109, 5]]);
      expect(await at(T10 + 2 * Q)).toEqual([[T10, 110, 112, 109, 112, 7.5]]);
      expect(await at(T10 + 3 * Q)).toEqual([[T10, 110, 112, 109, 111, 10]]);
      // At 11:00 hour 10 closes, and hour 11 (open 111) opens: both arrive together.
      expect(await at(T11)).toEqual([
        [T10, 110, 112, 109, 111, 10],
        [T11, 111, 111, 111, 111, 2.5],
      ]);
      const closed = emu.streams.closedKlines();
      expect(closed.map((e) => [e.stream, e.openTime])).toEqual([['btcusdt@kline_1h', T10]]);
      expect(closed[0]!.at).toBeGreaterThan(Date.now() - 5000);
      // The streamed close is the candle REST serves.
      expect(await ex.fetchOHLCV('BTC/USDT', '1h', T10, 1)).toEqual([[T10, 110, 112, 109, 111, 10]]);
    });

    it("keeps Binance's closed flag, which ccxt's rows drop, for a client that reads the raw kline", async () => {
      const ex = await open();
      const flags: Array<[number, boolean]> = [];
      const raw = ex as unknown as {
        handleOHLCV(client: unknown, message: { k: { t: number; x: boolean } }): void;
      };
      const handle = raw.handleOHLCV.bind(ex);
      raw.handleOHLCV = (c, message) => {
        flags.push([message.k.t, message.k.x]);
        handle(c, message);
      };
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const next = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.advanceTo(T11);
      await rows(next);
      expect(flags).toEqual([
        [T10, false], // the snapshot on subscribing
        [T10, false], // 10:15
        [T10, false], // 10:30
        [T10, false], // 10:45
        [T10, true], // 11:00, closed
        [T11, false],
      ]);
    });

    it('serves the ticker, the book ticker and trades from the same path', async () => {
      const ex = await open();
      // Tickers and book tickers send their state on subscribing; trades only as they happen.
      expect((await within(ex.watchTicker('BTC/USDT'))).last).toBe(110);
      expect((await within(ex.watchBidsAsks(['BTC/USDT'])))['BTC/USDT']).toMatchObject({
        bid: 109.99,
        ask: 110.01,
      });
      const ticker = ex.watchTicker('BTC/USDT');
      const book = ex.watchBidsAsks(['BTC/USDT']);
      const trades = ex.watchTrades('BTC/USDT');
      await emu.streams.subscribed('btcusdt@trade');
      emu.streams.advanceTo(T10 + Q);
      // 10:15: the path is at the low, 109, reached by a sale.
      expect((await within(ticker)).last).toBe(109);
      expect((await within(book))['BTC/USDT']).toMatchObject({ bid: 108.99, ask: 109.01 });
      expect((await within(trades)).map((t) => [t.timestamp, t.price, t.amount, t.side])).toEqual([
        [T10 + Q, 109, 2.5, 'sell'],
      ]);
      // miniTicker for watchTicker, bookTicker, trade: one connection each.
      expect(emu.streams.connections().map((c) => c.streams)).toEqual([
        ['btcusdt@miniTicker'],
        ['btcusdt@bookTicker'],
        ['btcusdt@trade'],
      ]);
    });

    it('sends the closed klines of 50 markets in one go, logging when each left', async () => {
      const symbols = Array.from({ length: 50 }, (_, i) => `C${String(i).padStart(2, '0')}/USDT`);
      await emu.stop();
      await start(symbols.map((s) => market(s)));
      const ex = await open();
      await rows(ex.watchOHLCVForSymbols(symbols.map((s) => [s, '1h'])));
      await Promise.all(
        symbols.map((s) => emu.streams.subscribed(`${s.replace('/', '').toLowerCase()}@kline_1h`)),
      );
      emu.streams.advanceTo(T11);
      const closed = emu.streams.closedKlines();
      expect(closed).toHaveLength(50);
      expect(new Set(closed.map((e) => e.symbol)).size).toBe(50);
      expect(closed.every((e) => e.openTime === T10 && e.time === T11)).toBe(true);
      // All 50 went out on the one connection ccxt opened for klines, within a few ms.
      expect(new Set(closed.map((e) => e.conn)).size).toBe(1);
      expect(closed[49]!.at - closed[0]!.at).toBeLessThan(100);
    });

    it('runs on a timer for a clock that moves by itself', async () => {
      const ex = await open();
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      // A quarter hour of market time every 100 ms of real time.
      const began = Date.now();
      emu.now = () => T10 + Math.floor(((Date.now() - began) / 100) * Q);
      emu.streams.autoPump(5);
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 109, 109, 5]]);
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 112, 109, 112, 7.5]]);
      emu.streams.stopAutoPump();
    });

    it('answers SUBSCRIBE, LIST_SUBSCRIPTIONS and a bad stream as Binance does, raw and combined', async () => {
      const ws = new WebSocket(`${emu.wsUrl}/ws`);
      const replies: unknown[] = [];
      ws.on('message', (m: Buffer) => replies.push(JSON.parse(m.toString())));
      await new Promise((resolve) => ws.on('open', resolve));
      const send = async (msg: object, count: number) => {
        const before = replies.length;
        ws.send(JSON.stringify(msg));
        while (replies.length < before + count) await new Promise((r) => setTimeout(r, 5));
        return replies.slice(before);
      };
      expect(await send({ method: 'SUBSCRIBE', params: ['btcusdt@trade'], id: 1 }, 1)).toEqual([
        { result: null, id: 1 },
      ]);
      expect(await send({ method: 'LIST_SUBSCRIPTIONS', id: 2 }, 1)).toEqual([
        { result: ['btcusdt@trade'], id: 2 },
      ]);
      const [bad] = await send({ method: 'SUBSCRIBE', params: ['btcusdt@kline_1m'], id: 3 }, 1);
      expect(bad).toMatchObject({ id: 3, error: { code: 2 } });
      ws.close();
      // Combined: streams named in the URL, payloads wrapped in { stream, data }.
      const combined = new WebSocket(`${emu.wsUrl}/stream?streams=btcusdt@bookTicker`);
      const first = new Promise<unknown>((resolve) =>
        combined.once('message', (m: Buffer) => resolve(JSON.parse(m.toString()))),
      );
      expect(await within(first)).toEqual({
        stream: 'btcusdt@bookTicker',
        data: { u: 41, s: 'BTCUSDT', b: '109.99000000', B: '1.00000000', a: '110.01000000', A: '1.00000000' },
      });
      combined.close();
    });
  });

  describe('faults', () => {
    it('a dropped connection fails the pending watch with NetworkError; the next watch reconnects', async () => {
      const ex = await open();
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const pending = ex.watchOHLCV('BTC/USDT', '1h');
      expect(emu.streams.drop()).toBe(1);
      await expect(within(pending)).rejects.toThrow(/connection closed by remote server, closing code 1001/);
      await expect(pending).rejects.toBeInstanceOf(ccxt.NetworkError);
      // ccxt does not reconnect by itself: the next watch dials again and gets the state now.
      emu.streams.advanceTo(T10 + Q);
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 109, 109, 5]]);
      // Cut TCP instead: the client sees 1006.
      const cut = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.drop({ terminate: true });
      await expect(within(cut)).rejects.toThrow(/closing code 1006/);
      // One SUBSCRIBE on each connection ccxt dialled.
      expect(emu.streams.log.filter((e) => e.dir === 'in').map((e) => e.conn)).toEqual([1, 2]);
    });

    it('a refused reconnect fails the watch with NetworkError (HTTP 503), the one after succeeds', async () => {
      const ex = await open();
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const pending = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.refuse(1);
      emu.streams.drop();
      await expect(within(pending)).rejects.toBeInstanceOf(ccxt.NetworkError);
      await expect(within(ex.watchOHLCV('BTC/USDT', '1h'))).rejects.toThrow(
        /Unexpected server response: 503/,
      );
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 110, 110, 2.5]]);
    });

    it("a stall without pongs trips ccxt's keepalive (RequestTimeout); with pongs only a deadline sees it", async () => {
      // ccxt pings every keepAlive ms (Binance default 180 s) and gives up after two missed pongs.
      const ex = await open({ streaming: { keepAlive: 100 } });
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const pending = ex.watchOHLCV('BTC/USDT', '1h');
      expect(emu.streams.stall()).toBe(1);
      emu.streams.advanceTo(T10 + Q);
      await expect(within(pending)).rejects.toBeInstanceOf(ccxt.RequestTimeout);
      expect(emu.streams.log.some((e) => e.fault === 'stall' && e.openTime === T10)).toBe(true);
      // A new connection is healthy: the state now, 10:15.
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 109, 109, 5]]);
      emu.streams.stall({ answerPings: true });
      const silent = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.advanceTo(T10 + 2 * Q);
      await expect(within(silent, 500)).rejects.toThrow('nothing within 500 ms');
      expect(emu.streams.connections()).toHaveLength(1);
    });

    it('a duplicated trade arrives twice', async () => {
      const ex = await open();
      const trades = ex.watchTrades('BTC/USDT');
      await emu.streams.subscribed('btcusdt@trade');
      emu.streams.fault({ type: 'duplicate', stream: 'btcusdt@trade' });
      emu.streams.advanceTo(T10 + Q);
      expect((await within(trades)).map((t) => [t.id, t.price])).toEqual([
        ['42', 109],
        ['42', 109],
      ]);
    });

    it('a reordered trade arrives after the next one', async () => {
      const ex = await open();
      const trades = ex.watchTrades('BTC/USDT');
      await emu.streams.subscribed('btcusdt@trade');
      emu.streams.fault({ type: 'reorder', stream: 'btcusdt@trade' });
      // 10:15 trades at 109 (id 42), 10:30 at 112 (id 43).
      emu.streams.advanceTo(T10 + 2 * Q);
      expect((await within(trades)).map((t) => [t.id, t.price])).toEqual([
        ['43', 112],
        ['42', 109],
      ]);
    });

    it("a late closed kline is hidden by watchOHLCV's answer, which repeats the newest row", async () => {
      const ex = await open();
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      emu.streams.fault({ type: 'delay', stream: 'btcusdt@kline_1h', closed: true, ms: 50 });
      const next = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.advanceTo(T10 + 3 * Q);
      await rows(next);
      const open11 = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.advanceTo(T11);
      expect(await rows(open11)).toEqual([[T11, 111, 111, 111, 111, 2.5]]);
      // The close of hour 10 comes 50 ms later; ccxt updates hour 10 in its cache but answers with
      // its newest row, hour 11, again.
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T11, 111, 111, 111, 111, 2.5]]);
      const kline = emu.streams.log.filter((e) => e.stream === 'btcusdt@kline_1h' && e.sent);
      expect(kline.map((e) => [e.openTime, e.closed, e.fault])).toEqual([
        [T10, false, undefined],
        [T10, false, undefined],
        [T10, false, undefined],
        [T10, false, undefined],
        [T11, false, undefined],
        [T10, true, 'delay'],
      ]);
    });

    it('skipped messages leave a gap that REST /klines fills', async () => {
      const ex = await open();
      expect(await rows(ex.watchOHLCV('BTC/USDT', '1h'))).toEqual([[T10, 110, 110, 110, 110, 2.5]]);
      // Hour 10's three later steps and its close are lost.
      emu.streams.fault({ type: 'skip', stream: 'btcusdt@kline_1h', times: 4 });
      const next = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.advanceTo(T11);
      expect(await rows(next)).toEqual([[T11, 111, 111, 111, 111, 2.5]]);
      expect((ex.ohlcvs as Record<string, Record<string, Row[]>>)['BTC/USDT']!['1h']![0]).toEqual([
        T10,
        110,
        110,
        110,
        110,
        2.5,
      ]);
      expect(await ex.fetchOHLCV('BTC/USDT', '1h', T10, 1)).toEqual([[T10, 110, 112, 109, 111, 10]]);
      expect(emu.streams.log.filter((e) => e.fault === 'skip')).toHaveLength(4);
    });

    it('malformed JSON fails the pending watch with a TypeError, not a ccxt error, and keeps the connection', async () => {
      const ex = await open();
      // ccxt reports the parse failure only through its log (console.log unless replaced).
      const logged: string[] = [];
      ex.log = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const pending = ex.watchOHLCV('BTC/USDT', '1h');
      expect(emu.streams.inject('{"e":"kline",')).toBe(1);
      const err = await within(pending).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect(err).not.toBeInstanceOf(ccxt.BaseError);
      expect(logged.some((line) => line.includes('onMessage JSON.parse'))).toBe(true);
      // An unknown event is ignored; the stream goes on on the same connection.
      const next = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.inject({ e: 'surpriseEvent', E: T10 });
      emu.streams.advanceTo(T10 + Q);
      expect(await rows(next)).toEqual([[T10, 110, 110, 109, 109, 5]]);
      expect(emu.streams.connections()).toHaveLength(1);
    });

    it("a kline with unreadable fields becomes a row of nulls in ccxt's answer", async () => {
      const ex = await open();
      await rows(ex.watchOHLCV('BTC/USDT', '1h'));
      const pending = ex.watchOHLCV('BTC/USDT', '1h');
      emu.streams.inject({
        e: 'kline',
        E: T10,
        s: 'BTCUSDT',
        k: { t: 'soon', s: 'BTCUSDT', i: '1h', o: 'abc' },
      });
      expect(await rows(pending)).toEqual([
        [undefined, undefined, undefined, undefined, undefined, undefined],
      ]);
    });
  });

  describe('user data', () => {
    it("pushes a market order's NEW and TRADE and the balances to watchOrders, watchMyTrades, watchBalance", async () => {
      const ex = await open();
      const orders = ex.watchOrders();
      const trades = ex.watchMyTrades();
      const balance = ex.watchBalance();
      await emu.streams.subscribed('userData');
      // Hour 10 opens at 110: 1 BTC for 110 USDT, 0.1 % of it (0.001 BTC) kept as commission.
      await ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'c1' });
      expect((await within(orders))[0]).toMatchObject({
        clientOrderId: 'c1',
        status: 'closed',
        filled: 1,
        average: 110,
        cost: 110,
        fee: { currency: 'BTC', cost: 0.001 },
      });
      const [trade] = await within(trades);
      expect(trade).toMatchObject({
        price: 110,
        amount: 1,
        side: 'buy',
        fee: { currency: 'BTC', cost: 0.001 },
      });
      const b = await within(balance);
      expect(b['USDT']).toMatchObject({ free: 1000 - 110, used: 0 });
      expect(b['BTC']).toMatchObject({ free: 0.999, used: 0 });
      const events = emu.streams.log.filter((e) => e.stream === 'userData').map((e) => e.event);
      expect(events).toEqual(['executionReport', 'executionReport', 'outboundAccountPosition']);
      // One WebSocket API connection, one signed subscription for all three watches.
      expect(emu.streams.log.filter((e) => e.dir === 'in' && e.kind === 'api')).toHaveLength(1);
    });

    it('pushes a stop filled when the candle that reached it closes, and a cancel', async () => {
      const ex = await open();
      await ex.createOrder('BTC/USDT', 'market', 'buy', 1);
      const stop = ex.watchOrders('BTC/USDT');
      await emu.streams.subscribed('userData');
      await ex.createOrder('BTC/USDT', 'market', 'sell', 0.5, undefined, {
        clientOrderId: 'stop',
        stopLossPrice: 109.5,
      });
      expect((await within(stop))[0]).toMatchObject({
        clientOrderId: 'stop',
        status: 'open',
        triggerPrice: 109.5,
      });
      // The path dips to 109 at 10:15, but the emulator fills exchange-held orders at the close.
      const fill = ex.watchOrders('BTC/USDT');
      emu.streams.advanceTo(T10 + 3 * Q);
      await expect(within(fill, 300)).rejects.toThrow('nothing within 300 ms');
      emu.streams.advanceTo(T11);
      expect((await within(fill)).at(-1)).toMatchObject({
        clientOrderId: 'stop',
        status: 'closed',
        average: 109.5,
      });
      await ex.createOrder('BTC/USDT', 'limit', 'buy', 1, 50, { clientOrderId: 'low' });
      const cancel = ex.watchOrders('BTC/USDT');
      await ex.cancelOrder(undefined as never, 'BTC/USDT', { clientOrderId: 'low' });
      expect((await within(cancel)).at(-1)).toMatchObject({ clientOrderId: 'low', status: 'canceled' });
    });

    it('a dropped user data connection fails watchOrders with NetworkError; watching again subscribes again', async () => {
      const ex = await open();
      const pending = ex.watchOrders();
      await emu.streams.subscribed('userData');
      expect(emu.streams.drop({ kind: 'api' })).toBe(1);
      await expect(within(pending)).rejects.toBeInstanceOf(ccxt.NetworkError);
      const again = ex.watchOrders();
      await emu.streams.subscribed('userData');
      await ex.createOrder('BTC/USDT', 'market', 'buy', 1, undefined, { clientOrderId: 'after' });
      expect((await within(again))[0]).toMatchObject({ clientOrderId: 'after', status: 'closed' });
      const subscribes = emu.streams.log.filter(
        (e) => e.dir === 'in' && e.text.includes('subscribe.signature'),
      );
      expect(subscribes).toHaveLength(2);
    });

    it('refuses a bad signature: watchOrders fails with AuthenticationError', async () => {
      const ex = await open({ secret: 'wrong' });
      await ex.loadMarkets();
      const pending = ex.watchOrders();
      // ccxt 4.5.84 also rejects an internal future nobody awaits (an unhandled rejection that would
      // end a Node process); it exists as soon as watchOrders has returned, so catch it here.
      const wsApi = (ex.urls.api as unknown as { ws: { 'ws-api': { spot: string } } }).ws['ws-api'].spot;
      const futures = (ex.clients[wsApi] as unknown as { futures: Record<string, Promise<unknown>> }).futures;
      futures['authenticate:signature:spot']!.catch(() => undefined);
      await expect(within(pending)).rejects.toBeInstanceOf(ccxt.AuthenticationError);
      const reply = emu.streams.log.find((e) => e.kind === 'api' && e.event === 'response');
      expect(JSON.parse(reply!.text)).toMatchObject({ status: 400, error: { code: -1022 } });
    });
  });
});
