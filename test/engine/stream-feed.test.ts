/**
 * The streaming feed through real ccxt.pro against the exchange emulator's WebSocket streams: closed
 * candles as the exchange closes them, once and in order whatever the stream does (duplicates, late
 * messages, a gap backfilled over REST), redialled after a drop or a silence, the chats told once
 * when it degrades and once when it is back.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { eventReply } from '../../src/chat/notices.js';
import { PLAIN_TEXT as PLAIN, renderMessages } from '../../src/chat/reply.js';
import { StreamFeed } from '../../src/engine/stream-feed.js';
import type { Candle } from '../../src/market/types.js';
import { ExchangeEmulator } from '../emulators/exchange/server.js';
import { HOUR, RISING_HOURS, T0 } from '../helpers/candles.js';
import { quietLogger } from '../helpers/engine.js';

const H = HOUR;
const hours = (list: Candle[]) => list.map((c) => (c.time - T0) / H);

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the streaming feed (real ccxt.pro against the stream emulator)', () => {
  let emu: ExchangeEmulator;
  let feed: StreamFeed;
  const got: Candle[] = [];
  const status: Array<[boolean, string, string | undefined]> = [];
  const forming: Candle[] = [];

  async function open(heartbeatMs = 30_000): Promise<void> {
    const config = loadConfig({
      env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange', EXCHANGE: `binance` },
      dotenv: false,
    });
    feed = new StreamFeed(config, quietLogger(), {
      heartbeatMs,
      backoffMs: 20,
      maxBackoffMs: 200,
      clock: () => emu.now(),
      retries: 1,
    });
    await feed.start({
      onCandle: async (_s, _tf, c) => void got.push(c),
      onStatus: (up, detail, cause) => void status.push([up, detail, cause]),
      onForming: (_s, _tf, c) => void forming.push(c),
    });
    feed.watch('BTC/USDT', '1h');
    await emu.streams.subscribed('btcusdt@kline_1h');
  }

  /**
   * `fn` while the market moves a quarter hour every 30 ms (the stream speaks well within a short
   * heartbeat), then until two more hours have come.
   */
  async function whileTicking(fn: () => Promise<void>): Promise<void> {
    const ticker = setInterval(() => emu.streams.advanceTo(emu.now() + H / 4), 30);
    try {
      await fn();
      const after = got.length;
      await until('two more hours', () => got.length >= after + 2);
    } finally {
      clearInterval(ticker);
    }
  }

  /** Every hour from 30 on, once and in order. */
  function expectEveryHourOnce(): void {
    const h = hours(got);
    expect(h).toEqual(h.map((_, k) => 30 + k));
  }

  beforeEach(async () => {
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: RISING_HOURS, intervalMs: H }]).start();
    emu.streams.advanceTo(T0 + 30 * H + 1000);
    got.length = 0;
    status.length = 0;
    forming.length = 0;
  });
  afterEach(async () => {
    await feed?.stop();
    await emu.stop();
  });

  it('delivers each candle as the exchange closes it, with the values REST serves, and asks REST nothing', async () => {
    await open();
    const klinesBefore = emu.calls('/api/v3/klines').length;
    emu.streams.advanceTo(T0 + 31 * H);
    await until('hour 30', () => got.length === 1);
    emu.streams.advanceTo(T0 + 33 * H);
    await until('hours 31 and 32', () => got.length === 3);
    expect(hours(got)).toEqual([30, 31, 32]);
    // RISING_HOURS: open 100 + i, high +2, low -1, close +1.
    expect(got[0]).toEqual({ time: T0 + 30 * H, open: 130, high: 132, low: 129, close: 131, volume: 10 });
    expect(emu.calls('/api/v3/klines').length).toBe(klinesBefore);
    expect(status).toEqual([]);
  });

  it('drops duplicates and late messages, and fills a gap over REST before the next candle', async () => {
    await open();
    emu.streams.fault({ type: 'duplicate', stream: 'btcusdt@kline_1h', closed: true });
    emu.streams.advanceTo(T0 + 31 * H);
    await until('hour 30', () => got.length === 1);
    // Hour 31's close never comes over the stream: hour 32's brings it from REST first.
    emu.streams.fault({ type: 'skip', stream: 'btcusdt@kline_1h', closed: true });
    emu.streams.advanceTo(T0 + 32 * H);
    emu.streams.advanceTo(T0 + 33 * H);
    await until('hours 31 and 32', () => got.length === 3);
    emu.streams.fault({ type: 'reorder', stream: 'btcusdt@kline_1h', closed: true });
    emu.streams.advanceTo(T0 + 35 * H);
    await until('hours 33 and 34', () => got.length === 5);
    await new Promise((r) => setTimeout(r, 50));
    expect(hours(got)).toEqual([30, 31, 32, 33, 34]);
    expect(got[1]).toEqual({ time: T0 + 31 * H, open: 131, high: 133, low: 130, close: 132, volume: 10 });
  });

  it('redials a dropped stream at once, and that blip is no news', async () => {
    await open();
    emu.streams.advanceTo(T0 + 31 * H);
    await until('hour 30', () => got.length === 1);
    emu.streams.drop({ terminate: true });
    await new Promise((r) => setTimeout(r, 100));
    await emu.streams.subscribed('btcusdt@kline_1h');
    emu.streams.advanceTo(T0 + 32 * H);
    await until('hour 31', () => got.length === 2);
    expect(hours(got)).toEqual([30, 31]);
    expect(status).toEqual([]);
  });

  it('says once that a stream it cannot redial is down, and once that it is back, losing no candle', async () => {
    await open(150);
    await whileTicking(async () => {
      await until('hour 30', () => got.length >= 1);
      // The next redials are refused for longer than a heartbeat.
      emu.streams.refuse(8);
      emu.streams.drop({ terminate: true });
      await until('the stream back', () => status.some(([up]) => up), 5000);
    });
    expectEveryHourOnce();
    expect(status).toEqual([
      [
        false,
        expect.stringMatching(
          /^the binance stream is down \(.+\); candles come by polling until it is back$/,
        ),
        'stream',
      ],
      [true, 'the binance stream is back; candles arrive as they close', 'stream'],
    ]);
  });

  it('treats a stream silent for two heartbeats as down, redials it, and fills what it missed', async () => {
    await open(100);
    const subscriptions = () =>
      emu.streams.log.filter(
        (e) => e.dir === 'in' && e.text.includes('SUBSCRIBE') && e.text.includes('kline'),
      ).length;
    await whileTicking(async () => {
      await until('hour 30', () => got.length >= 1);
      const before = subscriptions();
      emu.streams.stall({ answerPings: true });
      // Silent for 0.2 s: cut, and subscribed again on a new connection.
      await until('a redial', () => subscriptions() > before);
    });
    // Those closed during the silence came over REST before the next.
    expectEveryHourOnce();
    // Back at once: a blip the chats need not hear of.
    expect(status).toEqual([]);
  });

  it('takes a candle closed while the stream was down from REST, never the stale forming values', async () => {
    await open();
    // Hour 30 seen forming (its open), then the stream breaks before it closes.
    emu.streams.advanceTo(T0 + 30 * H + H / 4 + 1000);
    await new Promise((r) => setTimeout(r, 50));
    emu.streams.refuse(3);
    emu.streams.drop({ terminate: true });
    emu.streams.advanceTo(T0 + 31 * H + H / 4);
    await until('the redial', () => emu.streams.connections().length > 0, 3000);
    await emu.streams.subscribed('btcusdt@kline_1h');
    emu.streams.advanceTo(T0 + 32 * H);
    await until('hours 30 and 31', () => got.length === 2, 3000);
    expect(got[0]).toEqual({ time: T0 + 30 * H, open: 130, high: 132, low: 129, close: 131, volume: 10 });
    expect(hours(got)).toEqual([30, 31]);
  });

  it('lets no failed subscription of a broken connection end the process', async () => {
    const seen: unknown[] = [];
    const listener = (reason: unknown) => void seen.push(reason);
    process.on('unhandledRejection', listener);
    try {
      await open();
      // Six more series: their subscriptions queue behind ccxt's rate limiter, then the line breaks.
      for (const tf of ['2h', '4h', '6h', '8h', '12h', '1d']) feed.watch('BTC/USDT', tf);
      await new Promise((r) => setTimeout(r, 100));
      emu.streams.drop({ terminate: true });
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen).toEqual([]);
    } finally {
      process.off('unhandledRejection', listener);
    }
  });

  it('shows the engine each forming candle between closes, and its last price is the price', async () => {
    await open();
    const tickers = emu.calls('/api/v3/ticker/price').length + emu.calls('/api/v3/ticker/24hr').length;
    // Hour 31 (open 131, high 133, low 130, close 132): its path is open, the low (nearer), the high, close.
    emu.streams.advanceTo(T0 + 31 * H);
    emu.streams.advanceTo(T0 + 31 * H + H / 4);
    await until('hour 31 forming', () => forming.some((c) => c.time === T0 + 31 * H && c.low === 130));
    expect(forming.at(-1)).toEqual({
      time: T0 + 31 * H,
      open: 131,
      high: 131,
      low: 130,
      close: 130,
      volume: 5,
    });
    expect(await feed.price('BTC/USDT')).toBe(130);
    expect(emu.calls('/api/v3/ticker/price').length + emu.calls('/api/v3/ticker/24hr').length).toBe(tickers);
  });

  it('logs a malformed message once and goes on', async () => {
    await open();
    emu.streams.inject('{"e": "kline", "k": ');
    emu.streams.inject({ e: 'kline', E: 1, s: 'BTCUSDT', k: { t: 'x', i: '1h', x: true } });
    emu.streams.advanceTo(T0 + 31 * H);
    await until('hour 30', () => got.length === 1, 3000);
    expect(hours(got)).toEqual([30]);
  });
});

describe('what the chats hear of the stream', () => {
  it('says the stream is down, and back, as market stream notices (not a market data problem)', () => {
    const line = (e: Parameters<typeof eventReply>[0]) =>
      renderMessages(eventReply(e, 'UTC')!.blocks, PLAIN).join('\n');
    expect(
      line({
        type: 'feed',
        up: false,
        stream: true,
        detail: 'the binance stream is down (connection closed); candles come by polling until it is back',
      }),
    ).toBe(
      'Market stream: the binance stream is down (connection closed); candles come by polling until it is back.',
    );
    expect(
      line({
        type: 'feed',
        up: true,
        stream: true,
        detail: 'the binance stream is back; candles arrive as they close',
      }),
    ).toBe('Market stream: the binance stream is back; candles arrive as they close.');
  });
});
