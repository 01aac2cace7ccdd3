/**
 * The market watch: the pairlist (market filters over one batched tickers call), the momentum
 * scanner that ranks the listed markets and keeps snapshots for later analysis (`scanner.ts`), and
 * the regime that gates and sizes runs; it announces scans and regime changes to its listeners. It
 * computes plain data; commands and notices put it into words.
 */
import type { Config } from '../config.js';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type MarketData, noMarketData } from '../market/provider.js';
import { bucketStart } from '../market/resample.js';
import { isoTime, timeframeMs } from '../market/timeframe.js';
import { quoteOf } from '../market/symbol.js';
import type { Candles } from '../market/types.js';
import type { Journal } from '../store/journal.js';
import type { WorkingSet } from '../store/state.js';
import { editsOf, noteSettings } from './settings-history.js';
import {
  filtersFrom,
  type PairlistFilters,
  type PairlistResult,
  refreshPairlist,
  setFilter,
  type TickerSource,
} from './pairlist.js';
import {
  classify,
  priceInputs,
  REGIME_DEFAULTS,
  type RegimeChange,
  type RegimeReading,
  RegimeTracker,
  regimeGate,
} from './regime.js';
import { configuredProviders, readProviders, type RegimeProvider } from './regime-providers.js';
import { Emitter } from './events.js';
import { type ScanResult, Scanner, type Snapshot } from './scanner.js';
import type { ReplayFeed } from './feed.js';

/** What the market watch tells its listeners: a scheduled scan's top markets, a change of regime. */
export type WatchEvent =
  { type: 'scan'; result: ScanResult; top: number } | { type: 'regime'; change: RegimeChange };

export type RegimeView = {
  since: number;
  history: RegimeTracker['history'];
  /** Ms the state is held before it may change. */
  heldFor: number;
  /** Outside inputs configured. */
  providers: number;
} & (
  | { state: RegimeReading['state']; reading: RegimeReading }
  | { state: 'unknown'; why: string; effect: string }
);

export interface MarketWatchOptions {
  config: Readonly<Config>;
  market: MarketData;
  /** The working records; a journal keeps the snapshots (a backtest's watch has none). */
  store: WorkingSet & { readonly journal?: Pick<Journal, 'snapshots'> };
  logger: Logger;
  /** The clock the markets are read at (the engine's: a replay's time, or now). */
  now: () => number;
  providers?: RegimeProvider[];
  /**
   * The replay the engine plays (MARKET_FEED=replay): the regime reads its own candles, closed by its
   * clock, and nothing else; the scanner and pairlist may take the bundled samples of its time.
   */
  replay?: Pick<ReplayFeed, 'symbol' | 'history'>;
}

export class MarketWatch {
  private pairs: PairlistResult | undefined;
  private readonly tracker: RegimeTracker;
  /** Engine-clock times of the last regime attempt and of the last reading taken in this process. */
  private attemptedAt: number | undefined;
  private measuredAt: number | undefined;
  /** Why the last attempt failed (undefined after a reading). */
  private unknown: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly providers: RegimeProvider[];
  private readonly events: Emitter<WatchEvent>;
  private readonly scanner: Scanner;

  constructor(private readonly o: MarketWatchOptions) {
    const saved = o.store.data.regime;
    this.tracker = new RegimeTracker(o.config.regime.minDwell, 50, saved);
    this.providers = o.providers ?? configuredProviders(o.config.regime);
    this.scanner = new Scanner({
      config: o.config,
      market: o.market,
      store: o.store,
      logger: o.logger,
      now: o.now,
      replay: o.replay !== undefined,
      pairlist: () => this.pairlist(),
      filters: () => this.filters(),
      candles: (symbol, timeframe, bars, signal) => this.decisionCandles(symbol, timeframe, bars, signal),
    });
    this.events = new Emitter((err, e) =>
      o.logger.error({ err: toAppError(err).message, event: e.type }, 'a market-watch listener failed'),
    );
  }

