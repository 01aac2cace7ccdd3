/**
 * Market feeds: where the engine's closed candles come from. A feed delivers, in time order, each
 * closed candle of every (symbol, timeframe) the engine watches, and waits for the engine to finish
 * with it before it moves on. Two feeds share this contract:
 *
 * - {@link ReplayFeed} (`MARKET_FEED=replay`): a CSV played as if live on an accelerated clock,
 *   `REPLAY_SPEED` source candles per second. It is the default, so a fresh clone trades offline.
 * - `ExchangeFeed` (`exchange-feed.ts`, `MARKET_FEED=exchange`): ccxt, polled at each candle close.
 */
import { basename } from 'node:path';
import { AppError, badInput, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadCandlesFile } from '../market/load.js';
import { symbolFromFileName } from '../market/symbol.js';
import { bucketStart, closedOnly, resample } from '../market/resample.js';
import { inferTimeframeMs, isoTime, isTimeframe, timeframeMs, timeframeName } from '../market/timeframe.js';
import { type Candle, type Candles, candleAt, indexAtOrAfter, sliceCandles } from '../market/types.js';

export interface FeedHandler {
  /** A closed candle of a watched series; the feed waits for this before going on. */
  onCandle(symbol: string, timeframe: string, candle: Candle): Promise<void>;
  /**
   * A streaming feed's latest look at a watched series' forming candle: its open, high, low and last
   * price so far (between closes; never a closed candle).
   */
  onForming?(symbol: string, timeframe: string, candle: Candle): void;
  /** The feed's clock moved (after every source candle on a replay). */
  onClock?(now: number): Promise<void>;
  /** The feed became unusable or usable again (each change once). */
  onStatus?(up: boolean, detail: string, cause?: 'journal' | 'stream'): void;
  /** A replay reached the end of its file. */
  onEnd?(): void;
}

export interface Feed {
  readonly kind: 'replay' | 'exchange';
  /** True when time runs faster than the wall clock (reports follow the feed's clock). */
  readonly accelerated: boolean;
  /** One line: what the feed plays or polls. */
  describe(): string;
  /** Throws BAD_INPUT (one line, what is allowed) when this feed cannot serve the series. */
  check(symbol: string, timeframe: string): Promise<void>;
  /** Closed candles of a series up to now, at most `bars` of them, oldest first. */
  history(symbol: string, timeframe: string, bars: number): Promise<Candles>;
  watch(symbol: string, timeframe: string): void;
  unwatch(symbol: string, timeframe: string): void;
  /** The feed's time (epoch ms): the end of the last delivered candle on a replay. */
  now(): number;
  /** The latest price of a symbol, for fills decided between candles (an approval, a /close). */
  price(symbol: string): Promise<number>;
  start(handler: FeedHandler): Promise<void>;
  stop(): Promise<void>;
  /** Where a replay stands, saved with each state change so a restart resumes there. */
  resumePoint?(): { file: string; cursor: number } | undefined;
  /** The most candles of a timeframe this feed will ever give (a replay: its file's span); none: no end. */
  capacity?(timeframe: string): number;
}

export const seriesKey = (symbol: string, timeframe: string) => `${symbol}|${timeframe}`;

/**
 * The longest stretch, ms, a replay (or a catch-up over missed candles) works before it lets the
 * event loop serve the rest: chat commands and button presses, the notifier's paced sends, signals
 * from the OS. A candle's processing is promises that never wait on I/O (the state write is
 * synchronous), so without these turns a full-speed replay would hold the loop until its end.
 */
export const SLICE_MS = 10;

/**
 * Time slices for a long loop. Between steps: `if (slice.over) await slice.next();` - the loop goes
 * on at once while its slice lasts, and after it on the next event-loop turn (setImmediate: expired
 * timers and I/O run first). Checking costs a clock read, not a promise, so a fast loop stays fast.
 */
export class TimeSlice {
  private start = performance.now();

  constructor(private readonly ms = SLICE_MS) {}

  /** The slice is used up: the loop should give way. */
  get over(): boolean {
    return performance.now() - this.start >= this.ms;
  }

  /** Give way for one event-loop turn, then start a new slice. */
  async next(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.restart();
  }

  /** The loop waited anyway (a paced replay's sleep): a new slice starts. */
  restart(): void {
    this.start = performance.now();
  }
}

export interface ReplayOptions {
  file: string;
  /** Source candles per second; Infinity plays as fast as the engine takes them. */
  speed: number;
  /** The file's market; by default from its name (`exchange_BASE-QUOTE_tf.csv`). */
  symbol?: string;
  /** Resume after this source candle's open time (a restart). */
  cursor?: number;
  /** Work between event-loop turns, ms (default {@link SLICE_MS}; 0 yields after every candle). */
  sliceMs?: number;
  logger: Logger;
}

/** The market named by a candle file, `exchange_BASE-QUOTE_tf[_rest].csv`. */

