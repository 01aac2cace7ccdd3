/**
 * The market watch: market filters against the exchange emulator with hand-made tickers (real ccxt,
 * one tickers request), the regime's states and hysteresis on constructed series, outside providers
 * absent and failing, the gate, and snapshots with their retention limit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MarketWatch, type WatchEvent } from '../../src/engine/market-watch.js';
import { returnCorrelation } from '../../src/engine/scanner.js';
import { type EngineClock, watchSchedule } from '../../src/engine/watch-schedule.js';
import { filterPairs, filtersFrom, setFilter } from '../../src/engine/pairlist.js';
import {
  classify,
  priceInputs,
  REGIME_DEFAULTS,
  RegimeTracker,
  regimeGate,
} from '../../src/engine/regime.js';
import {
  configuredProviders,
  newsProvider,
  readProviders,
  scoreHeadlines,
  seriesProvider,
} from '../../src/engine/regime-providers.js';
import { createLogger } from '../../src/logger.js';
import { MarketData } from '../../src/market/provider.js';
import { candlesFrom } from '../../src/market/types.js';
import { StateStore } from '../../src/store/state.js';
import { type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const logger = createLogger({ level: 'silent', format: 'json' });

/** Hourly candles whose close follows f(i). */
function series(n: number, f: (i: number) => number, volume = 1000): EmulatorCandle[] {
  return Array.from({ length: n }, (_, i) => {
    const c = f(i);
    const o = i === 0 ? c : f(i - 1);
    return {
      time: T0 + i * H,
      open: o,
      high: Math.max(o, c) * 1.002,
      low: Math.min(o, c) * 0.998,
      close: c,
      volume,
    };
  });
}
const rising = (n: number, step = 0.004) => series(n, (i) => 100 * (1 + step) ** i);