  /** Scans and regime changes, as the schedule announces them (the notifier listens). */
  on(listener: (e: WatchEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Announce a scan or a regime change (already stored) to the listeners. */
  announce(e: WatchEvent): void {
    this.events.emit([e]);
  }

  // --- the pairlist ---

  /** The filters in force: the configuration with admins' changes on top. */
  filters(): PairlistFilters {
    let f = filtersFrom(this.o.config.pairlist);
    for (const [k, v] of Object.entries(this.o.store.data.settings.pairlist)) f = setFilter(f, k, v);
    return f;
  }

  /** An admin's change, checked, then stored (before it is announced). */
  setFilter(key: string, value: string): Promise<PairlistFilters> {
    return this.setFilters({ [key]: value });
  }

  /**
   * Several changes at once: every one is checked before any is stored, so a command with one bad
   * value changes nothing; then all are stored in one write.
   */
  async setFilters(changes: Readonly<Record<string, string>>, by = 'unknown'): Promise<PairlistFilters> {
    const before = this.filters();
    let next = before;
    for (const [k, v] of Object.entries(changes)) next = setFilter(next, k, v);
    await this.o.store.update((s) => {
      Object.assign(s.settings.pairlist, changes);
      noteSettings(s, by, editsOf('pairlist', Object.keys(changes), before, next));
    });
    this.pairs = undefined;
    return next;
  }

  async resetFilters(by = 'unknown'): Promise<PairlistFilters> {
    const before = this.filters();
    const after = filtersFrom(this.o.config.pairlist);
    await this.o.store.update((s) => {
      s.settings.pairlist = {};
      noteSettings(s, by, editsOf('pairlist', Object.keys(after), before, after));
    });
    this.pairs = undefined;
    return after;
  }

  /** The last pairlist, refreshed when older than PAIRLIST_REFRESH. */
  async pairlist(force = false): Promise<PairlistResult & { source: string }> {
    const now = this.o.now();
    if (!force && this.pairs && now - this.pairs.at < this.o.config.pairlist.refresh)
      return { ...this.pairs, source: this.source };
    return this.refresh();
  }

  private source = '';

  /**
   * One batched tickers call (never one per market). The bundled samples' markets stand in only
   * with MARKET_DATA=samples, or on a replay (whose time is theirs) while the exchange is
   * unreachable. Otherwise an unreachable exchange leaves no list: a NETWORK error saying there is no
   * market data yet (old samples never stand in for now).
   */
  async refresh(): Promise<PairlistResult & { source: string }> {
    const f = this.filters();
    const now = this.o.now();
    try {
      const ex = await this.o.market.exchange(!this.o.replay);
      if (ex) {
        const { withRetry } = await import('../market/exchange.js');
        const opts = {
          retries: this.o.config.marketData === 'auto' ? 1 : 3,
          backoffMs: 300,
          logger: this.o.logger,
        };
        const source: TickerSource = {
          loadMarkets: () => withRetry(() => ex.loadMarkets(), opts, 'loading markets', ex) as Promise<never>,
          fetchTickers: () =>
            withRetry(() => ex.fetchTickers(), opts, 'fetching tickers', ex) as Promise<never>,
        };
        this.pairs = await refreshPairlist(source, f, now);
        this.source = `${this.o.config.exchange.id} tickers`;
        return { ...this.pairs, source: this.source };
      }
    } catch (err) {
      const e = toAppError(err);
      if (this.o.config.marketData !== 'auto' || e.code !== 'NETWORK') throw e;
      this.o.market.markOffline();
      if (!this.o.replay) {
        this.pairs = undefined;
        throw new AppError('NETWORK', noMarketData(this.o.config.exchange.id, e.message), { cause: err });
      }
      this.o.logger.warn({ error: e.message }, 'tickers unavailable; the replay lists the bundled samples');
    }
    // The bundled samples' markets, filtered only by quote and deny list (no tickers to judge).
    const pairs = this.o.market
      .sampleSymbols()
      .filter((symbol) => f.quotes.includes(quoteOf(symbol)) && !f.deny.includes(symbol))
      .map((symbol) => ({ symbol, quoteVolume: 0, spread: 0, volatility: 0, last: 0 }));
    this.pairs = { pairs, dropped: [], at: now };
    this.source = 'bundled samples (no exchange: tickers not checked)';
    return { ...this.pairs, source: this.source };
  }

  /**
   * Candles a decision rests on, closed by the engine's clock: the exchange's, or a bundled sample
   * only where it reaches that time (see MarketData: never an old sample in place of now).
   */
  private async decisionCandles(
    symbol: string,
    timeframe: string,
    bars: number,
    signal?: AbortSignal,
  ): Promise<Candles> {
    const answer = await this.o.market.candles({
      symbol,
      timeframe,
      period: bars * timeframeMs(timeframe),
      until: this.o.now(),
      decision: true,
      ...(signal ? { signal } : {}),
    });
    return answer.candles;
  }

  /** Rank the listed markets by momentum strength on `timeframe`, with the reasons; keep snapshots. */
  scan(timeframe = this.o.config.scanner.timeframe, signal?: AbortSignal): Promise<ScanResult> {
    return this.scanner.scan(timeframe, signal);
  }

  /** Kept snapshots, oldest first: the latest `limit` (all of them are in the journal). */
  snapshots(limit = 1_000): Promise<Snapshot[]> {
    return this.o.store.journal?.snapshots(limit) ?? Promise.resolve([]);
  }

  // --- the regime ---

  /**
   * The regime's inputs at `now`: the reference market's trend and volatility, breadth over the
   * listed markets, and the outside inputs if any are configured. Only candles closed by `now`
   * count (a replay's own candles up to its clock). Throws, with why, when there is no data.
   */
  private async read(now: number): Promise<RegimeReading> {
    const { symbol, timeframe } = this.o.config.regime;
    const lookback = REGIME_DEFAULTS.lookback;
    const bars = lookback + 60;
    // A replay's regime is read from its own candles (its one market, breadth included): the same
    // at any speed, and never beyond its clock.
    const replay = this.o.replay;
    const reference = replay
      ? await replay.history(symbol, timeframe, bars)
      : await this.decisionCandles(symbol, timeframe, bars);
    if (reference.length < lookback)
      throw new AppError(
        'NOT_FOUND',
        `the regime needs ${lookback} ${timeframe} candles of ${symbol}; only ${reference.length} are available yet`,
      );
    const markets: Candles[] = replay ? [reference] : [];
    const pairs = replay ? undefined : await this.pairlist().catch(() => undefined);
    for (const p of pairs?.pairs ?? []) {
      if (p.symbol === symbol) {
        markets.push(reference);
        continue;
      }
      const c = await this.decisionCandles(p.symbol, timeframe, bars).catch(() => undefined);
      if (c) markets.push(c);
    }
    const { readings, failures } = await readProviders(this.providers, now);
    return classify(
      priceInputs(reference, markets, lookback),
      readings,
      { ...REGIME_DEFAULTS, minDwellMs: this.o.config.regime.minDwell },
      failures,
    );
  }

  /**
   * Measure the regime at `now` (the engine's clock) and feed the hysteresis; a change is stored
   * before it is returned (the caller announces it). A failure is kept as the reason the regime is
   * unknown, and thrown.
   */
  async measure(now = this.o.now()): Promise<RegimeChange | undefined> {
    this.attemptedAt = now;
    let reading: RegimeReading;
    try {
      reading = await this.read(now);
    } catch (err) {
      this.unknown = toAppError(err).message;
      throw err;
    }
    this.unknown = undefined;
    this.measuredAt = now;
    const change = this.tracker.update(now, reading);
    if (change) {
      await this.o.store.update((s) => {
        s.regime = {
          state: this.tracker.state!,
          since: this.tracker.since,
          history: [...this.tracker.history],
        };
        s.log.regime.push(change);
      });
    }
    return change;
  }

  /**
   * The engine's clock reached `now`: measure when a candle of REGIME_TIMEFRAME closed since the
   * last attempt (or none was made yet); with `retry`, also when the last attempt failed (the wall
   * clock's retries on a live feed). Calls run one at a time, in order, so a replay measures at the
   * same candles, and hence trades the same, at any speed (and across a restart).
   */
  clock(now: number, retry = false): Promise<RegimeChange | undefined> {
    const next = this.queue.then(() => {
      const tfMs = timeframeMs(this.o.config.regime.timeframe);
      const closed =
        this.attemptedAt === undefined || bucketStart(now, tfMs) > bucketStart(this.attemptedAt, tfMs);
      if (!closed && !(retry && this.unknown !== undefined)) return undefined;
      // Between two closes the inputs are those of the last close, so the reading is stamped with
      // it: a replay resumed after a restart then holds and changes state exactly as without one.
      return this.measure(bucketStart(now, tfMs));
    });
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /**
   * The state in force at the engine's clock, or undefined while it is unknown: never measured in
   * this process, or (off a replay) its last reading is older than two regime candles.
   */
  private known(): RegimeReading['state'] | undefined {
    if (this.measuredAt === undefined || this.tracker.state === null) return undefined;
    const tfMs = timeframeMs(this.o.config.regime.timeframe);
    if (!this.o.replay && this.o.now() - this.measuredAt > 2 * tfMs) return undefined;
    return this.tracker.state;
  }

  /** Why the regime is unknown now, for a refusal and /regime. */
  private unknownWhy(): string {
    if (this.measuredAt !== undefined && this.unknown === undefined)
      return `its last reading, at ${isoTime(this.measuredAt)}, is too old`;
    return this.unknown ?? 'no market data yet';
  }

  /**
   * The regime as last measured on the engine's clock (what the gate uses), with its inputs and
   * history; or `unknown`, with why and what runs do meanwhile.
   */
  regime(): RegimeView {
    const state = this.known();
    const reading = this.tracker.last;
    const common = {
      since: this.tracker.since,
      history: this.tracker.history,
      heldFor: this.tracker.heldFor(this.o.now()),
      providers: this.providers.length,
    };
    if (state === undefined || reading === undefined)
      return { ...common, state: 'unknown', why: this.unknownWhy(), effect: this.unknownEffect() };
    return { ...common, state, reading };
  }

  /** What runs do while the regime is unknown (see gate()); empty with REGIME_GATE=off. */
  private unknownEffect(): string {
    if (this.o.config.regime.gate === 'off') return '';
    return this.o.replay
      ? 'On a replay, entries pass ungated until its candles can measure it.'
      : 'Entries are refused until it is measured.';
  }

  /** Regime changes so far (kept across restarts). */
  history(): RegimeTracker['history'] {
    return this.tracker.history;
  }

  /**
   * The gate a run's entry passes (REGIME_GATE=on). While the regime is unknown, entries are refused
   * ("regime unknown: no market data yet"): a live bot whose exchange has not answered must not
   * trade on a guess, nor on old samples. A replay is the exception: its regime is read from its own
   * candles, and until the file has given enough of them (the first REGIME_TIMEFRAME x 50) entries
   * pass without a regime factor (undefined), so the first minutes of a replay trade.
   */
  gate(
    side: 'long' | 'short',
    signalConfidence = 1,
  ): { ok: true; factor: number; state: string } | { ok: false; reason: string } | undefined {
    if (this.o.config.regime.gate === 'off') return undefined;
    const state = this.known();
    if (state === undefined)
      return this.o.replay ? undefined : { ok: false, reason: `regime unknown: ${this.unknownWhy()}` };
    const g = regimeGate(state, side, signalConfidence);
    return g.ok ? { ...g, state } : g;
  }
}
