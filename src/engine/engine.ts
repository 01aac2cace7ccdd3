/**
 * The engine: runs strategies on closed candles and turns their signals into positions under the
 * risk rules, with a person's approval where a run asks for it, through a broker (paper or live,
 * which it never asks). It wires the jobs together and owns the order of things:
 *
 * - `runs.ts`: starting, stopping and resuming runs; `series.ts`: the candles each series keeps and
 *   the catch-up after a restart;
 * - `step.ts`: one closed candle through one run, in the backtester's order (`entries.ts`: entry
 *   signals, sizing, fills);
 * - `approvals.ts`: people's answers and the expiry timers;
 * - `account.ts`: cash, equity, the day's start, the kill-switch and the risk settings;
 * - `reporting.ts`: the daily report.
 *
 * Every change is written to the journal first (one transaction), then announced to listeners
 * (`events.ts`); it never formats a message.
 */
import type { MarketRules } from '../market/rules.js';
import { informativeSeries } from '../backtest/run.js';
import { AppError, badInput, toAppError } from '../errors.js';
import type { ExitFill } from '../backtest/fills.js';
import type { Logger } from '../logger.js';
import type { Candle, Candles } from '../market/types.js';
import type { Signals } from '../strategy/define.js';
import type {
  OrderRecord,
  PositionRecord,
  RunRecord,
  SignalRecord,
  State,
  StateStore,
  TradeRecord,
} from '../store/state.js';
import { Accounts } from './account.js';
import { Approvals, type Decision } from './approvals.js';
import type { Broker } from './broker.js';
import {
  clone,
  costsFor,
  type EngineContext,
  type EngineSettings,
  settingsCosts,
  type RegimeGate,
  type RunSpec,
  type Runtime,
} from './context.js';
import { type EngineEvent, Emitter } from './events.js';
import type { Feed, FeedHandler } from './feed.js';
import { PaperBroker } from './paper.js';
import type { PerformanceReport } from './report.js';
import type { Account, RiskSettings } from './risk.js';
import { Reports } from './reporting.js';
import { stopAllRuns } from './run-state.js';
import { Runs } from './runs.js';
import { type Series, SeriesBook } from './series.js';
import { type Alert, type AlertOutcome, entryNow, takeAlert } from './alerts.js';
import { type Adjustment, adjustPosition, MANUAL_TIMEFRAMES, type ManualOrder } from './manual.js';
import { MANUAL } from '../strategy/manual.js';
import { Guard } from './guard.js';
import { positionOf } from './positions.js';
import { fillPending, meetStreamed, type SeriesContext, stepSeries } from './step.js';

export interface EngineOptions {
  store: StateStore;
  feed: Feed;
  settings: EngineSettings;
  logger: Logger;
  /** Candles kept per series for the strategies (default 5000). */
  bufferBars?: number;
  /** Wall clock for approval expiry (tests). */
  wallClock?: () => number;
  /** What the journal tags collected candles with: the exchange id (default: the feed's kind). */
  source?: string;
  /** Schedule the daily report on the wall clock (off for replays, which follow the feed's clock). */
  scheduleReports?: boolean;
  /** Who carries out the decisions (default: a paper broker with the settings' balances). */
  broker?: Broker;
  regimeGate?: RegimeGate;
  /** The exchange's rules of a market, when known: paper fills obey them (default: none known). */
  marketRules?: (symbol: string) => MarketRules | undefined;
}

/** What a close did: trades booked now, sells ordered (their fills book later), and refusals. */
/** A price the engine took: a closed candle of a followed series, or the stream's forming one. */
export interface Tick {
  symbol: string;
  timeframe: string;
  candle: Candle;
  closed: boolean;
}

export interface Closed {
  trades: TradeRecord[];
  ordered: OrderRecord[];
  refused: Array<{ id: string; reason: string }>;
  /** Partial closes: the position and the fill (the rest stays open). */
  parts?: Array<{ position: PositionRecord; fill: ExitFill }>;
}