describe('market filters against the exchange emulator (real ccxt)', () => {
  let emu: ExchangeEmulator;
  const candles = rising(400);
  // last 100 +- ...: volume in quote = ticker override; spreads from bid/ask; range from high/low.
  const markets = [
    { symbol: 'BTC/USDT', ticker: { bid: 100, ask: 100.02, high: 103, low: 99, quoteVolume: 9e8 } },
    { symbol: 'ETH/USDT', ticker: { bid: 50, ask: 50.01, high: 52, low: 49, quoteVolume: 4e8 } },
    // Too thin: 500,000 < 1,000,000.
    { symbol: 'DOGE/USDT', ticker: { bid: 0.1, ask: 0.10001, high: 0.11, low: 0.1, quoteVolume: 5e5 } },
    // Wide spread: (10.2 - 10) / 10.1 = 1.98 % > 0.5 %.
    { symbol: 'WIDE/USDT', ticker: { bid: 10, ask: 10.2, high: 10.3, low: 9.9, quoteVolume: 5e6 } },
    // Wild: (20 - 10) / 10 = 100 % > 25 %.
    { symbol: 'WILD/USDT', ticker: { bid: 15, ask: 15.001, high: 20, low: 10, quoteVolume: 5e6 } },
    // Denied, and another quote currency.
    { symbol: 'LUNA/USDT', ticker: { bid: 1, ask: 1.0001, high: 1.01, low: 0.99, quoteVolume: 5e7 } },
    { symbol: 'ETH/BTC', ticker: { bid: 0.05, ask: 0.05001, high: 0.051, low: 0.049, quoteVolume: 5e7 } },
  ];
  let dir: string;

  beforeAll(async () => {
    emu = await new ExchangeEmulator(
      markets.map((m) => ({ symbol: m.symbol, candles, intervalMs: H, ticker: m.ticker })),
    ).start();
    emu.now = () => T0 + 399 * H + 60_000;
    dir = mkdtempSync(join(tmpdir(), 'bosun-watch-'));
  });
  afterAll(async () => emu.stop());

  async function watchWith(env: Record<string, string>) {
    const config = loadConfig({
      env: {
        EXCHANGE_API_URL: emu.url,
        MARKET_DATA: 'exchange',
        DATA_DIR: dir,
        PAIRLIST_DENY: 'LUNA/USDT',
        ...env,
      },
      dotenv: false,
    });
    const store = await StateStore.open(mkdtempSync(join(dir, 's-')));
    const market = new MarketData(config, logger, undefined, () => T0 + 399 * H + 60_000);
    return new MarketWatch({
      config,
      market,
      store,
      logger,
      now: () => T0 + 399 * H + 60_000,
      providers: [],
    });
  }

  it('keeps liquid, tight, calm, allowed markets by volume, each left out with its reason, from one tickers request', async () => {
    const watch = await watchWith({});
    const before = emu.requests.length;
    const list = await watch.refresh();
    const calls = emu.requests.slice(before).map((r) => r.path);
    expect(calls.filter((p) => p.startsWith('/api/v3/ticker'))).toEqual(['/api/v3/ticker/24hr']);
    expect(list.pairs.map((p) => p.symbol)).toEqual(['BTC/USDT', 'ETH/USDT']);
    expect(list.pairs[0]!.spread).toBeCloseTo(0.02 / 100.01, 12);
    expect(list.source).toBe('binance tickers');
    const why = Object.fromEntries(list.dropped.map((d) => [d.symbol, d.reason]));
    expect(why).toEqual({
      'DOGE/USDT': '24h volume 500,000 USDT below 1,000,000',
      'WIDE/USDT': 'spread 1.98% above 0.5%',
      'WILD/USDT': '24h range 100% above 25%',
      'LUNA/USDT': 'on the deny list',
    });
    // Cached until PAIRLIST_REFRESH: a second ask makes no request.
    const n = emu.requests.length;
    await watch.pairlist();
    expect(emu.requests.length).toBe(n);
  });

  it('takes admins changes (stored), refuses bad ones in one line, and caps the list by volume', async () => {
    const watch = await watchWith({ PAIRLIST_MAX: '1' });
    expect((await watch.pairlist()).pairs.map((p) => p.symbol)).toEqual(['BTC/USDT']);
    await watch.setFilter('minVolume', '100000');
    await watch.setFilter('max', '10');
    await watch.setFilter('quotes', 'USDT,BTC');
    const list = await watch.pairlist();
    expect(list.pairs.map((p) => p.symbol)).toEqual(['BTC/USDT', 'ETH/USDT', 'ETH/BTC', 'DOGE/USDT']);
    await expect(watch.setFilter('maxSpread', 'wide')).rejects.toThrow(
      'maxSpread is "wide"; allowed: largest spread as a share of the mid price, 0 to 1, or a percentage (0.005 = 0.5%)',
    );
    // Several changes are all or nothing: a bad one leaves the good one unstored.
    const before = watch.filters();
    await expect(watch.setFilters({ deny: 'DOGE/USDT', maxVolatility: '-1' })).rejects.toThrow(
      /^maxVolatility is "-1"; allowed/,
    );
    expect(watch.filters()).toEqual(before);
    await watch.setFilters({ deny: 'DOGE/USDT', maxSpread: '0.5%', maxVolatility: '30%' });
    expect(watch.filters()).toMatchObject({ deny: ['DOGE/USDT'], maxSpread: 0.005, maxVolatility: 0.3 });
    await expect(watch.setFilter('minvolume', '1')).rejects.toThrow(
      /^unknown filter "minvolume"; allowed: quotes, minVolume/,
    );
    expect(() => setFilter(watch.filters(), 'deny', 'not a market')).toThrow(
      /deny "not a market" is not valid/,
    );
    await watch.resetFilters();
    expect(watch.filters().max).toBe(1);
  });

  it('scans the listed markets, ranks them by strength with reasons, and keeps every snapshot in the journal', async () => {
    const watch = await watchWith({
      PAIRLIST_MIN_HISTORY: '100',
      SCAN_TIMEFRAME: '1h',
    });
    const result = await watch.scan('1h');
    expect(result.rows.map((r) => r.symbol).sort()).toEqual(['BTC/USDT', 'ETH/USDT']);
    for (const r of result.rows) {
      expect(r.score).toBeGreaterThanOrEqual(5); // a steady 0.4 % climb an hour
      expect(r.reasons.length).toBeGreaterThan(2);
      expect(r.correlation).toBeCloseTo(1, 6); // same candles as BTC
    }
    const snaps = await watch.snapshots();
    expect(snaps).toHaveLength(2);
    expect(snaps[0]!.candles).toHaveLength(50);
    expect(snaps[0]!.orderBook).toEqual({
      bid: expect.any(Number),
      bidSize: 0.5,
      ask: expect.any(Number),
      askSize: 0.5,
    });
    await watch.scan('1h');
    expect(await watch.snapshots()).toHaveLength(4); // both scans, nothing dropped
  });
});

