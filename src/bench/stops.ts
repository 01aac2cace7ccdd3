/**
 * Stop latency between closes (`--only stops`, a few seconds): the engine trading live (LIVE_STOPS=bot,
 * bosun holds the stops) on the streaming feed and the user data stream, against the exchange
 * emulator, 50 markets on 1m candles, each with a run and an open long with its stop 5 % under the
 * entry. The market clock moves a quarter of a minute at a time; in minute k, market k drops through
 * its stop (the path: open, the high, the low under the stop, the close), so one stop is crossed at a
 * time, as in a market that is not crashing everywhere at once. Measured: from the emulator sending
 * the forming kline whose low is under the stop to the emulator receiving that market's sell order.
 * Baseline: a bare ccxt.pro client in the same process, from the same send to ccxt handing that
 * kline over. Target: p95 at most 100 ms.
 *
 * The emulator is test code (`test/emulators`), built into dist/ by `npm run build`; without it the
 * part is skipped in one line.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Exchange } from 'ccxt';
import { openPosition } from '../backtest/fills.js';
import { loadConfig } from '../config.js';
import { Engine } from '../engine/engine.js';
import { LiveBroker } from '../engine/live/broker.js';
import { toRecord } from '../engine/positions.js';
import { StreamFeed } from '../engine/stream-feed.js';
import { createLogger } from '../logger.js';
import { rewriteApiUrls, streamingExchange } from '../market/exchange.js';
import { bareKlines } from './bare-stream.js';
import type { Candle } from '../market/types.js';
import { StateStore } from '../store/state.js';
import { type BenchRow, latencyRows } from './row.js';

const M = 60_000;
const MARKETS = 50;
const HISTORY = 60;
const ENTRY = 100;
const STOP = 95;
const KEY = 'bench-key';
const SECRET = 'bench-secret';

/** Flat minutes at 100, then market k's drop through its stop in minute HISTORY + 1 + k. */
function candles(k: number, first: number): Candle[] {
  const out: Candle[] = [];
  for (let i = 0; i < HISTORY + MARKETS + 2; i++) {
    const drop = i === HISTORY + 1 + k;
    out.push({
      time: first + i * M,
      open: ENTRY,
      high: drop ? ENTRY + 0.5 : ENTRY + 0.2,
      low: drop ? STOP - 2 : ENTRY - 0.2,
      close: drop ? STOP - 1 : ENTRY,
      volume: 10,
    });
  }
  return out;
}

interface Emulator {
  url: string;
  now: () => number;
  streams: {
    log: Array<{ at: number; symbol?: string; event?: string; sent: boolean; text: string }>;
    advanceTo(t: number): void;
    subscribed(stream: string, timeoutMs?: number): Promise<void>;
  };
  requests: Array<{ method: string; path: string; query: Record<string, string>; at: number }>;
  start(): Promise<Emulator>;
  stop(): Promise<void>;
}