export class Engine implements FeedHandler {
  readonly broker: Broker;
  private readonly events: Emitter<EngineEvent>;
  private readonly c: EngineContext;
  /** The context of the per-bar step and approvals: the engine's, with the account. */
  private readonly trade: EngineContext & SeriesContext;
  private readonly accounts: Accounts;
  private readonly approvals: Approvals;
  private readonly reports: Reports;
  private readonly series: SeriesBook;
  private readonly runs: Runs;
  /** Closed candles taken per series ("BTC/USDT 1h"), for the metrics. */
  readonly processed = new Map<string, number>();
  /** Where the positions stand within their series' forming candles (the stream's protection). */
  private readonly guard = new Guard();

  constructor(private readonly o: EngineOptions) {
    this.broker = o.broker ?? new PaperBroker(o.settings.paperBalance);
    this.events = new Emitter((err, e) =>
      o.logger.error({ err: toAppError(err).message, event: e.type }, 'an engine listener failed'),
    );
    const base = {
      store: o.store,
      feed: o.feed,
      settings: o.settings,
      logger: o.logger,
      broker: this.broker,
      costs: settingsCosts(o.settings),
      marketRules: o.marketRules ?? (() => undefined),
      wall: o.wallClock ?? Date.now,
      runtimes: new Map<string, Runtime>(),
      regimeGate: o.regimeGate,
      emit: (events: EngineEvent[]) => this.emit(events),
    };
    this.accounts = new Accounts(base);
    this.c = { ...base, risk: () => this.accounts.risk() };
    this.trade = {
      ...this.c,
      account: this.accounts.account.bind(this.accounts),
      accounts: this.accounts,
      unmet: (pos, candle) => {
        const part = this.guard.unmet(pos, candle);
        this.guard.done(pos.id);
        delete pos.met;
        return part;
      },
    };
    this.approvals = new Approvals(this.trade);
    this.reports = new Reports(this.c, this.accounts);
    this.series = new SeriesBook({
      feed: o.feed,
      bars: o.bufferBars ?? 5000,
      seen: (symbol, timeframe) =>
        Math.min(
          ...Object.values(this.state.runs)
            .filter((r) => r.symbol === symbol && r.timeframe === timeframe && this.c.runtimes.has(r.id))
            .map((r) => r.lastBar ?? Number.POSITIVE_INFINITY),
        ),
      process: (ser, candle, catchUp) => this.process(ser, candle, catchUp),
    });
    this.runs = new Runs(this.c, this.accounts, this.series);
  }

  get feed(): Feed {
    return this.o.feed;
  }

  get state(): Readonly<State> {
    return this.o.store.data;
  }

  /** The journal this engine trades in (paper and live keep separate books). */
  get store(): StateStore {
    return this.o.store;
  }

  get settings(): EngineSettings {
    return this.o.settings;
  }

  on(listener: (e: EngineEvent) => void): () => void {
    return this.events.on(listener);
  }

  /**
   * The series runs follow now (a strategy loaded on them), each with the open time of its last
   * candle taken and its timeframe: how fresh the feed is, for the health check.
   */
  followed(): Array<{ series: string; last: number; tfMs: number }> {
    const out = new Map<string, { series: string; last: number; tfMs: number }>();
    for (const r of Object.values(this.state.runs)) {
      if (!this.c.runtimes.has(r.id)) continue;
      const ser = this.series.get(r.symbol, r.timeframe);
      const series = `${r.symbol} ${r.timeframe}`;
      if (ser && ser.buffer.length > 0 && !out.has(series))
        out.set(series, { series, last: ser.buffer.lastTime, tfMs: ser.tfMs });
    }
    return [...out.values()];
  }

  /** The engine's clock: the feed's time (a replay's, or now). */
  now(): number {
    return this.o.feed.now();
  }

  private emit(events: EngineEvent[]): void {
    for (const e of events)
      if (e.type === 'entry') {
        const run = this.state.runs[e.position.runId];
        const met = run ? this.guard.entered(e.position, run.timeframe) : undefined;
        // Kept with the position too, so a restart does not meet prices from before its entry.
        if (met)
          void this.o.store
            .update((s) => {
              const rec = s.positions[e.position.id];
              if (rec && !rec.met) rec.met = met;
            })
            .catch((err: unknown) =>
              this.o.logger.warn({ err: toAppError(err).message }, 'an entry mark was not kept'),
            );
      }
    this.approvals.track(events);
    this.events.emit(events);
  }