describe('pairlist rules by hand', () => {
  const f = filtersFrom(loadConfig({ env: {}, dotenv: false }).pairlist);
  it('passes a market whose history is unknown and drops one with too little', () => {
    const markets = [
      { symbol: 'A/USDT', quote: 'USDT' },
      { symbol: 'B/USDT', quote: 'USDT' },
    ];
    const t = { bid: 1, ask: 1.001, high: 1.1, low: 1, last: 1, quoteVolume: 2e6 };
    const r = filterPairs(
      markets,
      { 'A/USDT': { symbol: 'A/USDT', ...t }, 'B/USDT': { symbol: 'B/USDT', ...t } },
      f,
      0,
      (s) => (s === 'B/USDT' ? 150 : undefined),
    );
    expect(r.pairs.map((p) => p.symbol)).toEqual(['A/USDT']);
    expect(r.dropped).toEqual([{ symbol: 'B/USDT', reason: '150 candles of history, below 200' }]);
  });
});

describe('regime states and hysteresis on constructed series', () => {
  const c = (xs: EmulatorCandle[]) => candlesFrom(xs);
  it('reads a steady climb as RISK_ON, a steady fall as RISK_OFF, a flat range as CHOP', () => {
    const up = classify(priceInputs(c(rising(120, 0.004)), [c(rising(120, 0.003))], 50));
    expect(up.state).toBe('RISK_ON');
    expect(up.inputs.breadth).toBe(1);
    const down = classify(priceInputs(c(rising(120, -0.004)), [], 50));
    expect(down.state).toBe('RISK_OFF');
    expect(down.reasons).toContain('no outside inputs configured: price alone');
    // A zig-zag around 100: no slope, ADX low.
    const flat = classify(priceInputs(c(series(120, (i) => 100 + (i % 2 === 0 ? 0.5 : -0.5))), [], 50));
    expect(flat.state).toBe('CHOP');
    // Slope by hand: ln(close) rises ln(1.004) a bar.
    expect(up.inputs.slope).toBeCloseTo(Math.log(1.004), 10);
  });

  it('calls it DECOUPLED when outside inputs lean hard against price', () => {
    const inputs = priceInputs(c(rising(120, 0.004)), [], 50);
    const r = classify(inputs, [{ provider: 'dxy', bias: -0.8, detail: 'DXY 106 (+1.2%)' }]);
    expect(r.state).toBe('DECOUPLED');
    expect(classify(inputs, [{ provider: 'dxy', bias: -0.3, detail: 'mild' }]).state).toBe('RISK_ON');
    expect(classify(inputs, [{ provider: 'news', bias: 0.9, detail: 'good' }]).state).toBe('RISK_ON');
  });

  it('holds a state for the minimum time before it may change, and keeps the history', () => {
    const on = classify(priceInputs(c(rising(120, 0.004)), [], 50));
    const off = classify(priceInputs(c(rising(120, -0.004)), [], 50));
    const tr = new RegimeTracker(12 * H);
    expect(tr.update(0, on)).toMatchObject({ from: null, to: 'RISK_ON' });
    expect(tr.update(6 * H, off)).toBeUndefined(); // 6 h < 12 h: held
    expect(tr.state).toBe('RISK_ON');
    expect(tr.heldFor(6 * H)).toBe(6 * H);
    expect(tr.update(12 * H, off)).toMatchObject({ from: 'RISK_ON', to: 'RISK_OFF', at: 12 * H });
    expect(tr.update(13 * H, on)).toBeUndefined();
    expect(tr.history.map((h) => h.to)).toEqual(['RISK_ON', 'RISK_OFF']);
    // Restored after a restart, it keeps holding from the stored time.
    const again = new RegimeTracker(12 * H, 50, { state: 'RISK_OFF', since: 12 * H, history: tr.history });
    expect(again.update(20 * H, on)).toBeUndefined();
    expect(again.update(24 * H, on)?.to).toBe('RISK_ON');
  });

  it('gates runs: no longs in RISK_OFF, nothing in CHOP, size = multiplier x signal confidence', () => {
    expect(regimeGate('RISK_OFF', 'long', 1)).toEqual({ ok: false, reason: 'regime RISK_OFF: no longs' });
    expect(regimeGate('CHOP', 'short', 1)).toEqual({
      ok: false,
      reason: 'regime CHOP: no entries while the market ranges',
    });
    expect(regimeGate('RISK_ON', 'long', 0.8)).toEqual({ ok: true, factor: 0.8 });
    expect(regimeGate('DECOUPLED', 'long', 0.8)).toEqual({
      ok: true,
      factor: REGIME_DEFAULTS.multipliers.DECOUPLED * 0.8,
    });
    expect(regimeGate('RISK_OFF', 'short', 1)).toEqual({ ok: true, factor: 0.5 });
  });
});

