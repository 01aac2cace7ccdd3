/**
 * The engine on the streaming feed, through real ccxt.pro against the exchange emulator: orders a
 * close decided fill as the next candle opens, stops act as the price crosses them, and the trades
 * are still the backtest's, to the cent (the README's parity contract, its reproducible side). Live,
 * a stop bosun holds is sold as the price crosses it, and the user data stream books the exchange's
 * fills as they happen and reports orders bosun did not place.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { loadConfig } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { StreamFeed } from '../../src/engine/stream-feed.js';
import { candlesFrom } from '../../src/market/types.js';
import { StateStore } from '../../src/store/state.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { ExchangeEmulator } from '../emulators/exchange/server.js';
import { pricePath } from '../emulators/exchange/stream.js';
import { NO_LIMITS, quietLogger, testSettings } from '../helpers/engine.js';
import type { LiveConfig } from '../../src/config.js';
import { LiveBroker } from '../../src/engine/live/broker.js';
import { streamingExchange } from '../../src/market/exchange.js';
import { ALL_2H, KEY, LIVE_DEFAULTS, liveExchange, SECRET, TWO_HOURS as TF } from '../helpers/live.js';

const BARS = 900;
const DATA = ALL_2H.slice(0, BARS);
const RISK = { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.02 };

async function until(what: string, ok: () => boolean, ms = 5000, poll?: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  await poll?.();
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
    await poll?.();
  }
}

interface Setup {
  emu: ExchangeEmulator;
  engine: Engine;
  store: StateStore;
  runId: string;
  /** What the engine said, with the market clock when it said it. */
  heard: Array<{ at: number; e: EngineEvent }>;
}

/** The backtest of the data, and the bar before its first entry (the engine starts after its close). */
async function backtest() {
  const bt = runBacktest(await loadStrategy('rsi-reversion'), {}, candlesFrom(DATA), {
    capital: 10_000,
    fee: 0.001,
    slippageBps: 5,
    sizing: { mode: 'risk', risk: 0.02 },
    timeframeMs: TF,
  });
  const trades = bt.simulation.trades.filter((t) => t.exitReason !== 'end');
  const first = DATA.findIndex((c) => c.time === trades[0]!.entryTime) - 1;
  return { trades, first };
}

/** An auto rsi-reversion run on the stream, paper or (with `live`) through a live broker. */
async function setup(first: number, live?: Partial<LiveConfig>): Promise<Setup> {
  const emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: DATA, intervalMs: TF }], {
    apiKey: KEY,
    secret: SECRET,
    balances: { USDT: 10_000 },
  }).start();
  emu.streams.advanceTo(DATA[first]!.time + 1000);
  const config = loadConfig({
    env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange', EXCHANGE: 'binance' },
    dotenv: false,
  });
  const feed = new StreamFeed(config, quietLogger(), {
    heartbeatMs: 30_000,
    backoffMs: 20,
    clock: () => emu.now(),
    retries: 1,
  });
  const broker = live
    ? new LiveBroker({
        exchange: liveExchange(emu.url),
        settings: { ...LIVE_DEFAULTS, ...live },
        logger: quietLogger(),
        stream: (await streamingExchange('binance', emu.url, { apiKey: KEY, secret: SECRET }))!,
        streamBackoffMs: 20,
      })
    : undefined;
  const store = await StateStore.open(
    mkdtempSync(join(tmpdir(), 'bosun-guard-')),
    Date.now(),
    live ? 'live' : 'paper',
  );
  const engine = new Engine({
    store,
    feed,
    logger: quietLogger(),
    settings: testSettings(RISK, { slippageBps: 5 }),
    source: 'binance',
    ...(broker ? { broker } : {}),
  });
  const run = await engine.startRun(
    { strategy: 'rsi-reversion', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'auto' },
    'test',
  );
  const heard: Setup['heard'] = [];
  engine.on((e) => heard.push({ at: emu.now(), e }));
  await engine.start();
  await emu.streams.subscribed('btcusdt@kline_2h');
  if (live) await emu.streams.subscribed('userData');
  return { emu, engine, store, runId: run.id, heard };
}

