/** A live engine against the exchange emulator, through real ccxt, for live-trading tests. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ccxt from 'ccxt';
import type { Exchange } from 'ccxt';
import type { LiveConfig } from '../../src/config.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { LiveBroker } from '../../src/engine/live/broker.js';
import { rewriteApiUrls } from '../../src/market/exchange.js';
import { candlesFromCsv, ExchangeEmulator } from '../emulators/exchange/server.js';
import { makeEngine, quietLogger, replayEnd, type TestEngine } from './engine.js';
import { SAMPLES } from './fixtures.js';

export const KEY = 'emu-key-123';
export const SECRET = 'emu-secret-456';
export const TWO_HOURS = 7_200_000;

export const LIVE_DEFAULTS: LiveConfig = {
  entryOrder: 'market',
  limitOffsetBps: 5,
  limitTimeout: 60_000,
  limitFallback: 'market',
  stops: 'exchange',
  maxNotionalRun: 0,
  maxNotionalTotal: 0,
  reconcileInterval: 3_600_000,
  breakerFailures: 3,
};

/** The whole bundled 2h sample, as the emulator's market (replays are cut from its start). */
export const ALL_2H = candlesFromCsv(readFileSync(join(SAMPLES, 'binance_BTC-USDT_2h.csv'), 'utf8'));

export async function emulator(balances: Record<string, number> = { USDT: 10_000 }) {
  return new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: ALL_2H, intervalMs: TWO_HOURS }], {
    apiKey: KEY,
    secret: SECRET,
    balances,
  }).start();
}

export function liveExchange(url: string, timeout = 1000): Exchange {
  const ex = new ccxt.binance({
    apiKey: KEY,
    secret: SECRET,
    enableRateLimit: true,
    timeout,
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  rewriteApiUrls(ex, url);
  return ex;
}

export interface LiveEngine extends TestEngine {
  broker: LiveBroker;
  events: EngineEvent[];
}

/** A live engine on a replay file whose clock drives the emulator's. */
export async function liveEngine(
  emu: ExchangeEmulator,
  file: string,
  o: { dir?: string; settings?: Partial<LiveConfig>; risk?: Record<string, unknown>; timeout?: number } = {},
): Promise<LiveEngine> {
  const broker = new LiveBroker({
    exchange: liveExchange(emu.url, o.timeout),
    settings: { ...LIVE_DEFAULTS, ...o.settings },
    logger: quietLogger(),
    backoffMs: 40,
    probeMs: 100,
  });
  const t = await makeEngine({
    file,
    live: broker,
    ...(o.dir ? { dir: o.dir } : {}),
    ...(o.risk ? { risk: o.risk } : {}),
  });
  emu.now = () => t.feed.now();
  const events: EngineEvent[] = [];
  t.engine.on((e) => events.push(e));
  return { ...t, broker, events };
}

/** Start a manual run on the replay and play it to its end: the last candle's signal waits. */
export async function pendingSignal(t: LiveEngine, strategy = 'rsi-reversion'): Promise<string> {
  await t.engine.startRun(
    { strategy, symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'manual' },
    'test',
  );
  const ended = replayEnd(t.engine);
  await t.engine.start();
  await ended;
  const sig = Object.values(t.store.data.signals).find((s) => s.status === 'pending');
  if (!sig) throw new Error('no pending signal at the end of the replay');
  return sig.id;
}

export const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-live-'));
