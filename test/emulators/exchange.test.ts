import ccxt from 'ccxt';
import { HOUR, RISING_HOURS, T0 } from '../helpers/candles.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rewriteApiUrls } from '../../src/market/exchange.js';
import { type EmulatorCandle, ExchangeEmulator } from './exchange/server.js';

const H = HOUR;
const hourly: EmulatorCandle[] = RISING_HOURS;

describe('exchange emulator (through real ccxt)', () => {
  let emu: ExchangeEmulator;
  let ex: InstanceType<typeof ccxt.binance>;

  beforeEach(async () => {
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: hourly, intervalMs: H }]).start();
    emu.now = () => T0 + 48 * H;
    ex = new ccxt.binance({ enableRateLimit: false, options: { fetchMarkets: { types: ['spot'] } } });
    rewriteApiUrls(ex, emu.url);
  });
  afterEach(() => emu.stop());

  it('serves markets that ccxt parses, with precision and limits', async () => {
    await ex.loadMarkets();
    const m = ex.markets!['BTC/USDT']!;
    expect(m.base).toBe('BTC');
    expect(m.quote).toBe('USDT');
    expect(m.spot).toBe(true);
    expect(m.limits.cost?.min).toBe(5);
    expect(m.precision.amount).toBe(0.00001);
  });

  it('serves klines from startTime, limited, as ccxt OHLCV rows', async () => {
    const rows = await ex.fetchOHLCV('BTC/USDT', '1h', T0 + 2 * H, 3);
    expect(rows).toEqual([
      [T0 + 2 * H, 102, 104, 101, 103, 10],
      [T0 + 3 * H, 103, 105, 102, 104, 10],
      [T0 + 4 * H, 104, 106, 103, 105, 10],
    ]);
    expect(emu.calls('/api/v3/klines')[0]!.query).toMatchObject({
      symbol: 'BTCUSDT',
      interval: '1h',
      limit: '3',
    });
  });

  it('aggregates its data to a longer interval with epoch-aligned buckets', async () => {
    const rows = await ex.fetchOHLCV('BTC/USDT', '4h', T0, 2);
    // Bucket 0 holds hours 0..3: open of hour 0, max high 105, min low 99, close of hour 3, volume 40.
    expect(rows[0]).toEqual([T0, 100, 105, 99, 104, 40]);
    expect(rows[1]).toEqual([T0 + 4 * H, 104, 109, 103, 108, 40]);
  });

  it('serves nothing that has not opened yet by its clock', async () => {
    emu.now = () => T0 + 10 * H;
    const rows = await ex.fetchOHLCV('BTC/USDT', '1h', T0, 1000);
    expect(rows).toHaveLength(11);
  });

  it('answers an injected 429 with Retry-After, which ccxt raises as a network error', async () => {
    emu.fault({ status: 429, retryAfter: 1, path: '/api/v3/klines' });
    const err = await ex.fetchOHLCV('BTC/USDT', '1h', T0, 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ccxt.NetworkError);
    expect(emu.calls('/api/v3/klines')[0]!.status).toBe(429);
    // The fault is used up: the next request succeeds.
    expect(await ex.fetchOHLCV('BTC/USDT', '1h', T0, 5)).toHaveLength(5);
  });

  it('hangs a request when asked, so the client times out', async () => {
    ex.timeout = 200;
    emu.fault({ hang: true, path: '/api/v3/klines' });
    const err = await ex.fetchOHLCV('BTC/USDT', '1h', T0, 5).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ccxt.RequestTimeout);
  });

  it('answers late when asked, with the answer it would have given at once', async () => {
    emu.fault({ delayMs: 300, path: '/api/v3/klines' });
    const asked = Date.now();
    expect(await ex.fetchOHLCV('BTC/USDT', '1h', T0, 2)).toEqual([
      [T0, 100, 102, 99, 101, 10],
      [T0 + H, 101, 103, 100, 102, 10],
    ]);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(290);
    expect(emu.calls('/api/v3/klines').map((c) => c.status)).toEqual([200]);
  });

  it('rejects an unknown symbol and an out-of-range limit like Binance', async () => {
    const bad = await fetch(`${emu.url}/api/v3/klines?symbol=XXXYYY&interval=1h`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: -1121 });
    const big = await fetch(`${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=5000`);
    expect(big.status).toBe(400);
  });
});
