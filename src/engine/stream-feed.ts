/**
 * The streaming exchange feed (`MARKET_FEED=exchange`, `MARKET_STREAM=on`, the default where ccxt has
 * the exchange's streams): closed candles as the exchange closes them, over its WebSocket streams
 * (ccxt.pro `watchOHLCV`), instead of a REST poll a few seconds after each close.
 *
 * - One stream loop per watched series keeps a `watchOHLCV` call pending at all times (ccxt answers
 *   only what arrives while a call waits). A candle counts as closed when the exchange says so
 *   (Binance's kline `x` flag, read as ccxt hands the message over) or when a later candle of the
 *   series appears; it goes to the engine at once.
 * - Never twice, never out of order: a candle at or before the last delivered is dropped (a duplicate,
 *   a late message); one past a gap waits until the missing candles are fetched over REST and
 *   delivered first. Every delivery goes through the one queue the REST poll uses too.
 * - Down and back: a failed watch (a dropped connection, a refused dial) is retried with a backoff
 *   doubling from `backoffMs` to `maxBackoffMs`; a stream silent for two `heartbeatMs` is cut and
 *   redialled (ccxt's own keepalive is set to the same interval). Meanwhile the REST poll of the
 *   exchange feed, armed after every close as before, fetches what the stream did not bring (and
 *   asks nothing when the stream brought it). The chats hear once that the stream is down (candles
 *   come by polling) when it is not back within a heartbeat, and then once that it is back.
 * - Between closes, each update of a series' forming candle goes to the engine (`onForming`: its
 *   stops and targets act on it, see `guard.ts`), and its last price is the price an approval fills
 *   at while the stream flows.
 * - A malformed or unexpected message is logged once per kind and dropped; ccxt's own log lines go to
 *   bosun's log, not the console.
 */
import type { Exchange } from 'ccxt';
import { toAppError } from '../errors.js';
import { setMaxListeners } from 'node:events';
import { cutStreams, getStreamingExchange, untilAborted } from '../market/exchange.js';
import { type Candle, candleAt } from '../market/types.js';
import { ExchangeFeed } from './exchange-feed.js';
import { seriesKey } from './feed.js';

/** A row as ccxt's `watchOHLCV` answers it: `[time, open, high, low, close, volume]`. */
type Row = readonly unknown[];

export interface StreamOptions {
  /** A stream silent for two of these is down (MARKET_STREAM_HEARTBEAT). */
  heartbeatMs: number;
  /** First wait before redialling a failed stream, doubling to `maxBackoffMs` (defaults 250 ms, 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Clock and REST retries, as the polling feed takes them (tests). */
  clock?: () => number;
  retries?: number;
}

export class StreamFeed extends ExchangeFeed {
  private running = false;
  private readonly loops = new Map<string, Promise<void>>();
  /** Each series' newest candle as last seen (values copied), closed when a later one appears. */
  private readonly forming = new Map<string, Candle>();
  /** Each symbol's latest streamed price and when it came (wall clock). */
  private readonly latest = new Map<string, { price: number; at: number }>();
  /** Candles the exchange said were closed: `MARKETID|interval|openTime`. */
  private readonly closedHints = new Set<string>();
  private hooked: Exchange | undefined;
  /** Why the stream is down, while it is; whether the chats were told; the timer that tells them. */
  private downWhy: string | undefined;
  private announced = false;
  private downTimer: NodeJS.Timeout | undefined;
  /** Kinds of bad messages already logged (each once). */
  private readonly badKinds = new Set<string>();
  /** Wakes the loops' backoff sleeps when the feed stops (a new one at each start). */
  private stopping = new AbortController();
  /** The watchdog's timer, and when the stream last said anything. */
  private dog: NodeJS.Timeout | undefined;
  private lastMessage = 0;

  constructor(
    config: ConstructorParameters<typeof ExchangeFeed>[0],
    logger: ConstructorParameters<typeof ExchangeFeed>[1],
    private readonly stream: StreamOptions,
  ) {
    super(config, logger, {
      ...(stream.clock ? { clock: stream.clock } : {}),
      ...(stream.retries !== undefined ? { retries: stream.retries, backoffMs: 50 } : {}),
    });
  }