describe('outside providers', () => {
  const now = T0 + 30 * 86_400_000;
  it('are off by default: none configured, the regime works on price alone', () => {
    expect(configuredProviders(loadConfig({ env: {}, dotenv: false }).regime)).toEqual([]);
    expect(
      configuredProviders({ dxyUrl: 'http://x/dxy', newsUrl: 'http://x/news' }).map((p) => p.name),
    ).toEqual(['dxy', 'news']);
  });

  it('read a rising DXY as risk-off, and a failing provider is reported, not fatal', async () => {
    const dxy = seriesProvider(
      'dxy',
      'u',
      { windowMs: 5 * 86_400_000, fullMove: 0.01, rising: -1, label: 'DXY' },
      async () => [
        { time: now - 6 * 86_400_000, value: 100 },
        { time: now - 86_400_000, value: 100.5 },
      ],
    );
    const broken = newsProvider('u', async () => {
      throw new Error('HTTP 503');
    });
    const { readings, failures } = await readProviders([dxy, broken], now);
    // +0.5 % over the window, a full move is 1 %: bias -0.5.
    expect(readings).toHaveLength(1);
    expect(readings[0]!.bias).toBeCloseTo(-0.5, 12);
    expect(readings[0]!.detail).toBe('DXY 100.50 (+0.50%)');
    expect(failures).toEqual([{ provider: 'news', error: 'HTTP 503' }]);
    const r = classify(priceInputs(candlesFrom(rising(120)), [], 50), [], REGIME_DEFAULTS, failures);
    expect(r.reasons).toContain('outside inputs unavailable: price alone');
    await expect(
      readProviders(
        [
          seriesProvider(
            'dominance',
            'u',
            { windowMs: 1, fullMove: 1, rising: -1, label: 'D' },
            async () => ({}),
          ),
        ],
        now,
      ),
    ).resolves.toMatchObject({
      failures: [{ provider: 'dominance', error: 'dominance: expected a JSON array of {time, value}' }],
    });
  });

  it('score headlines by keyword: category, sentiment, impact, decay, expiry', () => {
    const hour = 3_600_000;
    const { bias, scored } = scoreHeadlines(
      [
        { title: 'Exchange hack: $200m stolen', time: now - 24 * hour }, // security -1 x 3, 48 h: half left
        // "Bank" is not "ban": adoption +1 x 1, 24 h: half left.
        { title: 'Bank adopts bitcoin payments', time: now - 12 * hour },
        { title: 'Rate hike fears', time: now - 30 * hour }, // macro, expired after 24 h
        { title: 'Weather is nice', time: now - hour }, // no keyword
      ],
      now,
    );
    expect(scored.map((s) => s.category)).toEqual(['security', 'adoption']);
    // (-3 x 0.5 + 1 x 0.5) / 3 = -1/3
    expect(bias).toBeCloseTo(-1 / 3, 12);
  });
});

describe('correlation', () => {
  it('is 1 for the same returns, -1 for mirrored ones, null without enough common bars', () => {
    const a = candlesFrom(series(60, (i) => 100 + Math.sin(i)));
    const b = candlesFrom(series(60, (i) => 100 - Math.sin(i)));
    expect(returnCorrelation(a, a)).toBeCloseTo(1, 12);
    expect(returnCorrelation(a, b)!).toBeLessThan(-0.99);
    expect(returnCorrelation(a, candlesFrom(series(5, (i) => i + 1)))).toBeNull();
  });
});

