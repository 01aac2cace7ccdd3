/**
 * Signal latency over the market stream (`--only stream`, about two minutes of real time): the whole
 * bot on `MARKET_FEED=exchange` against the exchange emulator's WebSocket streams, 50 markets on 1m
 * candles, a run of ema-cross (fast 2, slow 3, on a zigzag that crosses at every close) on each, the
 * console as the chat. Measured: from the emulator sending a candle's closed kline (the exchange
 * closing it) to the console writing that market's signal message, over real minute closes.
 * Baseline: a bare ccxt.pro client in the same process subscribed to the same 50 streams, from the
 * same send to ccxt handing the closed kline over. Target: p95 at most 250 ms (polling waits 3 s).
 *
 * The emulator is test code (`test/emulators`), built into dist/ by `npm run build`; without it the
 * part is skipped in one line.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { bareKlines } from './bare-stream.js';
import type { Candle } from '../market/types.js';
import { type BenchRow, latencyRows } from './row.js';

const M = 60_000;
const MARKETS = 50;

/** Minute candles on a zigzag (up, down, up...) around 100 + k, so a 2/3 EMA cross fires at every close. */
function zigzag(k: number, first: number, count: number): Candle[] {
  const out: Candle[] = [];
  let prev = 100 + k;
  for (let i = 0; i < count; i++) {
    const close = Math.round((100 + k + (i % 2 === 0 ? 3 : -3)) * 100) / 100;
    out.push({
      time: first + i * M,
      open: prev,
      high: Math.max(prev, close) + 0.5,
      low: Math.min(prev, close) - 0.5,
      close,
      volume: 10,
    });
    prev = close;
  }
  return out;
}

/** The console's signal messages, each with the market it names and when it was written. */
function signalsOf(written: ReadonlyArray<{ at: number; text: string }>): Array<{ id: string; at: number }> {
  return written.flatMap((w) =>
    [...w.text.matchAll(/Signal S\d+ · (?:LONG|SHORT) (S\d+)\/USDT 1m/g)].map((m) => ({
      id: `${m[1]}USDT`,
      at: w.at,
    })),
  );
}

export async function streamRows(root: string, quick: boolean): Promise<BenchRow[]> {
  const emuFile = join(root, 'dist/test/emulators/exchange/server.js');
  if (!existsSync(emuFile)) {
    console.error('stream latency: skipped (npm run build makes the exchange emulator it runs against)');
    return [];
  }
  interface Emulator {
    url: string;
    streams: {
      logText: boolean;
      autoPump(ms: number): void;
      stopAutoPump(): void;
      closedKlines(): Array<{ at: number; symbol?: string; openTime?: number; sent: boolean }>;
    };
    start(): Promise<Emulator>;
    stop(): Promise<void>;
  }
  const { ExchangeEmulator } = (await import(pathToFileURL(emuFile).href)) as {
    ExchangeEmulator: new (markets: unknown[]) => Emulator;
  };
  const now = Date.now();
  const first = Math.floor(now / M) * M - 300 * M;
  const symbols = Array.from({ length: MARKETS }, (_, k) => `S${k}/USDT`);
  const emu = await new ExchangeEmulator(
    symbols.map((symbol, k) => ({ symbol, candles: zigzag(k, first, 320), intervalMs: M })),
  ).start();
  emu.streams.logText = false;
  emu.streams.autoPump(5);

  // The baseline: ccxt.pro alone, noting each closed kline.
  const bare = await bareKlines(emu.url, symbols, (k) => (k.x ? `${k.s}|${k.t}` : undefined));
  const bareSeen = bare.seen;

  const closeTimes: number[] = [];
  // The bot, its console captured line by line with the time each was written.
  const written: Array<{ at: number; text: string }> = [];
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      written.push({ at: performance.timeOrigin + performance.now(), text: chunk.toString('utf8') });
      done();
    },
  });
  const input = new PassThrough();
  const dataDir = mkdtempSync(join(tmpdir(), 'bosun-bench-stream-'));
  const config = loadConfig({
    env: {
      DATA_DIR: dataDir,
      MARKET_FEED: 'exchange',
      MARKET_DATA: 'exchange',
      EXCHANGE_API_URL: emu.url,
      CHAT_CONSOLE: 'on',
      REGIME_GATE: 'off',
      LOG_LEVEL: 'error',
      RISK_MAX_OPEN: '100',
      RISK_COOLDOWN_MINUTES: '0',
    },
    dotenv: false,
  });
  const { startBot } = await import('../main.js');
  const bot = await startBot({
    config,
    logger: createLogger({ level: 'error', format: 'json', destination: { write: () => undefined } }),
    input,
    output,
    interactive: false,
  });
  try {
    for (const s of symbols) input.write(`/start ema-cross ${s} 1m fast=2 slow=3 approve=auto\n`);
    // Every run started: each answers with a line naming its market.
    const started = () => symbols.every((s) => written.some((w) => w.text.includes(`${s}`)));
    const deadline = Date.now() + 30_000;
    while (!started() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const from = Math.ceil(Date.now() / M) * M;
    closeTimes.push(...Array.from({ length: quick ? 1 : 2 }, (_, k) => from + k * M));
    // Every market's signal of every close, or 10 s after the last close: a late one is a slow one,
    // and one that never came is counted as missing.
    const expected = symbols.length * closeTimes.length;
    const waitUntil = closeTimes.at(-1)! + 10_000;
    while (signalsOf(written).length < expected && Date.now() < waitUntil)
      await new Promise((r) => setTimeout(r, 100));
  } finally {
    await bot.stop();
    emu.streams.stopAutoPump();
    await bare.stop();
    await emu.stop();
  }

  // Each closed kline's first send, by market and open time.
  const sent = new Map<string, number>();
  for (const k of emu.streams.closedKlines())
    if (k.sent && k.symbol && k.openTime !== undefined) {
      const key = `${k.symbol}|${k.openTime}`;
      if (!sent.has(key) || sent.get(key)! > k.at) sent.set(key, k.at);
    }
  // Each market's signal messages in order answer its closes in order (one signal per close).
  const bosun: number[] = [];
  let missing = 0;
  const messages = signalsOf(written);
  for (const s of symbols) {
    const id = s.replace('/', '');
    const mine = messages.filter((m) => m.id === id).map((m) => m.at);
    closeTimes.forEach((close, k) => {
      const at = sent.get(`${id}|${close - M}`);
      const msg = mine[k];
      if (at === undefined || msg === undefined || msg < at) missing++;
      else bosun.push(msg - at);
    });
  }
  const baseline: number[] = [];
  for (const [key, at] of bareSeen) {
    const s = sent.get(key);
    if (s !== undefined) baseline.push(at - s);
  }
  if (bosun.length === 0) {
    console.error('stream latency: no signal message came in time (the runs did not start?)');
    return [];
  }
  console.error(
    `stream latency: ${bosun.length} signal messages from ${MARKETS} markets over ${closeTimes.length} close(s)${missing > 0 ? `, ${missing} missing (not within 10 s)` : ''}; baseline: ${baseline.length} closed klines seen by bare ccxt.pro`,
  );
  return latencyRows(
    (q) => `close -> signal message, ${q} (${MARKETS} markets, stream)`,
    bosun,
    baseline,
    250,
  );
}