  override describe(): string {
    return `${this.config.exchange.id} (closed candles over its WebSocket stream; polled while the stream is down)`;
  }

  /** The streaming ccxt instance (REST reads go through it too), hooked once. */
  protected override async ex(): Promise<Exchange> {
    const ex = await getStreamingExchange(this.config.exchange.id, this.config.exchange.apiUrl);
    if (!ex) return super.ex();
    if (this.hooked !== ex) this.hook(ex);
    return ex;
  }

  override unwatch(symbol: string, timeframe: string): void {
    super.unwatch(symbol, timeframe);
    this.forming.delete(seriesKey(symbol, timeframe));
    // Its pending watch ends with the subscription; its loop sees the series gone.
    void this.hooked?.unWatchOHLCV?.(symbol, timeframe).catch(() => undefined);
  }

  override watch(symbol: string, timeframe: string): void {
    super.watch(symbol, timeframe);
    if (this.running) this.startLoop(seriesKey(symbol, timeframe));
  }

  override async start(handler: Parameters<ExchangeFeed['start']>[0]): Promise<void> {
    await super.start(handler);
    this.stopping = new AbortController();
    // Every watched series' pending watch listens for the stop: as many listeners as series.
    setMaxListeners(0, this.stopping.signal);
    this.downWhy = undefined;
    this.announced = false;
    this.running = true;
    this.watchdog(await this.ex());
    for (const key of this.watched.keys()) this.startLoop(key);
  }