describe('no sample feeds a decision while the exchange is down (MARKET_DATA=auto, exchange feed)', () => {
  // An exchange whose BTC climbs 0.4 % an hour around 60,000: nothing like any bundled sample.
  const candles = series(400, (i) => 60_000 * 1.004 ** i);
  const NOW = T0 + 399 * H + 60_000;
  let emu: ExchangeEmulator;

  beforeAll(async () => {
    emu = await new ExchangeEmulator([
      { symbol: 'BTC/USDT', candles, intervalMs: H },
      { symbol: 'ETH/USDT', candles, intervalMs: H },
    ]).start();
    emu.now = () => NOW;
  });
  afterAll(async () => emu.stop());

  it('says the regime, scanner and pairlist have no data and refuses entries, until the exchange answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-outage-'));
    const config = loadConfig({
      env: {
        EXCHANGE_API_URL: emu.url,
        MARKET_FEED: 'exchange',
        DATA_DIR: dir,
        REGIME_TIMEFRAME: '1h',
        SCAN_TIMEFRAME: '1h',
      },
      dotenv: false,
    });
    const store = await StateStore.open(join(dir, 'state'));
    const market = new MarketData(config, logger, undefined, () => NOW);
    const watch = new MarketWatch({ config, market, store, logger, now: () => NOW, providers: [] });

    // Down: candles, tickers and books answered 503 (ccxt: ExchangeNotAvailable, a network error).
    // The market list still answers, so recovery here does not hang on ccxt keeping a failed market
    // load (issue 17 item 16, fixed in the download code).
    for (const path of ['/api/v3/klines', '/api/v3/ticker', '/api/v3/depth'])
      emu.fault({ status: 503, path, times: 10_000 });
    const noData = /^no market data yet: binance unreachable \(/;
    await expect(watch.clock(NOW, true)).rejects.toThrow(noData);
    expect(watch.gate('long')).toEqual({
      ok: false,
      reason: expect.stringMatching(/^regime unknown: no market data yet: binance unreachable/),
    });
    expect(watch.regime()).toMatchObject({
      state: 'unknown',
      why: expect.stringMatching(noData),
      effect: 'Entries are refused until it is measured.',
    });
    await expect(watch.scan('1h')).rejects.toThrow(noData);
    await expect(watch.pairlist()).rejects.toThrow(noData);
    expect(store.data.regime).toBeUndefined();

    // Up: the next attempt reads the exchange's candles, and nothing else.
    emu.clearFaults();
    const change = await watch.clock(NOW, true);
    // Read at the last hourly close before NOW.
    expect(change).toMatchObject({ at: T0 + 399 * H, from: null, to: 'RISK_ON' });
    expect(watch.gate('long')).toMatchObject({ ok: true, state: 'RISK_ON' });
    const scan = await watch.scan('1h');
    expect(scan.source).toBe('binance tickers');
    const btc = scan.rows.find((r) => r.symbol === 'BTC/USDT')!;
    // Priced from the exchange's candles (near 295,000), not from a bundled sample.
    const nearest = Math.min(...[398, 399].map((i) => Math.abs(candles[i]!.close - btc.last)));
    expect(nearest / btc.last).toBeLessThan(1e-9);
  });

  it('is measured on a live feed as soon as the exchange answers, retried on the wall clock, and announced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-outage-'));
    const config = loadConfig({
      env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange', DATA_DIR: dir, REGIME_TIMEFRAME: '1h' },
      dotenv: false,
    });
    const store = await StateStore.open(join(dir, 'state'));
    const market = new MarketData(config, logger, undefined, () => NOW);
    const watch = new MarketWatch({ config, market, store, logger, now: () => NOW, providers: [] });
    emu.fault({ status: 503, path: '/api/v3/klines', times: 10_000 });
    // The schedule needs of the engine only its clock and its feed's pace; the watch announces.
    const announced: WatchEvent[] = [];
    watch.on((e) => announced.push(e));
    const engine: EngineClock = { feed: { accelerated: false }, now: () => NOW };
    const timers = watchSchedule(watch, () => engine, config, logger, 50);
    try {
      const wait = { timeout: 8000 };
      await vi.waitFor(() => expect(watch.regime()).toMatchObject({ state: 'unknown' }), wait);
      const asked = emu.calls('/api/v3/klines').length;
      await vi.waitFor(() => expect(emu.calls('/api/v3/klines').length).toBeGreaterThan(asked), wait);
      expect(announced).toEqual([]);
      emu.clearFaults();
      await vi.waitFor(() => expect(announced).toHaveLength(1), wait);
      expect(announced[0]).toMatchObject({ type: 'regime', change: { from: null, to: 'RISK_ON' } });
      expect(watch.gate('long')).toMatchObject({ ok: true, state: 'RISK_ON' });
    } finally {
      for (const t of timers) clearInterval(t);
    }
  });
});