/** The market moves a quarter of a candle at a time from bar `from` to `to`; each close is processed before the next. */
async function drive(t: Setup, from: number, to: number): Promise<void> {
  let seen = Number.NaN;
  for (let i = from; i < to; i++) {
    const path = pricePath(DATA[i]!);
    for (const q of [1, 2, 3]) {
      t.emu.streams.advanceTo(DATA[i]!.time + (q * TF) / 4);
      // The engine has seen this step (its price is the feed's), and what it did with it is kept:
      // an update queued after the step's own is done after it.
      const want = path[q]!;
      await until(
        `step ${q} of bar ${i}`,
        () => seen === want || Math.abs(seen - want) < 1e-9,
        5000,
        async () => {
          seen = await t.engine.feed.price('BTC/USDT');
        },
      );
      await t.store.update(() => undefined);
      // Live: what that sent has its answer before the market moves on.
      await t.engine.broker.idle();
    }
    t.emu.streams.advanceTo(DATA[i + 1]!.time);
    await until(`bar ${i}`, () => t.store.data.runs[t.runId]!.lastBar === DATA[i]!.time);
    await t.engine.broker.idle();
  }
  await new Promise((r) => setTimeout(r, 20));
}

describe('the engine on a streaming feed', () => {
  let t: Setup | undefined;
  afterEach(async () => {
    await t?.engine.stop();
    await t?.emu.stop();
    t = undefined;
  });

  it('fills at the next open as it opens, stops as the price crosses, and trades like the backtest', async () => {
    const { trades, first } = await backtest();
    expect(trades.filter((x) => x.exitReason === 'stop').length).toBeGreaterThan(0);
    t = await setup(first);
    await drive(t, first, BARS - 1);
    const { store, heard } = t;

    const got = (await store.journal.trades()).map(({ id: _i, runId: _r, symbol: _s, quote: _q, ...x }) => x);
    const expected = trades.filter((x) => x.exitTime < DATA[BARS - 1]!.time);
    expect(got.length).toBeGreaterThan(3);
    // The backtest's trades to the cent, their fills stamped with the same candles' times.
    expect(got).toEqual(expected);
    // Stops were taken as the price crossed them, before their candle closed.
    const stops = heard.flatMap(({ at, e }) =>
      e.type === 'exit' && e.fill.reason === 'stop' ? [{ at, candle: e.fill.time }] : [],
    );
    expect(stops.length).toBeGreaterThan(0);
    for (const { at, candle } of stops) expect(at).toBeLessThan(candle + TF);
    // Entries filled as their candle opened (its first updates), not when it closed.
    const entries = heard.filter(({ e }) => e.type === 'entry');
    expect(entries.length).toBe(got.length + Object.keys(store.data.positions).length);
    for (const { at, e } of entries)
      if (e.type === 'entry') expect(at).toBeLessThan(e.position.entryTime + TF);
  }, 120_000);

  it('live: sells a stop bosun holds as the price crosses it, before the candle closes', async () => {
    const { trades, first } = await backtest();
    const stopped = trades.find((x) => x.exitReason === 'stop')!;
    const exitBar = DATA.findIndex((c) => c.time === stopped.exits[0]!.time);
    t = await setup(first, { stops: 'bot' });
    await drive(t, first, exitBar + 1);
    // The market sell went out and filled while the candle that crossed the stop was still forming.
    const sell = Object.values(t.store.data.orders).find((o) => o.purpose === 'exit');
    expect(sell).toMatchObject({ type: 'market', reason: 'stop', status: 'filled' });
    const exit = t.heard.find(({ e }) => e.type === 'exit' && e.fill.reason === 'stop');
    expect(exit!.at).toBeGreaterThan(DATA[exitBar]!.time);
    expect(exit!.at).toBeLessThan(DATA[exitBar]!.time + TF);
    expect((await t.store.journal.trades()).map((x) => x.exitReason)).toEqual(['stop']);
  }, 120_000);

  it("live: books the exchange stop's fill from the user data stream at once, without waiting for a reconciliation", async () => {
    const { trades, first } = await backtest();
    const stopped = trades.find((x) => x.exitReason === 'stop')!;
    const exitBar = DATA.findIndex((c) => c.time === stopped.exits[0]!.time);
    // Reconciliation once an hour: within this test only the stream can tell the engine of the fill.
    t = await setup(first, { stops: 'exchange', reconcileInterval: 3_600_000 });
    const lookups = () => t!.emu.calls('/api/v3/order').filter((r) => r.method === 'GET').length;
    await drive(t, first, exitBar);
    const before = lookups();
    await drive(t, exitBar, exitBar + 1);
    const exit = t.heard.find(({ e }) => e.type === 'exit' && e.fill.reason === 'stop');
    expect(exit).toBeDefined();
    // Heard by the close of the candle that filled it (the emulator fills exchange stops at the close).
    expect(exit!.at).toBeLessThanOrEqual(DATA[exitBar]!.time + TF);
    expect(lookups()).toBe(before);
  }, 120_000);

  it('live: redials a dropped user data stream, then reports an order it did not place, once, and leaves it alone', async () => {
    const { first } = await backtest();
    t = await setup(first, {});
    t.emu.streams.drop({ kind: 'api', terminate: true });
    await new Promise((r) => setTimeout(r, 50));
    await t.emu.streams.subscribed('userData');
    const other = liveExchange(t.emu.url);
    await other.createOrder('BTC/USDT', 'limit', 'buy', 0.01, DATA[first]!.open * 0.5, {
      newClientOrderId: 'someone-else-1',
    });
    await until('the report', () => t!.heard.some(({ e }) => e.type === 'reconcile'));
    await new Promise((r) => setTimeout(r, 100));
    const said = t.heard.filter(({ e }) => e.type === 'reconcile');
    expect(said).toHaveLength(1);
    expect(said[0]!.e).toMatchObject({
      detail: expect.stringMatching(/was not placed by bosun; left alone$/),
    });
    expect(Object.values(t.store.data.orders).some((o) => o.id === 'someone-else-1')).toBe(false);
  }, 60_000);
});

