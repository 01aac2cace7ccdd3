/**
 * Paper or live: which engine trades, and the rails around switching.
 *
 * Paper is the default and needs nothing. Live needs all of: API keys in the environment
 * (`EXCHANGE_API_KEY`, `EXCHANGE_SECRET`), `TRADING_MODE=live`, `MARKET_FEED=exchange`, and an admin's
 * `/mode live` confirmed with the button it answers with. The two keep separate state files
 * (`bosun.json` for paper, `bosun-live.json` for live): runs, positions, trades and balances never mix.
 * A confirmed live mode is remembered in the live state, so a restart resumes it (and says so);
 * `/mode paper` ends it. Positions left on the exchange keep their exchange-side stops.
 */
import { rulesOfMarket } from '../market/rules.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { getExchange, streamingExchange } from '../market/exchange.js';
import { StateStore, storeOptions } from '../store/state.js';
import { noteSettings } from './settings-history.js';
import { engineSettings, type RegimeGate } from './context.js';
import { Engine, type Tick } from './engine.js';
import type { EngineEvent } from './events.js';
import type { Feed } from './feed.js';

export interface TradingOptions {
  config: Readonly<Config>;
  logger: Logger;
  paper: Engine;
  /** The exchange feed for the live engine (created on demand). */
  liveFeed: () => Promise<Feed>;
  /** The market regime's gate, for the live engine as for paper. */
  regimeGate?: RegimeGate;
}