  /** Resume the runs, positions and approvals in the state, connect the broker, then start the feed. */
  async start(): Promise<void> {
    await this.accounts.storedRiskChecked();
    await this.runs.resume();
    await this.approvals.resume();
    if (this.o.scheduleReports) await this.reports.schedule();
    await this.broker.start({ store: this.o.store, emit: (events) => this.emit(events) });
    await this.o.feed.start(this);
  }

  async stop(): Promise<void> {
    this.reports.stop();
    this.approvals.stop();
    await this.o.feed.stop();
    await this.broker.stop();
  }

  // --- runs ---

  startRun(spec: RunSpec, by: string): Promise<RunRecord> {
    return this.runs.start(spec, by);
  }

  /** Stop one run or all: no new signals; open positions keep their stops and targets. */
  stopRun(id: string, by: string): Promise<RunRecord[]> {
    return this.runs.stop(id, by);
  }

  warmupShortfall(id: string): string | undefined {
    return this.runs.warmupShortfall(id);
  }

  // --- positions ---

  /**
   * Close one position or all: at the feed's latest price where bosun fills (paper), else by a
   * market order whose fill books the trade later (live).
   */
  async closePositions(id: string, by: string, share = 1): Promise<Closed> {
    const targets =
      id === 'all' ? Object.values(this.state.positions) : [this.state.positions[id.toUpperCase()]];
    if (targets.some((p) => p === undefined)) {
      const open = Object.keys(this.state.positions);
      throw new AppError(
        'NOT_FOUND',
        `no open position ${id}; ${open.length ? `open: ${open.join(', ')}` : 'none is open'}`,
      );
    }
    const prices = new Map<string, number>();
    if (this.broker.closesAtGivenPrice)
      for (const p of targets)
        if (!prices.has(p!.symbol)) prices.set(p!.symbol, await this.o.feed.price(p!.symbol));
    const events: EngineEvent[] = [];
    const result = await this.o.store.update((s) => {
      const out: Closed = { trades: [], ordered: [], refused: [] };
      for (const t of targets) {
        const rec = s.positions[t!.id];
        if (!rec) continue; // closed meanwhile by a stop
        const time = this.o.feed.now();
        const partial = share < 1;
        const price = prices.get(rec.symbol) ?? Number.NaN;
        const closed = this.broker.close(s, rec, {
          time,
          price,
          reason: 'manual',
          costs: costsFor(this.c, rec.symbol),
          ...(partial ? { quantity: rec.qty * share } : {}),
        });
        if (closed.kind === 'refused') {
          out.refused.push({ id: rec.id, reason: closed.reason });
          continue;
        }
        s.log.decisions.push({
          time,
          runId: rec.runId,
          kind: 'close',
          detail: partial ? `${+(share * 100).toFixed(2)}% closed by ${by}` : `closed by ${by}`,
          indicators: {},
        });
        if (closed.kind === 'ordered') out.ordered.push(closed.order);
        if (closed.kind === 'part') {
          events.push({ type: 'exit', position: clone(rec), fill: clone(closed.fill) });
          (out.parts ??= []).push({ position: clone(rec), fill: clone(closed.fill) });
        }
        if (closed.kind !== 'filled') continue;
        events.push({
          type: 'exit',
          position: clone(rec),
          fill: clone(closed.fill),
          trade: clone(closed.trade),
        });
        out.trades.push(clone(closed.trade));
      }
      return out;
    });
    this.emit(events);
    this.broker.flush();
    return result;
  }

  /**
   * Panic: stop every run, withdraw what waits, cancel working orders and close every position (at
   * the latest prices, or by market orders), then settle with the account.
   */
  async panic(by: string): Promise<string> {
    const events: EngineEvent[] = [];
    const stopped = await this.o.store.update((s) => {
      const n = stopAllRuns(s, `panic by ${by}`, 'panic', this.c.wall(), events);
      s.log.decisions.push({
        time: this.o.feed.now(),
        runId: '-',
        kind: 'panic',
        detail: by,
        indicators: {},
      });
      return n;
    });
    this.emit(events);
    const cancelled = await this.broker.cancelWorking();
    const open = Object.keys(this.state.positions).length > 0;
    const closed: Closed = open
      ? await this.closePositions('all', by)
      : { trades: [], ordered: [], refused: [] };
    await this.broker.idle();
    await this.broker.reconcile();
    const parts = [`${stopped} run(s) stopped`];
    if (cancelled > 0) parts.push(`${cancelled} open order(s) cancelled`);
    if (closed.ordered.length > 0) parts.push(`${closed.ordered.length} position(s) sold at market`);
    if (closed.trades.length > 0 || !open) parts.push(`${closed.trades.length} position(s) closed`);
    for (const r of closed.refused) parts.push(`${r.id} not closed: ${r.reason}`);
    const detail = parts.join(', ');
    this.emit([{ type: 'panic', by, detail }]);
    return detail;
  }

