/**
 * The exchange feed (`MARKET_FEED=exchange`): closed candles from the exchange through ccxt. Each
 * watched series (symbol, timeframe) wakes shortly after every candle close (node-schedule), and
 * fetches only the candles after the last one it has, once for all the runs that follow it. Reads
 * retry with backoff inside ccxt's rate limiter (`withRetry`); when the exchange stays unreachable
 * the engine hears it once, and once again when it answers.
 */
import type { Exchange } from 'ccxt';
import schedule from 'node-schedule';
import type { Config } from '../config.js';
import { AppError, badInput, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { getExchange, withRetry } from '../market/exchange.js';
import { bucketStart } from '../market/resample.js';
import { isTimeframe, timeframeMs } from '../market/timeframe.js';
import { cacheRules, rulesOfMarket } from '../market/rules.js';
import { type Candles, candleAt, candlesFrom, type OHLCVRow } from '../market/types.js';
import { type Feed, type FeedHandler, seriesKey } from './feed.js';

/** Wait this long after a candle's close before asking for it (exchanges publish with a delay). */
const SETTLE_MS = 3000;

interface Watched {
  symbol: string;
  timeframe: string;
  ms: number;
  /** Open time of the last candle delivered. */
  last: number;
  job?: schedule.Job;
}

export class ExchangeFeed implements Feed {
  readonly kind = 'exchange' as const;
  readonly accelerated = false;
  protected readonly watched = new Map<string, Watched>();
  protected handler: FeedHandler | undefined;
  protected queue: Promise<void> = Promise.resolve();
  private up = true;

  constructor(
    protected readonly config: Config,
    protected readonly logger: Logger,
    protected readonly options: {
      clock?: () => number;
      /** Retries of a failed read, and the first backoff (doubling). */
      retries?: number;
      backoffMs?: number;
    } = {},
  ) {}

  protected clock(): number {
    return (this.options.clock ?? Date.now)();
  }

  protected ex(): Promise<Exchange> {
    return getExchange(this.config.exchange.id, this.config.exchange.apiUrl);
  }

  describe(): string {
    return `${this.config.exchange.id} (closed candles, polled at each close)`;
  }

  async check(symbol: string, timeframe: string): Promise<void> {
    if (!isTimeframe(timeframe))
      throw badInput(`timeframe "${timeframe}" is not valid; allowed: like 15m, 1h, 4h, 1d`);
    const ex = await this.ex();
    const retry = { retries: this.options.retries ?? 2, logger: this.logger };
    if (this.options.backoffMs !== undefined) Object.assign(retry, { backoffMs: this.options.backoffMs });
    await withRetry(() => ex.loadMarkets(), retry, 'loading markets', ex);
    if (!ex.markets?.[symbol])
      throw badInput(
        `${symbol} is not listed on ${this.config.exchange.id}; allowed: a market like BTC/USDT`,
      );
    // The market's trading rules, cached for the paper broker's fills (and offline backtests).
    cacheRules(this.config.dataDir, ex.id, {
      [symbol]: rulesOfMarket(ex.markets[symbol], ex.precisionMode ?? 0, `${ex.id} markets`),
    });
    if (!ex.timeframes?.[timeframe])
      throw badInput(
        `${this.config.exchange.id} has no ${timeframe} candles; allowed: ${Object.keys(ex.timeframes ?? {}).join(', ')}`,
      );
  }

  now(): number {
    return this.clock();
  }

  /** Closed candles from `since` on (at most `limit`), through the retrying reader. */
  protected async fetchClosed(
    symbol: string,
    timeframe: string,
    since: number,
    limit: number,
  ): Promise<Candles> {
    const ex = await this.ex();
    const rows = (await withRetry(
      () => ex.fetchOHLCV(symbol, timeframe, since, limit),
      { retries: this.options.retries ?? 3, backoffMs: this.options.backoffMs ?? 500, logger: this.logger },
      `fetching ${symbol} ${timeframe} candles`,
      ex,
    )) as OHLCVRow[];
    const ms = timeframeMs(timeframe);
    const now = this.clock();
    return candlesFrom(rows.filter((r) => r[0] >= since && r[0] + ms <= now));
  }

  async history(symbol: string, timeframe: string, bars: number): Promise<Candles> {
    const ms = timeframeMs(timeframe);
    const end = bucketStart(this.clock(), ms);
    const want = Math.min(bars, 1000);
    return this.fetchClosed(symbol, timeframe, end - want * ms, want);
  }

  watch(symbol: string, timeframe: string): void {
    const key = seriesKey(symbol, timeframe);
    if (this.watched.has(key)) return;
    const ms = timeframeMs(timeframe);
    this.watched.set(key, { symbol, timeframe, ms, last: bucketStart(this.clock(), ms) - ms });
    if (this.handler) this.arm(key);
  }

  unwatch(symbol: string, timeframe: string): void {
    const key = seriesKey(symbol, timeframe);
    this.watched.get(key)?.job?.cancel();
    this.watched.delete(key);
  }

  async price(symbol: string): Promise<number> {
    const ex = await this.ex();
    const t = await withRetry(
      () => ex.fetchTicker(symbol),
      { retries: 2, logger: this.logger },
      `price of ${symbol}`,
      ex,
    );
    const p = t.last ?? t.close;
    if (typeof p !== 'number' || !(p > 0))
      throw new AppError('EXCHANGE', `${this.config.exchange.id} gave no price for ${symbol}`);
    return p;
  }

  async start(handler: FeedHandler): Promise<void> {
    this.handler = handler;
    for (const key of this.watched.keys()) this.arm(key);
  }

  async stop(): Promise<void> {
    for (const w of this.watched.values()) w.job?.cancel();
    this.handler = undefined;
    await this.queue;
  }

  /** Wake after the next close of this series; one job per series, whatever number of runs follow it. */
  private arm(key: string): void {
    const w = this.watched.get(key);
    if (!w) return;
    const next = bucketStart(this.clock(), w.ms) + w.ms + SETTLE_MS;
    w.job?.cancel();
    w.job = schedule.scheduleJob(new Date(next), () => {
      this.queue = this.queue
        .then(() => this.poll(key))
        // The engine could not take a candle (its state not saved, say): said once here, not a crash.
        .catch((err: unknown) =>
          this.logger.error({ series: key, err: toAppError(err).message }, 'candles not processed'),
        )
        .finally(() => this.arm(key));
    });
  }

  /** After an outage was announced: the exchange answers again (said once). */
  private answers(handler: FeedHandler): void {
    if (this.up) return;
    this.up = true;
    handler.onStatus?.(true, `${this.config.exchange.id} answers again`);
  }

  /** Fetch the candles of a series that closed since the last one delivered, and deliver them in order. */
  async poll(key: string): Promise<void> {
    const w = this.watched.get(key);
    const handler = this.handler;
    if (!w || !handler) return;
    // Nothing to ask: the last closed candle came already (over a stream), so the exchange answers.
    if (w.last >= bucketStart(this.clock(), w.ms) - w.ms) {
      this.answers(handler);
      return;
    }
    let candles: Candles;
    try {
      candles = await this.fetchClosed(w.symbol, w.timeframe, w.last + w.ms, 500);
    } catch (err) {
      const e = toAppError(err);
      this.logger.warn({ series: key, err: e.message }, 'candle poll failed');
      if (this.up) {
        this.up = false;
        handler.onStatus?.(false, `${this.config.exchange.id} does not answer (${e.message})`);
      }
      return;
    }
    this.answers(handler);
    for (let i = 0; i < candles.length; i++) {
      const time = candles.time[i]!;
      if (time <= w.last) continue;
      w.last = time;
      await handler.onCandle(w.symbol, w.timeframe, candleAt(candles, i));
    }
  }
}