export async function stopRows(root: string): Promise<BenchRow[]> {
  const emuFile = join(root, 'dist/test/emulators/exchange/server.js');
  if (!existsSync(emuFile)) {
    console.error('stop latency: skipped (npm run build makes the exchange emulator it runs against)');
    return [];
  }
  const { ExchangeEmulator } = (await import(pathToFileURL(emuFile).href)) as {
    ExchangeEmulator: new (markets: unknown[], account: unknown) => Emulator;
  };
  const first = Math.floor(Date.now() / M) * M - (HISTORY + MARKETS + 2) * M;
  const symbols = Array.from({ length: MARKETS }, (_, k) => `S${k}/USDT`);
  const balances: Record<string, number> = { USDT: 1_000_000 };
  for (const s of symbols) balances[s.split('/')[0]!] = 1;
  const emu = await new ExchangeEmulator(
    symbols.map((symbol, k) => ({ symbol, candles: candles(k, first), intervalMs: M })),
    { apiKey: KEY, secret: SECRET, balances },
  ).start();
  const open = first + HISTORY * M;
  emu.streams.advanceTo(open + 1000);

  // The baseline: ccxt.pro alone, noting each market's first kline under the stop.
  const bare = await bareKlines(emu.url, symbols, (k) => (Number(k.l) < STOP ? k.s : undefined));
  const bareSeen = bare.seen;

  const logger = createLogger({ level: 'error', format: 'json', destination: { write: () => undefined } });
  const config = loadConfig({
    env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange', EXCHANGE: 'binance' },
    dotenv: false,
  });
  const store = await StateStore.open(mkdtempSync(join(tmpdir(), 'bosun-bench-stops-')), Date.now(), 'live');
  const ccxt = (await import('ccxt')).default;
  const exchange = new ccxt.binance({
    apiKey: KEY,
    secret: SECRET,
    enableRateLimit: false,
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  }) as Exchange;
  rewriteApiUrls(exchange, emu.url);
  const broker = new LiveBroker({
    exchange,
    settings: {
      entryOrder: 'market',
      limitOffsetBps: 5,
      limitTimeout: 60_000,
      limitFallback: 'market',
      stops: 'bot',
      maxNotionalRun: 0,
      maxNotionalTotal: 0,
      reconcileInterval: 3_600_000,
      breakerFailures: 3,
    },
    logger,
    stream: (await streamingExchange('binance', emu.url, { apiKey: KEY, secret: SECRET }))!,
  });
  const feed = new StreamFeed(config, logger, { heartbeatMs: 30_000, clock: () => emu.now() });
  const engine = new Engine({
    store,
    feed,
    logger,
    broker,
    source: 'binance',
    settings: {
      paperBalance: { USDT: 10_000 },
      fee: 0.001,
      slippageBps: 0,
      approvalTimeoutMs: 15 * 60_000,
      risk: { maxOpenPositions: 1000, maxSymbolExposure: 1, cooldownMinutes: 0 },
      timezone: 'UTC',
      reportTime: '00:00',
    },
  });
  const latencies: number[] = [];
  const baseline: number[] = [];
  try {
    const runs: Array<{ id: string }> = [];
    for (const symbol of symbols)
      runs.push(
        await engine.startRun(
          { strategy: 'ema-cross', symbol, timeframe: '1m', params: {}, approve: 'manual' },
          'bench',
        ),
      );
    // Each run holds a long of 1 at 100 with its stop at 95 (its base is on the exchange's account).
    await store.update((s) => {
      runs.forEach((run, k) => {
        const p = openPosition({
          side: 1,
          index: 0,
          time: open - M,
          price: ENTRY,
          quantity: 1,
          rules: { stopLoss: (ENTRY - STOP) / ENTRY },
          costs: { fee: 0.001, slippage: 0 },
        });
        const id = `P${k + 1}`;
        s.positions[id] = toRecord(p, { id, runId: run.id, signalId: '-', symbol: symbols[k]!, mark: ENTRY });
      });
    });
    await engine.start();
    for (const s of symbols) await emu.streams.subscribed(`${s.replace('/', '').toLowerCase()}@kline_1m`);
    // A quarter of a minute at a time, the wall clock's 40 ms apart; each close processed before the next.
    for (let i = HISTORY; i < HISTORY + MARKETS + 1; i++) {
      const start = first + i * M;
      for (const q of [1, 2, 3]) {
        emu.streams.advanceTo(start + (q * M) / 4);
        await new Promise((r) => setTimeout(r, 40));
      }
      emu.streams.advanceTo(start + M);
      const deadline = Date.now() + 5000;
      while (Object.values(store.data.runs).some((r) => (r.lastBar ?? 0) < start) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 2));
    }
    await broker.idle();
  } finally {
    await engine.stop();
    await bare.stop();
    await emu.stop();
  }

  // Each market's first kline under its stop, as sent, and its first sell order, as received.
  const crossed = new Map<string, number>();
  for (const e of emu.streams.log)
    if (e.sent && e.event === 'kline' && e.symbol && !crossed.has(e.symbol)) {
      const low = Number((JSON.parse(e.text) as { data?: { k: { l: string } }; k?: { l: string } }).k?.l);
      if (low < STOP) crossed.set(e.symbol, e.at);
    }
  const sold = new Map<string, number>();
  for (const r of emu.requests)
    if (r.method === 'POST' && r.path === '/api/v3/order' && r.query.side === 'SELL' && r.query.symbol)
      if (!sold.has(r.query.symbol)) sold.set(r.query.symbol, r.at);
  let missing = 0;
  for (const [id, at] of crossed) {
    const sell = sold.get(id);
    if (sell === undefined) missing++;
    else latencies.push(sell - at);
    const seen = bareSeen.get(id);
    if (seen !== undefined) baseline.push(seen - at);
  }
  if (latencies.length === 0) {
    console.error('stop latency: no sell order came (the positions were not guarded?)');
    return [];
  }
  console.error(
    `stop latency: ${latencies.length} stops crossed one at a time in ${MARKETS} markets${missing > 0 ? `, ${missing} without a sell` : ''}; baseline: ${baseline.length} klines seen by bare ccxt.pro`,
  );
  return latencyRows(
    (q) => `stop crossed -> sell order at the exchange, ${q} (${MARKETS} markets, live)`,
    latencies,
    baseline,
    100,
    missing === 0,
  );
}