describe('a live broker stopped while its user data stream still dials', () => {
  it('stops at once, and opens no connection after the stop', async () => {
    const emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: DATA, intervalMs: TF }], {
      apiKey: KEY,
      secret: SECRET,
      balances: { USDT: 10_000 },
    }).start();
    try {
      const exchange = liveExchange(emu.url);
      await exchange.loadMarkets();
      // The stream loads its own markets before it subscribes: that answer comes after the stop.
      emu.fault({ delayMs: 400, path: '/api/v3/exchangeInfo' });
      const broker = new LiveBroker({
        exchange,
        settings: LIVE_DEFAULTS,
        logger: quietLogger(),
        stream: (await streamingExchange('binance', emu.url, { apiKey: KEY, secret: SECRET }))!,
        streamBackoffMs: 20,
      });
      const store = await StateStore.open(mkdtempSync(join(tmpdir(), 'bosun-guard-')), Date.now(), 'live');
      await broker.start({ store, emit: () => undefined });
      await new Promise((r) => setTimeout(r, 100));
      const asked = Date.now();
      await broker.stop();
      expect(Date.now() - asked).toBeLessThan(300);
      await new Promise((r) => setTimeout(r, 600));
      expect(emu.calls('/api/v3/exchangeInfo').map((c) => c.status)).toEqual([200, 200]);
      expect(emu.streams.connections()).toEqual([]);
    } finally {
      await emu.stop();
    }
  }, 20_000);
});
