import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { downloadCandles } from '../../src/market/download.js';
import { getExchange } from '../../src/market/exchange.js';
import { candlesFromCsv, type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';
import { SAMPLES } from '../helpers/fixtures.js';

const M = 60_000;
// Three days of real 1m candles, 2023-03-01 .. 2023-03-03.
const oneMinute: EmulatorCandle[] = candlesFromCsv(
  readFileSync(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`, 'utf8'),
).slice(0, 3 * 1440);
const T0 = oneMinute[0]!.time;

describe('downloadCandles (real ccxt against the exchange emulator)', () => {
  let emu: ExchangeEmulator;
  let dataDir: string;
  const fast = { retries: 3, backoffMs: 5 };

  beforeAll(async () => {
    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: oneMinute, intervalMs: M }]).start();
    emu.now = () => T0 + 3 * 1440 * M;
  });
  afterAll(() => emu.stop());
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'bosun-dl-'));
    emu.requests.length = 0;
    emu.clearFaults();
  });

  const req = (from: number, to: number, timeframe = '1m') => ({
    exchange: 'binance',
    symbol: 'BTC/USDT',
    timeframe,
    from,
    to,
  });
  const opts = () => ({ dataDir, apiUrl: emu.url, ...fast, now: emu.now() });

  it('pages through a range and returns exactly the candles in it', async () => {
    const r = await downloadCandles(req(T0, T0 + 2500 * M), { ...opts(), pageSize: 1000 });
    expect(r.candles.length).toBe(2500);
    expect(r.candles.time[0]).toBe(T0);
    expect(r.candles.time[2499]).toBe(T0 + 2499 * M);
    expect(r.candles.close[1234]).toBe(oneMinute[1234]!.close);
    expect(r.requests).toBe(3);
    expect(emu.calls('/api/v3/klines').map((c) => Number(c.query.startTime))).toEqual([
      T0,
      T0 + 1000 * M,
      T0 + 2000 * M,
    ]);
  });

  it('never fetches a cached range twice, and fetches only the missing part of a wider one', async () => {
    await downloadCandles(req(T0, T0 + 600 * M), opts());
    const before = emu.calls('/api/v3/klines').length;
    const again = await downloadCandles(req(T0 + 100 * M, T0 + 500 * M), opts());
    expect(again.requests).toBe(0);
    expect(again.candles.length).toBe(400);
    expect(emu.calls('/api/v3/klines').length).toBe(before);

    const wider = await downloadCandles(req(T0, T0 + 900 * M), opts());
    expect(wider.candles.length).toBe(900);
    expect(wider.fetched).toBe(300);
    expect(Number(emu.calls('/api/v3/klines').at(-1)!.query.startTime)).toBe(T0 + 600 * M);
    expect(readdirSync(join(dataDir, 'cache/ohlcv/binance/BTC-USDT/1m')).sort()).toEqual([
      '2023-03.csv',
      'coverage.json',
    ]);
  });

  it('retries passing errors (429 with Retry-After, 500, 502) with backoff and then succeeds', async () => {
    emu.fault({ status: 429, retryAfter: 1, path: '/api/v3/klines' });
    emu.fault({ status: 500, path: '/api/v3/klines' });
    emu.fault({ status: 502, path: '/api/v3/klines' });
    const started = performance.now();
    const r = await downloadCandles(req(T0, T0 + 100 * M), opts());
    // The 429 asked for 1 s (Retry-After), far above the 5 ms backoff the test configured.
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(r.candles.length).toBe(100);
    expect(emu.calls('/api/v3/klines').map((c) => c.status)).toEqual([429, 500, 502, 200]);
  });

  it('gives up after its retries with one NETWORK error line', async () => {
    emu.fault({ status: 503, path: '/api/v3/klines', times: 10 });
    const err = await downloadCandles(req(T0, T0 + 100 * M), opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('NETWORK');
    expect((err as AppError).message).toMatch(/^fetching BTC\/USDT 1m candles failed after 4 attempts/);
  });

  it('refuses a symbol the exchange does not list', async () => {
    const err = await downloadCandles({ ...req(T0, T0 + 100 * M), symbol: 'DOGE/EUR' }, opts()).catch(
      (e: unknown) => e,
    );
    expect((err as AppError).code).toBe('BAD_INPUT');
    expect((err as AppError).message).toBe(
      'symbol DOGE/EUR is not listed on binance; allowed: a market like BTC/USDT',
    );
  });

  it('builds a timeframe the exchange does not offer (37m) from 1m candles', async () => {
    const from = Math.ceil(T0 / (37 * M)) * 37 * M;
    const r = await downloadCandles(req(from, from + 5 * 37 * M, '37m'), opts());
    expect(r.sourceTimeframe).toBe('1m');
    expect(r.candles.length).toBe(5);
    // Candle 2 covers minutes [from + 74, from + 111): check it against the raw 1m data by hand.
    const start = from + 74 * M;
    const part = oneMinute.filter((c) => c.time >= start && c.time < start + 37 * M);
    expect(part).toHaveLength(37);
    expect(r.candles.time[2]).toBe(start);
    expect(r.candles.open[2]).toBe(part[0]!.open);
    expect(r.candles.high[2]).toBe(Math.max(...part.map((c) => c.high)));
    expect(r.candles.low[2]).toBe(Math.min(...part.map((c) => c.low)));
    expect(r.candles.close[2]).toBe(part[36]!.close);
  });

  it('keeps only closed candles: the one still forming is neither returned nor cached', async () => {
    const now = T0 + 100 * M + 30_000; // half-way through minute 100
    const r = await downloadCandles(req(T0, T0 + 200 * M), { ...opts(), now });
    expect(r.candles.length).toBe(100);
  });

  it('uses one ccxt instance per exchange and API URL', async () => {
    expect(await getExchange('binance', emu.url)).toBe(await getExchange('binance', emu.url));
  });

  it('rejects an exchange ccxt does not know', async () => {
    const err = await getExchange('nosuchexchange').catch((e: unknown) => e);
    expect((err as AppError).message).toMatch(/^exchange "nosuchexchange" is not supported/);
  });
});

describe('market loads (real ccxt against the exchange emulator going down and coming back)', () => {
  it('asks the exchange again at every retry, and recovers by itself once it answers', async () => {
    const emu = await new ExchangeEmulator([
      { symbol: 'BTC/USDT', candles: oneMinute, intervalMs: M },
    ]).start();
    try {
      emu.now = () => T0 + 3 * 1440 * M;
      const dataDir = mkdtempSync(join(tmpdir(), 'bosun-dl-'));
      const opts = { dataDir, apiUrl: emu.url, retries: 3, backoffMs: 5, now: emu.now() };
      const req = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1m', from: T0, to: T0 + 10 * M };
      // Down: every market load gets a gateway error.
      emu.fault({ status: 503, times: 1000, path: '/api/v3/exchangeInfo' });
      await expect(downloadCandles(req, opts)).rejects.toThrow(/^loading markets failed after 4 attempts/);
      // ccxt kept its first failed load and handed it back: one request reached the exchange.
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(4);
      // Back: ccxt's own calls (fetchOHLCV loads the markets first) ask again, without a restart.
      emu.clearFaults();
      const ex = await getExchange('binance', emu.url);
      expect(await ex.fetchOHLCV('BTC/USDT', '1m', T0, 5)).toHaveLength(5);
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(5);
      expect((await downloadCandles(req, opts)).candles.length).toBe(10);
      expect(emu.calls('/api/v3/exchangeInfo')).toHaveLength(5);
    } finally {
      await emu.stop();
    }
  });
});
