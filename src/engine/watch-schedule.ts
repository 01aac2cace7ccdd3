/**
 * When the market watch looks at the markets. The regime is measured on the engine's clock: at each
 * closed candle of REGIME_TIMEFRAME, before the engine sees the candles that close at that time, so
 * a replay measures it at the same candles, and trades the same, at any speed. The pairlist and the
 * optional scan run on the wall clock (they inform people; they do not gate trades).
 */
import type { Config } from '../config.js';
import { toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { timeframeMs } from '../market/timeframe.js';
import type { Candle } from '../market/types.js';
import type { Feed, FeedHandler } from './feed.js';
import type { MarketWatch } from './market-watch.js';

/** What the schedule needs of the engine trading now: its clock, and whether its feed is a replay's. */
export interface EngineClock {
  now(): number;
  readonly feed: Pick<Feed, 'accelerated'>;
}

/** How often a live feed retries a regime that could not be measured (wall clock). */
export const REGIME_RETRY_MS = 60_000;
/** How long after a close the wall clock asks for it (exchanges publish a candle with a delay). */
const SETTLE_MS = 3000;

/**
 * A feed that first tells `before` where the engine's clock is going: with the close of each
 * candle it delivers, and with each tick of a replay's clock. Everything else is the inner feed's.
 */
export class ClockedFeed implements Feed {
  readonly resumePoint?: Feed['resumePoint'];
  readonly capacity?: Feed['capacity'];

  constructor(
    readonly inner: Feed,
    private readonly before: (now: number) => Promise<void>,
  ) {
    if (inner.resumePoint) this.resumePoint = () => inner.resumePoint!();
    if (inner.capacity) this.capacity = (timeframe) => inner.capacity!(timeframe);
  }

  get kind(): Feed['kind'] {
    return this.inner.kind;
  }

  get accelerated(): boolean {
    return this.inner.accelerated;
  }

  describe(): string {
    return this.inner.describe();
  }

  check(symbol: string, timeframe: string): Promise<void> {
    return this.inner.check(symbol, timeframe);
  }

  history(symbol: string, timeframe: string, bars: number): ReturnType<Feed['history']> {
    return this.inner.history(symbol, timeframe, bars);
  }

  watch(symbol: string, timeframe: string): void {
    this.inner.watch(symbol, timeframe);
  }

  unwatch(symbol: string, timeframe: string): void {
    this.inner.unwatch(symbol, timeframe);
  }

  now(): number {
    return this.inner.now();
  }

  price(symbol: string): Promise<number> {
    return this.inner.price(symbol);
  }

  start(handler: FeedHandler): Promise<void> {
    const clocked: FeedHandler = {
      onCandle: async (symbol: string, timeframe: string, candle: Candle) => {
        await this.before(candle.time + timeframeMs(timeframe));
        await handler.onCandle(symbol, timeframe, candle);
      },
      onClock: async (now: number) => {
        await this.before(now);
        await handler.onClock?.(now);
      },
      onStatus: (up: boolean, detail: string, cause?: 'journal' | 'stream') =>
        handler.onStatus?.(up, detail, cause),
      onEnd: () => handler.onEnd?.(),
    };
    return this.inner.start(clocked);
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }
}

/**
 * Wrap an engine's feed so the regime is measured on its clock, and each change announced (after
 * it is stored) by the market watch.
 */
export function regimeClock(feed: Feed, watch: MarketWatch, logger: Logger): ClockedFeed {
  return new ClockedFeed(feed, async (now) => {
    const change = await watch.clock(now).catch((err: unknown) => {
      logger.debug({ error: toAppError(err).message }, 'regime not measured');
      return undefined;
    });
    if (change) watch.announce({ type: 'regime', change });
  });
}

/**
 * The wall-clock part of the schedule: on a live feed, the regime is measured at start and retried
 * every REGIME_RETRY_MS while it cannot be (no data yet), and at each of its candle closes even when
 * no run delivers candles; the pairlist is refreshed every PAIRLIST_REFRESH, and, when SCAN_INTERVAL
 * is set, a scan's top SCAN_TOP markets go to the chats subscribed to signals. A replay's regime
 * follows the replay alone (see regimeClock). Failures are logged.
 */
export function watchSchedule(
  watch: MarketWatch,
  engine: () => EngineClock,
  config: Readonly<Config>,
  logger: Logger,
  retryMs = REGIME_RETRY_MS,
): NodeJS.Timeout[] {
  const safely = (what: string, job: () => Promise<unknown>) => () =>
    void job().catch((err: unknown) => logger.warn({ error: toAppError(err).message }, `${what} failed`));
  let failing = false;
  let busy = false;
  const regime = () => {
    const e = engine();
    // One attempt at a time: a slow exchange does not pile them up.
    if (e.feed.accelerated || busy) return;
    busy = true;
    void watch
      .clock(e.now() - SETTLE_MS, true)
      .finally(() => (busy = false))
      .then(
        (change) => {
          if (failing) logger.info('regime measured again');
          failing = false;
          if (change) watch.announce({ type: 'regime', change });
        },
        (err: unknown) => {
          // Said once per outage; the reason is in /regime and in each refused entry.
          if (!failing) logger.warn({ error: toAppError(err).message }, 'regime unknown; retrying');
          failing = true;
        },
      );
  };
  const timers = [
    setInterval(regime, retryMs),
    setInterval(
      safely('pairlist', () => watch.refresh()),
      config.pairlist.refresh,
    ),
  ];
  if (config.scanner.interval !== 'off') {
    const top = config.scanner.top;
    timers.push(
      setInterval(
        safely('scan', async () => watch.announce({ type: 'scan', result: await watch.scan(), top })),
        config.scanner.interval,
      ),
    );
  }
  for (const t of timers) t.unref();
  setImmediate(regime);
  return timers;
}