  // --- trades by hand ---

  /**
   * A person's /buy or /sell: a signal of the `manual` run on the market (started on the first
   * trade), priced now, sized and checked by the risk manager, waiting for their Confirm.
   */
  async manualEntry(o: ManualOrder, by: string): Promise<SignalRecord> {
    const symbol = o.symbol.toUpperCase();
    const mine = () =>
      Object.values(this.state.runs).find(
        (r) => r.strategy === MANUAL.name && r.symbol === symbol && r.state === 'active',
      );
    const run =
      mine() ??
      (await this.runs.start(
        {
          strategy: MANUAL.name,
          symbol,
          timeframe: await this.firstServed(symbol, MANUAL_TIMEFRAMES),
          params: {},
          approve: 'manual',
        },
        by,
      ));
    const held = positionOf(this.state, run.id);
    if (held)
      throw badInput(
        `${held.id} on ${symbol} is open already (one position by hand per market): /exit ${held.id}, or /adjust ${held.id}`,
      );
    const events: EngineEvent[] = [];
    const signal = await entryNow(
      this.trade,
      run.id,
      o.side,
      {
        stop: o.stop,
        manual: {
          by,
          quantity: o.quantity,
          // Nearest first, as a ladder is met.
          targets: o.targets ? [...o.targets].sort((a, b) => o.side * (a - b)) : undefined,
          trail: o.trail,
          adds: o.adds,
          source: o.source,
        },
        note: o.note ?? `by hand: ${by}${o.source ? `, from a ${o.source}` : ''}`,
      },
      events,
    );
    this.emit(events);
    return signal;
  }

  /** The first of `timeframes` the feed serves for the market; else why the market cannot be had. */
  async firstServed(symbol: string, timeframes: readonly string[]): Promise<string> {
    let first: unknown;
    for (const tf of timeframes) {
      try {
        await this.o.feed.check(symbol, tf);
        return tf;
      } catch (err) {
        first ??= err;
      }
    }
    throw first;
  }

  /** Move an open position's stop or targets (/adjust); one line on what changed. */
  async adjust(id: string, a: Adjustment, by: string): Promise<string> {
    const rec = this.state.positions[id.toUpperCase()];
    if (!rec) {
      const open = Object.keys(this.state.positions);
      throw new AppError(
        'NOT_FOUND',
        `no open position ${id}; ${open.length ? `open: ${open.join(', ')}` : 'none is open'}`,
      );
    }
    if (a.stop !== undefined && rec.closing)
      throw badInput(`${rec.id} is being sold (${rec.closing}); its stop cannot move now`);
    const price = await this.o.feed.price(rec.symbol);
    const market = this.c.marketRules(rec.symbol);
    return this.o.store
      .update((s) => {
        const live = s.positions[rec.id];
        if (!live) throw badInput(`${rec.id} has closed meanwhile`);
        const said = adjustPosition(s, live, a, price, market, by, this.o.feed.now());
        // A stop resting on the exchange follows (live): the new one replaces it there.
        if (a.stop !== undefined) this.c.broker.moved(s, live);
        return said;
      })
      .then((said) => {
        this.c.broker.flush();
        return said;
      });
  }

  // --- alerts ---

  /** An alert from outside (a webhook) for a run: a signal like the run's own (`alerts.ts`). */
  async alert(a: Alert, by: string): Promise<AlertOutcome> {
    const { outcome, events } = await takeAlert(this.trade, a, by);
    this.emit(events);
    return outcome;
  }

  // --- approvals ---

  /** A person's answer to a pending signal. The first valid answer wins; later ones change nothing. */
  decide(signalId: string, action: Decision, by: string): Promise<{ ok: boolean; message: string }> {
    return this.approvals.decide(signalId, action, by);
  }

  // --- the account ---

  /** Risk settings in force: the configured ones with admins' changes on top. */
  risk(): RiskSettings {
    return this.accounts.risk();
  }

