import { HOUR, RISING_HOURS, T0 } from '../helpers/candles.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ExchangeFeed } from '../../src/engine/exchange-feed.js';
import type { Candle } from '../../src/market/types.js';
import { type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';
import { quietLogger } from '../helpers/engine.js';

const H = HOUR;
const hourly: EmulatorCandle[] = RISING_HOURS;

describe('the exchange feed (real ccxt against the exchange emulator)', () => {
  let emu: ExchangeEmulator;
  let now = T0;
  let feed: ExchangeFeed;
  const got: Candle[] = [];
  const status: Array<[boolean, string]> = [];
  const at = (t: number) => {
    now = t;
    emu.now = () => t;
  };

  beforeEach(async () => {
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: hourly, intervalMs: H }]).start();
    at(T0 + 30 * H + 5000);
    const config = loadConfig({ env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange' }, dotenv: false });
    feed = new ExchangeFeed(config, quietLogger(), { clock: () => now, retries: 1, backoffMs: 10 });
    got.length = 0;
    status.length = 0;
    await feed.start({
      onCandle: async (_s, _tf, c) => void got.push(c),
      onStatus: (up, detail) => void status.push([up, detail]),
    });
  });
  afterEach(async () => {
    await feed.stop();
    await emu.stop();
  });

  it('gives closed candles only, and refuses a market or timeframe the exchange lacks in one line', async () => {
    const h = await feed.history('BTC/USDT', '1h', 10);
    expect(h.length).toBe(10);
    expect(h.time.at(-1)).toBe(T0 + 29 * H); // hour 30 is still open
    await expect(feed.check('DOGE/EUR', '1h')).rejects.toThrow(
      /DOGE\/EUR is not listed on binance; allowed: a market like BTC\/USDT/,
    );
    await expect(feed.check('BTC/USDT', '7m')).rejects.toThrow(
      /binance has no 7m candles; allowed: 1s, 1m, 3m/,
    );
  });

  it('fetches only the new closed candles, once per series however many runs follow it', async () => {
    feed.watch('BTC/USDT', '1h');
    feed.watch('BTC/USDT', '1h'); // a second run on the same series
    at(T0 + 33 * H + 5000);
    const before = emu.calls('/api/v3/klines').length;
    await feed.poll('BTC/USDT|1h');
    expect(emu.calls('/api/v3/klines').length - before).toBe(1);
    expect(got.map((c) => (c.time - T0) / H)).toEqual([30, 31, 32]);
    // Nothing new closed: the last closed candle came already, so the exchange is not even asked.
    await feed.poll('BTC/USDT|1h');
    expect(got).toHaveLength(3);
    expect(emu.calls('/api/v3/klines').length - before).toBe(1);
    // The next close is asked for from the candle after the last delivered.
    at(T0 + 34 * H + 5000);
    await feed.poll('BTC/USDT|1h');
    expect(got).toHaveLength(4);
    expect(emu.calls('/api/v3/klines').at(-1)!.query.startTime).toBe(String(T0 + 33 * H));
  });

  it('reports an outage once, and the recovery once, then catches up', async () => {
    feed.watch('BTC/USDT', '1h');
    emu.fault({ status: 503, times: 100, path: '/api/v3/klines' });
    at(T0 + 31 * H + 5000);
    await feed.poll('BTC/USDT|1h');
    at(T0 + 32 * H + 5000);
    await feed.poll('BTC/USDT|1h');
    expect(status).toEqual([[false, expect.stringMatching(/binance does not answer/)]]);
    emu.clearFaults();
    await feed.poll('BTC/USDT|1h');
    expect(status.map(([up]) => up)).toEqual([false, true]);
    expect(got.map((c) => (c.time - T0) / H)).toEqual([30, 31]);
  });
});

describe('the exchange feed after an outage at start', () => {
  it('loads the markets again when the exchange comes back, with no restart', async () => {
    const emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: hourly, intervalMs: H }]).start();
    const now = T0 + 30 * H + 5000;
    emu.now = () => now;
    const config = loadConfig({ env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange' }, dotenv: false });
    const feed = new ExchangeFeed(config, quietLogger(), { clock: () => now, retries: 2, backoffMs: 5 });
    try {
      emu.fault({ status: 503, times: 1000, path: '/api/v3/exchangeInfo' });
      await feed.start({ onCandle: async () => undefined, onStatus: () => undefined });
      await expect(feed.check('BTC/USDT', '1h')).rejects.toThrow(/^loading markets failed after 3 attempts/);
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(3);
      emu.clearFaults();
      // The next read (ccxt loads the markets before fetching candles) asks the exchange again.
      expect((await feed.history('BTC/USDT', '1h', 5)).time.length).toBe(5);
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(4);
      await feed.check('BTC/USDT', '1h');
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(4);
    } finally {
      await feed.stop();
      await emu.stop();
    }
  });
});