export class Trading {
  private current: Engine;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private off: (() => void) | undefined;
  private switching: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: TradingOptions) {
    this.current = o.paper;
    this.off = this.current.on((e) => this.forward(e));
    this.hearTicks(this.current);
  }

  get engine(): Engine {
    return this.current;
  }

  get mode(): 'paper' | 'live' {
    return this.current === this.o.paper ? 'paper' : 'live';
  }

  /** Events of whichever engine trades now. */
  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private forward(e: EngineEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Prices taken by whichever engine trades now (see `Engine.onTick`). */
  onTick(listener: (t: Tick) => void): () => void {
    this.tickers.add(listener);
    return () => this.tickers.delete(listener);
  }

  private readonly tickers = new Set<(t: Tick) => void>();
  private readonly tickOffs = new Map<Engine, () => void>();

  /** Listen to an engine's prices (once), for the listeners here while it is the current one. */
  private hearTicks(engine: Engine): void {
    if (this.tickOffs.has(engine)) return;
    this.tickOffs.set(
      engine,
      engine.onTick((t) => {
        if (engine === this.current) for (const l of this.tickers) l(t);
      }),
    );
  }

  /** Why live trading cannot be switched on, or undefined when it can. */
  liveBlocked(): string | undefined {
    const c = this.o.config;
    if (c.tradingMode !== 'live')
      return 'live trading is off in the configuration: set TRADING_MODE=live in the environment and restart';
    if (!c.exchange.apiKey || !c.exchange.secret)
      return 'no API keys: set EXCHANGE_API_KEY and EXCHANGE_SECRET in the environment and restart';
    if (c.engine.feed !== 'exchange')
      return 'live trading needs live market data: set MARKET_FEED=exchange and restart';
    return undefined;
  }

  /**
   * What live trading still waits for while paper trades, each a few words (for /status): settings
   * that need a restart, then an admin's confirmation in chat. Empty while trading live.
   */
  liveWaitsFor(): string[] {
    if (this.mode === 'live') return [];
    return [...this.missingForLive().map((m) => m.need), "an admin's /mode live"];
  }

  /** The settings live trading lacks, each with what to set. */
  private missingForLive(): Array<{ need: string; what: string; fix: string }> {
    const c = this.o.config;
    const missing: Array<{ need: string; what: string; fix: string }> = [];
    if (c.tradingMode !== 'live')
      missing.push({ need: 'TRADING_MODE=live', what: 'TRADING_MODE=paper', fix: 'set TRADING_MODE=live' });
    if (!c.exchange.apiKey || !c.exchange.secret)
      missing.push({
        need: 'API keys',
        what: 'no API keys',
        fix: 'set EXCHANGE_API_KEY and EXCHANGE_SECRET',
      });
    if (c.engine.feed !== 'exchange')
      missing.push({
        need: 'MARKET_FEED=exchange',
        what: `MARKET_FEED=${c.engine.feed}`,
        fix: 'set MARKET_FEED=exchange',
      });
    return missing;
  }

  /**
   * Start a live engine if the live state says an admin confirmed it earlier (a restart). Called once
   * at start: with TRADING_MODE=live and paper trading, it logs one warning saying what live waits for.
   */
  async resumeLive(): Promise<string | undefined> {
    const configuredLive = this.o.config.tradingMode === 'live';
    if (this.liveBlocked()) {
      if (configuredLive) {
        const missing = this.missingForLive()
          .map((m) => `${m.what} (${m.fix})`)
          .join(' and ');
        this.o.logger.warn(
          `TRADING_MODE=live, but trading paper: ${missing}; restart after, then an admin confirms /mode live in chat`,
        );
      }
      return undefined;
    }
    const store = await this.openLive();
    const { confirmedBy, confirmedAt } = store.data.live;
    if (!confirmedBy) {
      await store.close();
      this.o.logger.warn(
        'TRADING_MODE=live: trading paper until an admin sends /mode live in chat and confirms it',
      );
      return undefined;
    }
    await this.switchTo(await this.liveEngine(store), false);
    const who = `${confirmedBy} at ${new Date(confirmedAt ?? 0).toISOString()}`;
    this.forward({ type: 'mode', mode: 'live', detail: `resumed after a restart (confirmed by ${who})` });
    return who;
  }

  /** Switch to live (`/mode live` has had the admin's confirmation). */
  async goLive(by: string): Promise<void> {
    const blocked = this.liveBlocked();
    if (blocked) throw new AppError('FORBIDDEN', blocked);
    if (this.mode === 'live') return;
    const store = await this.openLive();
    await store.update((s) => {
      s.live.confirmedBy = by;
      s.live.confirmedAt = Date.now();
      noteSettings(s, by, [{ key: 'mode', old: 'paper', new: 'live' }]);
    });
    await this.switchTo(await this.liveEngine(store), true);
    this.forward({
      type: 'mode',
      mode: 'live',
      detail: `switched on by ${by}; orders now go to ${this.o.config.exchange.id}`,
    });
  }

  /** Back to paper; the live state remembers nothing is confirmed any more. */
  async goPaper(by: string): Promise<number> {
    if (this.mode === 'paper') return 0;
    const live = this.current;
    const open = Object.keys(live.state.positions).length;
    await this.switchTo(this.o.paper, true);
    await live.store.update((s) => {
      delete s.live.confirmedBy;
      delete s.live.confirmedAt;
      noteSettings(s, by, [{ key: 'mode', old: 'live', new: 'paper' }]);
    });
    await live.store.close();
    this.forward({
      type: 'mode',
      mode: 'paper',
      detail: `switched on by ${by}${open ? `; ${open} live position(s) stay on the exchange with their exchange stops` : ''}`,
    });
    return open;
  }

  /** The live book's journal (a v0.1 bosun-live.json is imported on the first open, and logged). */
  private async openLive(): Promise<StateStore> {
    const store = await StateStore.open(
      this.o.config.dataDir,
      Date.now(),
      'live',
      storeOptions(this.o.config),
    );
    if (store.imported) this.o.logger.info({ book: 'live' }, `upgraded from v0.1: ${store.imported}`);
    return store;
  }

  private async liveEngine(store: StateStore): Promise<Engine> {
    const c = this.o.config;
    const keys = { apiKey: c.exchange.apiKey!, secret: c.exchange.secret!, password: c.exchange.password };
    const [{ LiveBroker }, exchange, stream] = await Promise.all([
      import('./live/broker.js'),
      getExchange(c.exchange.id, c.exchange.apiUrl),
      // Order updates as they happen, where the exchange streams them (MARKET_STREAM=on).
      c.engine.stream === 'on' ? streamingExchange(c.exchange.id, c.exchange.apiUrl, keys) : undefined,
    ]);
    exchange.apiKey = keys.apiKey;
    exchange.secret = keys.secret;
    if (keys.password) exchange.password = keys.password;
    const logger = this.o.logger.child({ module: 'live' });
    return new Engine({
      store,
      feed: await this.o.liveFeed(),
      settings: engineSettings(c),
      logger,
      scheduleReports: true,
      source: c.exchange.id,
      // The exchange's own steps and minimums (its markets, loaded as the broker starts): partial
      // closes and take-profit ladders are cut to what it takes, as on paper.
      marketRules: (symbol) => {
        const m = exchange.markets?.[symbol];
        return m ? rulesOfMarket(m, exchange.precisionMode ?? 0, c.exchange.id) : undefined;
      },
      broker: new LiveBroker({
        exchange,
        settings: c.live,
        logger,
        quotes: Object.keys(c.paper.balance),
        ...(stream ? { stream } : {}),
      }),
      ...(this.o.regimeGate ? { regimeGate: this.o.regimeGate } : {}),
    });
  }

  private async switchTo(next: Engine, stopFirst: boolean): Promise<void> {
    const run = this.switching.then(async () => {
      const previous = this.current;
      if (stopFirst) await previous.stop();
      this.off?.();
      this.current = next;
      this.off = next.on((e) => this.forward(e));
      this.hearTicks(next);
      try {
        await next.start();
      } catch (err) {
        // It could not start (the exchange unreachable, say): the previous engine goes on.
        await next.stop().catch(() => undefined);
        this.off();
        this.current = previous;
        this.off = previous.on((e) => this.forward(e));
        if (stopFirst) await previous.start();
        throw err;
      }
    });
    this.switching = run.catch(() => undefined);
    await run;
  }

  async stop(): Promise<void> {
    await this.switching;
    await this.current.stop();
  }

  /** After stop, once nothing more will be written (notices sent): close a live journal opened here. */
  async close(): Promise<void> {
    await this.switching;
    if (this.current !== this.o.paper) await this.current.store.close();
  }
}