  override async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    clearTimeout(this.downTimer);
    clearInterval(this.dog);
    const ex = this.hooked;
    // Every pending watch fails at once (a graceful close of a dead socket would wait 30 s for it);
    // the loops see `running` false and end.
    if (ex) {
      cutStreams(ex, new Error('the feed stopped'));
      await ex.close().catch(() => undefined);
    }
    await Promise.all(this.loops.values());
    await super.stop();
  }

  private startLoop(key: string): void {
    if (this.loops.has(key)) return;
    const loop = this.loop(key).finally(() => this.loops.delete(key));
    this.loops.set(key, loop);
  }

  /** Keep a watch pending for one series while it is watched, redialling with a backoff after failures. */
  private async loop(key: string): Promise<void> {
    let failures = 0;
    while (this.running && this.watched.has(key)) {
      const w = this.watched.get(key)!;
      try {
        const ex = await this.ex();
        const rows = await untilAborted(ex.watchOHLCV(w.symbol, w.timeframe), this.stopping.signal);
        failures = 0;
        this.streamBack();
        this.onRows(key, ex, rows);
      } catch (err) {
        // What was forming when the stream broke is stale: a close missed meanwhile comes over REST.
        this.forming.delete(key);
        if (!this.running || !this.watched.has(key)) break;
        failures++;
        this.streamDown(toAppError(err).message);
        const wait = Math.min(
          (this.stream.backoffMs ?? 250) * 2 ** (failures - 1),
          this.stream.maxBackoffMs ?? 30_000,
        );
        await sleep(wait, this.stopping.signal);
      }
    }
  }

  /**
   * The stream's watchdog: silent for two heartbeats (no message on any of its connections, while
   * series are watched), its connections are cut as ccxt's keepalive cuts one whose pongs stop, so
   * the watches fail and redial. A single quiet market does not count: the others speak.
   */
  private watchdog(ex: Exchange): void {
    clearInterval(this.dog);
    this.lastMessage = Date.now();
    this.dog = setInterval(() => {
      const limit = 2 * this.stream.heartbeatMs;
      if (!this.running || this.watched.size === 0 || Date.now() - this.lastMessage <= limit) return;
      this.lastMessage = Date.now();
      cutStreams(ex, new Error(`no message for ${limit / 1000} s`));
    }, this.stream.heartbeatMs);
    this.dog.unref();
  }

  /** The closed candles among a watch's rows, each handed to the queue in time order. */
  private onRows(key: string, ex: Exchange, rows: readonly Row[]): void {
    const w = this.watched.get(key);
    if (!w) return;
    // Copied now: ccxt changes its cached rows in place as later messages come.
    const valid: Candle[] = [];
    for (const r of rows) {
      const c = candleOf(r);
      if (c) valid.push(c);
      else this.bad('kline', `a candle row that is not six numbers: ${JSON.stringify(r).slice(0, 80)}`);
    }
    valid.sort((a, b) => a.time - b.time);
    const id = marketId(ex, w.symbol);
    let closedAt: number | undefined;
    for (const c of valid) {
      // ccxt answers the newest rows since the last answer: a candle is closed once a later one shows.
      const forming = this.forming.get(key);
      // Closed by a later candle, without the exchange's word on its last values: REST gives them.
      if (forming && c.time > forming.time) this.closed(key, forming, false);
      if (!forming || c.time >= forming.time) this.forming.set(key, c);
      if (this.closedHints.delete(`${id}|${w.timeframe}|${c.time}`)) {
        this.closed(key, c, true);
        closedAt = c.time;
      }
    }
    // The newest candle still forming: the latest price, and what it has reached so far.
    const newest = this.forming.get(key);
    if (!newest || newest.time === closedAt || newest.time <= w.last) return;
    this.latest.set(w.symbol, { price: newest.close, at: Date.now() });
    this.handler?.onForming?.(w.symbol, w.timeframe, { ...newest });
  }

  /** The stream's latest price while it flows (an approval fills at it), else the exchange's ticker. */
  override async price(symbol: string): Promise<number> {
    const p = this.latest.get(symbol);
    if (p && this.downWhy === undefined && Date.now() - p.at <= 2 * this.stream.heartbeatMs) return p.price;
    return super.price(symbol);
  }

  /**
   * A closed candle from the stream, to the engine in order: a duplicate or late one is dropped; one
   * past a gap waits for the missing candles over REST; one the exchange did not say was final
   * (`final` false: a later candle showed) is taken from REST. If REST fails too, it is left to the
   * poll, which delivers them all in order.
   */
  private closed(key: string, candle: Candle, final: boolean): void {
    this.queue = this.queue
      .then(async () => {
        const w = this.watched.get(key);
        const handler = this.handler;
        if (!w || !handler || candle.time <= w.last) return;
        if (candle.time > w.last + w.ms || !final) {
          // Through it from REST: the gap before it, and it too when the stream's values may be stale.
          const upTo = final ? candle.time : candle.time + w.ms;
          const missing = await this.fetchClosed(w.symbol, w.timeframe, w.last + w.ms, 1000);
          for (let i = 0; i < missing.length; i++) {
            const t = missing.time[i]!;
            if (t <= w.last || t >= upTo) continue;
            w.last = t;
            await handler.onCandle(w.symbol, w.timeframe, candleAt(missing, i));
          }
          if (!final || w.last + w.ms < candle.time) return;
        }
        w.last = candle.time;
        await handler.onCandle(w.symbol, w.timeframe, candle);
      })
      .catch((err: unknown) =>
        this.logger.error({ series: key, err: toAppError(err).message }, 'streamed candle not processed'),
      );
  }

  /**
   * The stream failed. The chats hear it only if it is not back within a heartbeat: a redial that
   * works at once (an exchange closing idle connections, a blip) is no news, and does not flap.
   */
  private streamDown(why: string): void {
    if (this.downWhy !== undefined) return;
    this.downWhy = why;
    this.logger.warn({ err: why }, 'market stream down: polling');
    this.downTimer = setTimeout(() => {
      if (this.downWhy === undefined || !this.running) return;
      this.announced = true;
      this.handler?.onStatus?.(
        false,
        `the ${this.config.exchange.id} stream is down (${this.downWhy}); candles come by polling until it is back`,
        'stream',
      );
    }, this.stream.heartbeatMs);
    this.downTimer.unref();
  }

  private streamBack(): void {
    if (this.downWhy === undefined) return;
    clearTimeout(this.downTimer);
    this.downWhy = undefined;
    this.logger.info('market stream back');
    if (!this.announced) return;
    this.announced = false;
    this.handler?.onStatus?.(
      true,
      `the ${this.config.exchange.id} stream is back; candles arrive as they close`,
      'stream',
    );
  }

  /** A bad message, logged once per kind. */
  private bad(kind: string, detail: string): void {
    if (this.badKinds.has(kind)) return;
    this.badKinds.add(kind);
    this.logger.warn({ kind, detail }, 'malformed stream message dropped');
  }

  /**
   * Read what ccxt's message handler does not keep: the exchange's "this candle is closed" (Binance's
   * kline `k.x`), and send ccxt's own log lines (a message it could not parse) to bosun's log.
   */
  private hook(ex: Exchange): void {
    this.hooked = ex;
    const streaming = ex as unknown as StreamingInternals;
    streaming.streaming = {
      ...streaming.streaming,
      keepAlive: this.stream.heartbeatMs,
      maxPingPongMisses: 2,
    };
    // The redial backoff is the loop's own (it knows the heartbeat); ccxt's would add a second one.
    const options = ex.options as Record<string, Record<string, unknown> | undefined>;
    options.ws = { ...options.ws, backoff: { base: 0 } };
    const handle = streaming.handleOHLCV?.bind(ex);
    if (handle)
      streaming.handleOHLCV = (client: unknown, message: unknown) => {
        const k = (message as { k?: { s?: unknown; i?: unknown; t?: unknown; x?: unknown } } | null)?.k;
        if (
          k &&
          k.x === true &&
          typeof k.s === 'string' &&
          typeof k.i === 'string' &&
          typeof k.t === 'number'
        )
          this.closedHints.add(`${k.s}|${k.i}|${k.t}`);
        return handle(client, message);
      };
    ex.log = (...args: unknown[]) =>
      this.bad(
        'ccxt',
        args
          .map((a) => String(a))
          .join(' ')
          .slice(0, 200),
      );
    // Any message on any connection: the stream is alive (the watchdog's clock).
    const message = streaming.handleMessage.bind(ex);
    streaming.handleMessage = (client: unknown, m: unknown) => {
      this.lastMessage = Date.now();
      return message(client, m);
    };
  }
}