export class ReplayFeed implements Feed {
  readonly kind = 'replay' as const;
  readonly accelerated = true;
  readonly symbol: string;
  readonly source: Candles;
  readonly sourceMs: number;
  private readonly made = new Map<string, { timeframe: string; ms: number; candles: Candles }>();
  private readonly watched = new Map<string, { timeframe: string; ms: number; candles: Candles }>();
  private next: number;
  private running: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ReplayOptions) {
    this.source = loadCandlesFile(options.file);
    const ms = inferTimeframeMs(this.source.time);
    if (ms === undefined || this.source.length < 2)
      throw new AppError('BAD_DATA', `replay file ${options.file} has fewer than 2 candles`);
    this.sourceMs = ms;
    const symbol = options.symbol ?? symbolFromFileName(options.file);
    if (!symbol)
      throw new AppError(
        'BAD_CONFIG',
        `cannot tell the market of replay file ${basename(options.file)}; name it like binance_BTC-USDT_1m.csv`,
      );
    this.symbol = symbol;
    this.next = options.cursor === undefined ? 0 : indexAtOrAfter(this.source.time, options.cursor + 1);
  }

  describe(): string {
    const at = this.next < this.source.length ? isoTime(this.source.time[this.next]!) : 'the end';
    return `replay of ${basename(this.options.file)} (${this.symbol} ${timeframeName(this.sourceMs)}) at ${this.options.speed} candles/s, now at ${at}`;
  }

  capacity(timeframe: string): number {
    const n = this.source.length;
    return Math.floor(
      (this.source.time[n - 1]! + this.sourceMs - this.source.time[0]!) / timeframeMs(timeframe),
    );
  }

  async check(symbol: string, timeframe: string): Promise<void> {
    if (symbol !== this.symbol)
      throw badInput(`the replay feed plays ${this.symbol} only; allowed symbol: ${this.symbol}`);
    if (!isTimeframe(timeframe))
      throw badInput(`timeframe "${timeframe}" is not valid; allowed: like 15m, 1h, 4h, 1d`);
    const ms = timeframeMs(timeframe);
    if (ms % this.sourceMs !== 0)
      throw badInput(
        `the replay file is ${timeframeName(this.sourceMs)} candles, which cannot make ${timeframe}; allowed: a multiple of ${timeframeName(this.sourceMs)}`,
      );
  }

  /** A timeframe's candles made from the file, once (history and the replay loop share them). */
  private series(timeframe: string) {
    let s = this.made.get(timeframe);
    if (!s) {
      const ms = timeframeMs(timeframe);
      const candles =
        ms === this.sourceMs ? this.source : closedOnly(resample(this.source, this.sourceMs, ms));
      s = { timeframe, ms, candles };
      this.made.set(timeframe, s);
    }
    return s;
  }

  async history(symbol: string, timeframe: string, bars: number): Promise<Candles> {
    await this.check(symbol, timeframe);
    const s = this.series(timeframe);
    // Candles that closed by now: open time + timeframe <= the end of the last delivered source candle.
    const end = indexAtOrAfter(s.candles.time, this.now() - s.ms + 1);
    return sliceCandles(s.candles, Math.max(0, end - bars), end);
  }

  watch(symbol: string, timeframe: string): void {
    const key = seriesKey(symbol, timeframe);
    if (!this.watched.has(key)) this.watched.set(key, this.series(timeframe));
  }

  unwatch(symbol: string, timeframe: string): void {
    this.watched.delete(seriesKey(symbol, timeframe));
  }

  now(): number {
    // Before the first candle the clock stands at the file's start.
    return this.next === 0 ? this.source.time[0]! : this.source.time[this.next - 1]! + this.sourceMs;
  }

  async price(symbol: string): Promise<number> {
    if (symbol !== this.symbol) throw badInput(`the replay feed has no price for ${symbol}`);
    return this.source.close[Math.max(0, this.next - 1)]!;
  }

  resumePoint(): { file: string; cursor: number } | undefined {
    return this.next === 0
      ? undefined
      : { file: basename(this.options.file), cursor: this.source.time[this.next - 1]! };
  }

  /** The source index the replay will deliver next (tests). */
  get position(): number {
    return this.next;
  }

  async start(handler: FeedHandler): Promise<void> {
    this.stopping = false;
    this.running = this.loop(handler).catch((err: unknown) => {
      const e = toAppError(err);
      this.options.logger.error({ err: e.message }, 'replay stopped on an error');
      // A step the journal could not save stops the replay there: the journal's problem, not the data's.
      handler.onStatus?.(
        false,
        `the replay stopped: ${e.message}`,
        e.code === 'STORAGE' ? 'journal' : undefined,
      );
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
  }

  private async loop(handler: FeedHandler): Promise<void> {
    const { source, sourceMs } = this;
    const interval = Number.isFinite(this.options.speed) ? 1000 / this.options.speed : 0;
    let due = Date.now();
    const slice = new TimeSlice(this.options.sliceMs);
    this.options.logger.info({ feed: this.describe() }, 'replay started');
    while (!this.stopping && this.next < source.length) {
      if (interval > 0) {
        due += interval;
        // A slow engine does not make the replay rush afterwards to catch up.
        if (due < Date.now() - 1000) due = Date.now();
        if (due > Date.now()) {
          await this.sleep(due - Date.now());
          slice.restart();
        }
        if (this.stopping) break;
      }
      const i = this.next++;
      const end = source.time[i]! + sourceMs;
      for (const s of this.watched.values()) {
        // A candle of the series closes with this source candle: deliver it.
        const start = end - s.ms;
        if (bucketStart(source.time[i]!, s.ms) !== start) continue;
        const k = s.ms === sourceMs ? i : indexAtOrAfter(s.candles.time, start);
        if (s.candles.time[k] === start)
          await handler.onCandle(this.symbol, s.timeframe, candleAt(s.candles, k));
      }
      await handler.onClock?.(end);
      // At any speed, the chats, the notifier and signals get their turn between candles.
      if (slice.over) await slice.next();
    }
    if (this.next >= source.length) {
      this.options.logger.info('replay reached the end of its file');
      handler.onEnd?.();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