  account(s: Readonly<State>, quote: string, symbol?: string): Account {
    return this.accounts.account(s, quote, symbol);
  }

  /** Quote currencies with a balance or a position. */
  quotes(): string[] {
    return this.accounts.quotes();
  }

  /** Cash a quote currency started with: the paper setting, or live the exchange's at the first sync. */
  initialBalance(quote: string): number {
    return this.accounts.initialBalance(quote);
  }

  /** Change risk settings (checked together first); the settings history records who did. */
  setRisk(changes: Record<string, unknown>, by = 'unknown'): Promise<RiskSettings> {
    return this.accounts.setRisk(changes, by);
  }

  /** Clear the kill-switch; drawdown counts from the current equity on. Runs stay stopped. */
  resume(by: string): Promise<boolean> {
    return this.accounts.resume(by);
  }

  /** Performance over [from, to) for a quote currency. */
  performance(quote: string, from: number, to?: number): Promise<PerformanceReport> {
    return this.reports.performance(quote, from, to);
  }

  /** Build the daily report (the 24 hours ending at `at`) and announce it. */
  sendReport(at: number, title?: string): Promise<PerformanceReport[]> {
    return this.reports.send(at, title);
  }

  // --- the feed ---

  async onCandle(symbol: string, timeframe: string, candle: Candle): Promise<void> {
    const ser = this.series.get(symbol, timeframe);
    if (!ser) return;
    await this.process(ser, candle, false);
    this.tick(symbol, timeframe, candle, true);
  }

  /** Prices as they come, after the engine has taken them: closed candles, and the stream's forming ones. */
  onTick(listener: (t: Tick) => void): () => void {
    this.ticks.add(listener);
    return () => this.ticks.delete(listener);
  }

  private readonly ticks = new Set<(t: Tick) => void>();

  private tick(symbol: string, timeframe: string, candle: Candle, closed: boolean): void {
    for (const l of this.ticks)
      try {
        l({ symbol, timeframe, candle, closed });
      } catch (err) {
        this.o.logger.error({ err: toAppError(err).message }, 'a price listener failed');
      }
  }

  /** Follow a series no run trades (an alert's), so its candles come. */
  async followSeries(symbol: string, timeframe: string): Promise<void> {
    await this.o.feed.check(symbol, timeframe);
    await this.series.follow(symbol, timeframe);
  }

  /** The recent closed candles of a followed series (none: not followed). */
  recent(symbol: string, timeframe: string): Candles | undefined {
    return this.series.get(symbol, timeframe)?.buffer.view();
  }

  /**
   * The stream's latest look at a series' forming candle (between closes): the orders its previous
   * close decided fill at its open, and the open positions meet the prices it has shown since they
   * last looked (`guard.ts`). Only what changes something is written (one update), then announced
   * and, live, sent at once.
   */
  onForming(symbol: string, timeframe: string, candle: Candle): void {
    const ser = this.series.get(symbol, timeframe);
    // Only the candle after the last one processed: an update that comes late for a closed candle,
    // or ahead of a close still on its way (a gap being fetched), waits for that close.
    if (!ser || candle.time !== ser.buffer.lastTime + ser.tfMs) return;
    this.tick(symbol, timeframe, candle, false);
    this.guard.see(symbol, timeframe, candle);
    let work = false;
    for (const run of this.guardedRuns(this.state, ser, candle)) {
      if (run.pendingEntry || run.pendingExit !== undefined) work = true;
      const pos = positionOf(this.state, run.id);
      if (!pos) continue;
      const reach = this.broker.reach(pos, this.guard.unmet(pos, candle), this.c.costs);
      if (reach === 'act') work = true;
      // Prices that change nothing count as met; those a broker cannot act on yet (a sell in flight)
      // are met again with the next update.
      else if (reach === 'none') this.guard.advance(pos.id, candle);
    }
    if (!work) return;
    void this.between(ser, candle).catch((err: unknown) =>
      this.o.logger.error(
        { series: `${symbol} ${timeframe}`, err: toAppError(err).message },
        'a price between closes was not processed',
      ),
    );
  }