/** What the feed touches of ccxt's streaming machinery (not in its public types). */
interface StreamingInternals {
  streaming: Record<string, unknown>;
  handleOHLCV?: (client: unknown, message: unknown) => unknown;
  handleMessage: (client: unknown, message: unknown) => unknown;
}

/** A ccxt OHLCV row as a candle, or undefined when it is not six finite numbers. */
function candleOf(r: Row): Candle | undefined {
  if (!Array.isArray(r) || r.length < 6) return undefined;
  const [time, open, high, low, close, volume] = r as unknown[];
  const nums = [time, open, high, low, close, volume];
  if (!nums.every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  return {
    time: time as number,
    open: open as number,
    high: high as number,
    low: low as number,
    close: close as number,
    volume: volume as number,
  };
}

/** The exchange's id of a market (`BTCUSDT`), as its stream messages name it. */
function marketId(ex: Exchange, symbol: string): string {
  try {
    return ex.market(symbol).id ?? symbol.replace('/', '');
  } catch {
    return symbol.replace('/', '');
  }
}

/** Wait `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * The exchange feed the configuration asks for: streamed where ccxt has the exchange's streams and
 * `MARKET_STREAM` is on (the default), else polled at each close.
 */
export async function createExchangeFeed(
  config: ConstructorParameters<typeof ExchangeFeed>[0],
  logger: ConstructorParameters<typeof ExchangeFeed>[1],
): Promise<ExchangeFeed> {
  if (config.engine.stream === 'on') {
    if (await getStreamingExchange(config.exchange.id, config.exchange.apiUrl))
      return new StreamFeed(config, logger, { heartbeatMs: config.engine.streamHeartbeat });
    logger.info({ exchange: config.exchange.id }, 'no WebSocket stream in ccxt for this exchange: polling');
  }
  return new ExchangeFeed(config, logger);
}