  /** The runs a forming candle reaches: on its series, loaded, and up to date to the candle before. */
  private guardedRuns(s: Readonly<State>, ser: Series, candle: Candle): RunRecord[] {
    return Object.values(s.runs).filter(
      (r) =>
        r.symbol === ser.symbol &&
        r.timeframe === ser.timeframe &&
        r.lastBar === candle.time - ser.tfMs &&
        this.c.runtimes.has(r.id),
    );
  }

  /**
   * A forming candle's work in one state change: pending orders at its open, then the positions it
   * reaches. Fills are stamped with the candle's time, as a backtest stamps them (the cooldown and
   * the day's loss count alike); the notices go out now. The marks move once the change is kept.
   */
  private async between(ser: Series, candle: Candle): Promise<void> {
    const events: EngineEvent[] = [];
    const met: string[] = [];
    await this.o.store.update((s) => {
      if (candle.time !== ser.buffer.lastTime + ser.tfMs) return;
      for (const stale of this.guardedRuns(s, ser, candle)) {
        const run = s.runs[stale.id]!;
        const pos = fillPending(s, this.trade, run, candle, events);
        if (!pos) continue;
        const reach = meetStreamed(s, this.trade, pos, this.guard.unmet(pos, candle), candle, events);
        if (reach !== 'wait') met.push(pos.id);
      }
    });
    for (const id of met) this.guard.advance(id, candle);
    this.guard.prune(this.state.positions);
    this.emit(events);
    this.broker.flush();
  }

  async onClock(now: number): Promise<void> {
    if (this.o.feed.accelerated) await this.reports.onClock(now);
  }

  /** Feeds report each change once (their contract), so each becomes one notice. */
  onStatus(up: boolean, detail: string, cause?: 'journal' | 'stream'): void {
    this.emit([{ type: 'feed', up, detail, ...(cause ? { [cause]: true } : {}) }]);
  }

  onEnd(): void {
    this.emit([
      {
        type: 'feed',
        up: false,
        ended: true,
        detail:
          'the replay reached the end of its file; runs wait for candles. To start it over, stop bosun, delete bosun.db* in DATA_DIR (the journal of this replay: runs, trades and balances) and start it again',
      },
    ]);
  }

  /** One closed candle of a series, through every run on it, in one durable state change. */
  private async process(ser: Series, candle: Candle, catchUp: boolean): Promise<void> {
    if (candle.time <= ser.buffer.lastTime) return;
    ser.buffer.push(candle);
    const key = `${ser.symbol} ${ser.timeframe}`;
    this.processed.set(key, (this.processed.get(key) ?? 0) + 1);
    const view = ser.buffer.view();
    const runs = Object.values(this.state.runs).filter(
      (r) =>
        r.symbol === ser.symbol &&
        r.timeframe === ser.timeframe &&
        (r.lastBar ?? Number.NEGATIVE_INFINITY) < candle.time &&
        this.c.runtimes.has(r.id),
    );
    if (runs.length === 0) return;
    // Strategies run outside the state update: they are pure, and a throw pauses only their run.
    const evaluated = new Map<string, Signals | AppError>();
    for (const run of runs) {
      if (run.state !== 'active') continue;
      const rt = this.c.runtimes.get(run.id)!;
      try {
        const ctx = { timeframeMs: ser.tfMs, informative: informativeSeries(rt.strategy, view, ser.tfMs) };
        evaluated.set(run.id, rt.strategy.signals(view, rt.params, ctx));
      } catch (err) {
        evaluated.set(run.id, toAppError(err));
      }
    }
    const events: EngineEvent[] = [];
    for (const [id, result] of evaluated)
      if (result instanceof AppError)
        this.o.logger.error({ run: id, err: result.cause ?? result.message }, 'strategy failed; run paused');
    await this.o.store.update((s) => {
      stepSeries(
        s,
        this.trade,
        {
          symbol: ser.symbol,
          timeframe: ser.timeframe,
          tfMs: ser.tfMs,
          candle,
          t: view.length - 1,
          runs: runs.map((r) => ({
            run: s.runs[r.id]!,
            rt: this.c.runtimes.get(r.id)!,
            result: evaluated.get(r.id),
          })),
          catchUp,
          source: this.o.source ?? this.o.feed.kind,
        },
        events,
      );
      const resume = this.o.feed.resumePoint?.();
      if (resume) s.engine.replay = resume;
    });
    this.emit(events);
    this.broker.flush();
  }
}
