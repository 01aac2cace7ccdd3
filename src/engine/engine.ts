/**
 * The engine: runs strategies on closed candles and turns their signals into paper positions under
 * the risk rules, with a person's approval where a run asks for it.
 *
 * For each closed candle of a series (symbol, timeframe) it does, per run, what the backtester does
 * per bar, with the same functions (`backtest/fills.ts`), so a replay with auto approval trades
 * exactly like a backtest on the same candles:
 *   1. orders decided at the previous close fill at this candle's open: exits, then entries;
 *   2. the candle meets the open position (gaps, stop before targets, trailing stop);
 *   3. the position is marked at the close;
 *   4. the strategy's signals at this close decide the orders for the next open; an entry first
 *      passes the risk manager, then waits for approval (manual) or is queued at once (auto).
 * A manual approval fills at once at the feed's latest price (a person decided between candles).
 *
 * The engine speaks in events: every change is written to the state store first (atomically and
 * durably), then announced to listeners; it never formats a message.
 */
import type { Job } from 'node-schedule';
import {
  ENTER_LONG,
  ENTER_SHORT,
  EXIT_ON_SIGNAL,
  EXIT_ON_TIME,
  type ExitFill,
  type ExitReason,
  type FillCosts,
  initialStop,
  nextOrders,
  offsetPrice,
  planEntry,
  type Side,
} from '../backtest/fills.js';
import { checkExits, informativeSeries } from '../backtest/run.js';
import type { Config } from '../config.js';
import { AppError, badInput, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isTimeframe, timeframeMs } from '../market/timeframe.js';
import { type Candle, candleAt } from '../market/types.js';
import type { ExitRules, Signals, Strategy } from '../strategy/define.js';
import { parseParams } from '../strategy/params.js';
import { loadStrategy } from '../strategy/registry.js';
import {
  markSignal,
  type OrderRecord,
  type PositionRecord,
  type RunRecord,
  type SignalRecord,
  type State,
  type StateStore,
  type TradeRecord,
} from '../store/state.js';
import { CandleBuffer } from './buffer.js';
import { editsOf, noteSettings } from './settings-history.js';
import { nextTimeOfDay, startOfDay } from './clock.js';
import { type Feed, type FeedHandler, seriesKey, TimeSlice } from './feed.js';
import type { LiveBroker } from './live/broker.js';
import { quoteOf } from '../market/symbol.js';
import { PaperBroker } from './paper.js';
import { equityOf, performance, type PerformanceReport } from './report.js';
import type { ScanResult } from './market-watch.js';
import type { RegimeChange } from './regime.js';
import { type Account, evaluate, parseRiskSettings, type RiskSettings, withStrategyRisk } from './risk.js';

export const NOTICE_CATEGORIES = ['signals', 'approvals', 'fills', 'exits', 'alerts', 'reports'] as const;
export type NoticeCategory = (typeof NOTICE_CATEGORIES)[number];

export type EngineEvent =
  | { type: 'signal'; signal: SignalRecord; run: RunRecord }
  | { type: 'decided'; signal: SignalRecord }
  | { type: 'entry'; position: PositionRecord; signal: SignalRecord }
  | { type: 'entry-skipped'; signal: SignalRecord; reason: string }
  | { type: 'exit'; position: PositionRecord; fill: ExitFill; trade?: TradeRecord }
  | { type: 'run'; run: RunRecord; what: 'paused' | 'stopped' }
  | { type: 'kill-switch'; reason: string }
  | { type: 'feed'; up: boolean; detail: string; journal?: boolean }
  | { type: 'report'; report: PerformanceReport; title: string }
  | {
      type: 'order';
      order: OrderRecord;
      what: 'placed' | 'adopted' | 'rejected' | 'unknown' | 'cancelled' | 'unmatched';
      detail?: string;
    }
  | { type: 'exchange'; up: boolean; detail: string }
  | { type: 'reconcile'; detail: string }
  | { type: 'panic'; by: string; detail: string }
  | { type: 'mode'; mode: 'paper' | 'live'; detail: string }
  /** The scanner's top markets (a scheduled scan), and a change of market regime. */
  | { type: 'scan'; result: ScanResult; top: number }
  | { type: 'regime'; change: RegimeChange };

/** Which chats' category an event belongs to. */
export function categoryOf(e: EngineEvent): NoticeCategory {
  switch (e.type) {
    case 'signal':
      return 'signals';
    case 'decided':
      return 'approvals';
    case 'entry':
    case 'entry-skipped':
    case 'order':
      return 'fills';
    case 'exit':
      return 'exits';
    case 'report':
      return 'reports';
    case 'scan':
      return 'signals';
    default:
      return 'alerts';
  }
}

export interface EngineSettings {
  /** Starting paper cash per quote currency. */
  paperBalance: Readonly<Record<string, number>>;
  fee: number;
  slippageBps: number;
  /** Wall-clock time a manual approval waits, ms. */
  approvalTimeoutMs: number;
  /** Risk defaults (admins' changes in the state override them). */
  risk: Readonly<Record<string, unknown>>;
  timezone: string;
  /** `HH:MM` in the time zone. */
  reportTime: string;
}

export function engineSettings(config: Config): EngineSettings {
  return {
    paperBalance: config.paper.balance,
    fee: config.backtest.fee,
    slippageBps: config.backtest.slippageBps,
    approvalTimeoutMs: config.engine.approvalTimeout,
    risk: config.risk ?? {},
    timezone: config.timezone,
    reportTime: config.engine.reportTime,
  };
}

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
  /** Live trading: orders on the exchange instead of paper fills (default: paper). */
  live?: LiveBroker;
  /**
   * The market regime's say on an entry (see MarketWatch.gate): refused, or a size factor; undefined
   * when no regime is measured or the gate is off.
   */
  regimeGate?: (
    side: 'long' | 'short',
    signalConfidence: number,
  ) => { ok: true; factor: number; state: string } | { ok: false; reason: string } | undefined;
}

export interface RunSpec {
  strategy: string;
  symbol: string;
  timeframe: string;
  params: Record<string, unknown>;
  approve: 'auto' | 'manual';
}

interface Runtime {
  strategy: Strategy;
  params: Record<string, unknown>;
  rules: ExitRules;
  allowLong: boolean;
  allowShort: boolean;
  maxBars: number;
  tfMs: number;
}

interface Series {
  symbol: string;
  timeframe: string;
  tfMs: number;
  buffer: CandleBuffer;
}

const clone = <T>(v: T): T => structuredClone(v);
const num = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);
/**
 * Decided signals kept in memory besides those still in play (all of them are in the journal): the
 * working set stays small, so a step's commit costs the same however long bosun has run.
 */
const RECENT_SIGNALS = 200;

export class Engine implements FeedHandler {
  readonly broker: PaperBroker | LiveBroker;
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly runtimes = new Map<string, Runtime>();
  private readonly series = new Map<string, Series>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly costs: FillCosts;
  private readonly wall: () => number;
  private nextReportAt: number | undefined;
  private reportJob: Job | undefined;
  private started = false;

  constructor(private readonly o: EngineOptions) {
    this.broker = o.live ?? new PaperBroker(o.settings.paperBalance);
    this.costs = { fee: o.settings.fee, slippage: o.settings.slippageBps / 10_000 };
    this.wall = o.wallClock ?? Date.now;
  }

  get feed(): Feed {
    return this.o.feed;
  }

  get state(): Readonly<State> {
    return this.o.store.data;
  }

  /** The state file this engine trades in (paper and live keep separate ones). */
  get store(): StateStore {
    return this.o.store;
  }

  get settings(): EngineSettings {
    return this.o.settings;
  }

  /** Risk settings in force: the configured ones with admins' changes on top. */
  risk(): RiskSettings {
    return parseRiskSettings({ ...this.o.settings.risk, ...this.state.settings.risk });
  }

  /** The stored risk changes, checked once (see checkStoredRisk), before anything sizes with them. */
  private storedRiskChecked(): Promise<void> {
    this.riskCheck ??= this.checkStoredRisk();
    return this.riskCheck;
  }

  private riskCheck: Promise<void> | undefined;

  /**
   * Risk changes an admin stored with /risk are checked again with this version's bounds: one that no
   * longer passes (it would fail every candle) is taken back to the configured value, and the log
   * says which and why.
   */
  private async checkStoredRisk(): Promise<void> {
    const stored = this.state.settings.risk;
    const failing = (keys: string[]) =>
      keys.filter((key) => {
        try {
          parseRiskSettings({ ...this.o.settings.risk, [key]: stored[key] });
          return false;
        } catch {
          return true;
        }
      });
    let bad = failing(Object.keys(stored));
    // Each may pass alone and the set still fail together: then all go back.
    if (bad.length === 0) {
      try {
        this.risk();
      } catch {
        bad = Object.keys(stored);
      }
    }
    if (bad.length === 0) return;
    const taken = bad.map((key) => `${key}=${JSON.stringify(stored[key])}`);
    await this.o.store.update((st) => {
      noteSettings(st, 'bosun', editsOf('risk', bad, stored, this.o.settings.risk));
      for (const key of bad) delete st.settings.risk[key];
    });
    this.o.logger.warn(
      { taken },
      `risk settings stored by /risk no longer pass this version's bounds and were taken back to the configured values: ${taken.join(', ')}`,
    );
  }

  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The engine's clock: the feed's time (a replay's, or now). */
  now(): number {
    return this.o.feed.now();
  }

  /** Publish events computed outside the engine (scans, regime changes) to its listeners. */
  announce(events: EngineEvent[]): void {
    this.emit(events);
  }

  private emit(events: EngineEvent[]): void {
    for (const e of events)
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.o.logger.error({ err: toAppError(err).message, event: e.type }, 'an engine listener failed');
        }
      }
  }

  /** Resume the runs, positions and approvals in the state, then start the feed. */
  async start(): Promise<void> {
    await this.storedRiskChecked();
    const s = this.state;
    const resumed = Object.values(s.runs).filter(
      (run) =>
        !this.runtimes.has(run.id) &&
        (run.state === 'active' ||
          run.pendingExit !== undefined ||
          Object.values(s.positions).some((p) => p.runId === run.id)),
    );
    // Every run's strategy first, so each series catches up for all its runs at once.
    const failed = new Map<string, string>();
    for (const run of resumed) {
      try {
        this.runtimes.set(run.id, await this.runtime(run));
      } catch (err) {
        failed.set(run.id, toAppError(err).message);
      }
    }
    for (const run of resumed) {
      if (failed.has(run.id)) continue;
      try {
        await this.follow(run.symbol, run.timeframe);
        this.o.logger.info({ run: run.id, state: run.state }, 'run resumed');
      } catch (err) {
        failed.set(run.id, toAppError(err).message);
      }
    }
    if (failed.size > 0) {
      const events: EngineEvent[] = [];
      await this.o.store.update((st) => {
        for (const [id, why] of failed) {
          this.runtimes.delete(id);
          this.pause(st, st.runs[id]!, `cannot resume: ${why}`, events);
        }
      });
      this.emit(events);
    }
    // Approvals waiting from before the restart resume, or expire if their time is up.
    const expired: EngineEvent[] = [];
    await this.o.store.update((st) => {
      for (const sig of Object.values(st.signals))
        if (sig.status === 'pending' && (sig.expiresAt ?? 0) <= this.wall())
          this.expire(st, sig, 'expired', expired);
    });
    this.emit(expired);
    for (const sig of Object.values(this.state.signals)) if (sig.status === 'pending') this.arm(sig);
    if (this.o.scheduleReports) {
      const [hour, minute] = this.o.settings.reportTime.split(':').map(Number) as [number, number];
      const { default: schedule } = await import('node-schedule');
      this.reportJob = schedule.scheduleJob({ hour, minute, tz: this.o.settings.timezone }, () => {
        void this.sendReport(this.wall()).catch((err: unknown) =>
          this.o.logger.error({ err: toAppError(err).message }, 'daily report failed'),
        );
      });
    }
    if (this.broker.kind === 'live')
      await this.broker.start({
        store: this.o.store,
        emit: (events) => this.emit(events),
        rules: (runId) => this.runtimes.get(runId)?.rules,
        booked: (s, runId, trade) => this.booked(s, runId, trade),
      });
    this.started = true;
    await this.o.feed.start(this);
  }

  /** Live orders recorded by the last state write go out now (paper: nothing to send). */
  private send(): void {
    if (this.broker.kind === 'live') this.broker.kick();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.reportJob?.cancel();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.o.feed.stop();
    if (this.broker.kind === 'live') await this.broker.stop();
  }

  // --- runs ---

  private async runtime(run: Pick<RunRecord, 'strategy' | 'params' | 'timeframe'>): Promise<Runtime> {
    // The first run sized before start() (REPLAY_RUNS, /start) needs the stored risk checked too.
    await this.storedRiskChecked();
    const strategy = await loadStrategy(run.strategy);
    const params = parseParams(strategy, run.params);
    const exits = checkExits({ ...strategy.exits?.(params) });
    const risk = this.risk();
    // A position never goes without a stop unless the settings say so.
    const rules: ExitRules =
      exits.stopLoss === undefined && risk.defaultStop > 0 ? { ...exits, stopLoss: risk.defaultStop } : exits;
    const direction = strategy.direction ?? 'long';
    return {
      strategy,
      params,
      rules,
      allowLong: direction !== 'short',
      allowShort: direction !== 'long',
      maxBars: rules.maxBars ?? 0,
      tfMs: timeframeMs(run.timeframe),
    };
  }

  /**
   * Follow a series: its history fills the buffer the strategies read. Candles every run on it has
   * seen only go into the buffer; later ones (closed while bosun was down) are processed. A series
   * nobody has traded yet takes its whole history as warm-up.
   */
  private async follow(symbol: string, timeframe: string): Promise<Series> {
    const key = seriesKey(symbol, timeframe);
    const known = this.series.get(key);
    if (known) return known;
    const history = await this.o.feed.history(symbol, timeframe, this.o.bufferBars ?? 5000);
    const ser: Series = {
      symbol,
      timeframe,
      tfMs: timeframeMs(timeframe),
      buffer: new CandleBuffer(this.o.bufferBars ?? 5000),
    };
    const seen = Math.min(
      ...Object.values(this.state.runs)
        .filter((r) => r.symbol === symbol && r.timeframe === timeframe && this.runtimes.has(r.id))
        .map((r) => r.lastBar ?? Number.POSITIVE_INFINITY),
    );
    let i = 0;
    while (i < history.length && history.time[i]! <= seen) i++;
    ser.buffer.pushAll(history, 0, i);
    this.series.set(key, ser);
    // Candles missed while down can be many: the chats keep their turns meanwhile.
    const slice = new TimeSlice();
    for (; i < history.length; i++) {
      await this.process(ser, candleAt(history, i), i < history.length - 1);
      if (slice.over) await slice.next();
    }
    this.o.feed.watch(symbol, timeframe);
    return ser;
  }

  async startRun(spec: RunSpec, by: string): Promise<RunRecord> {
    if (!isTimeframe(spec.timeframe))
      throw badInput(`timeframe "${spec.timeframe}" is not valid; allowed: like 15m, 1h, 4h, 1d`);
    const symbol = spec.symbol.toUpperCase();
    const rt = await this.runtime({
      strategy: spec.strategy,
      params: spec.params,
      timeframe: spec.timeframe,
    });
    await this.o.feed.check(symbol, spec.timeframe);
    const s = this.state;
    if (s.engine.killSwitch)
      throw new AppError(
        'FORBIDDEN',
        `the kill-switch is on (${s.engine.killSwitch.reason}); an admin must /risk resume first`,
      );
    const same = Object.values(s.runs).find(
      (r) =>
        r.state === 'active' &&
        r.strategy === spec.strategy &&
        r.symbol === symbol &&
        r.timeframe === spec.timeframe &&
        JSON.stringify(r.params) === JSON.stringify(rt.params),
    );
    if (same)
      throw badInput(
        `${spec.strategy} already runs on ${symbol} ${spec.timeframe} with these parameters as ${same.id}`,
      );
    // The run starts after the last candle its series has: history is warm-up, never traded.
    const lastBar = (await this.follow(symbol, spec.timeframe)).buffer.lastTime;
    const run = await this.o.store.update((st) => {
      const id = `R${st.engine.nextId++}`;
      const r: RunRecord = {
        id,
        strategy: spec.strategy,
        symbol,
        timeframe: spec.timeframe,
        params: rt.params,
        approve: spec.approve,
        state: 'active',
        createdAt: this.wall(),
        createdBy: by,
        ...(Number.isFinite(lastBar) ? { lastBar } : {}),
        realizedPnl: 0,
        trades: 0,
      };
      st.runs[id] = r;
      return clone(r);
    });
    this.runtimes.set(run.id, rt);
    return run;
  }

  /**
   * Why a run can never signal on this feed: its warm-up needs more candles of its timeframe than the
   * feed will ever give (a 1d run on a three-week replay). Undefined when it can, or the feed has no end.
   */
  warmupShortfall(id: string): string | undefined {
    const run = this.state.runs[id];
    const rt = this.runtimes.get(id);
    const most = run ? this.o.feed.capacity?.(run.timeframe) : undefined;
    if (!run || !rt || most === undefined) return undefined;
    const need = rt.strategy.warmup(rt.params) + 1;
    if (most >= need) return undefined;
    return `${run.id} needs ${need} ${run.timeframe} candles to warm up, and the replay holds ${most}: it will never signal. A shorter timeframe or a longer REPLAY_FILE would.`;
  }

  /** Stop one run or all: no new signals; open positions keep their stops and targets. */
  async stopRun(id: string, by: string): Promise<RunRecord[]> {
    const events: EngineEvent[] = [];
    const stopped = await this.o.store.update((s) => {
      const runs = id === 'all' ? Object.values(s.runs).filter((r) => r.state !== 'stopped') : [s.runs[id]];
      const out: RunRecord[] = [];
      for (const run of runs) {
        if (!run) throw this.unknownRun(id, s);
        if (run.state === 'stopped') throw badInput(`run ${run.id} is already stopped`);
        run.state = 'stopped';
        run.reason = `stopped by ${by}`;
        this.dropPending(s, run, 'its run was stopped', events);
        out.push(clone(run));
      }
      return out;
    });
    this.emit(events);
    return stopped;
  }

  private unknownRun(id: string, s: State): AppError {
    const ids = Object.values(s.runs)
      .filter((r) => r.state !== 'stopped')
      .map((r) => r.id);
    return new AppError(
      'NOT_FOUND',
      `no run ${id}; ${ids.length ? `running: ${ids.join(', ')}` : 'nothing is running'}`,
    );
  }

  /**
   * Close one position or all at the feed's latest price (paper), or by a market sell (live: the
   * trades come when the sells fill).
   */
  async closePositions(id: string, by: string): Promise<{ trades: TradeRecord[]; ordered: OrderRecord[] }> {
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
    if (this.broker.kind === 'paper')
      for (const p of targets)
        if (!prices.has(p!.symbol)) prices.set(p!.symbol, await this.o.feed.price(p!.symbol));
    const events: EngineEvent[] = [];
    const result = await this.o.store.update((s) => {
      const out: { trades: TradeRecord[]; ordered: OrderRecord[] } = { trades: [], ordered: [] };
      for (const t of targets) {
        const rec = s.positions[t!.id];
        if (!rec) continue; // closed meanwhile by a stop
        s.log.decisions.push({
          time: this.o.feed.now(),
          runId: rec.runId,
          kind: 'close',
          detail: `closed by ${by}`,
          indicators: {},
        });
        if (this.broker.kind === 'live') {
          const sell = this.broker.close(s, rec, 'manual');
          if (sell) out.ordered.push(sell.ordered);
          continue;
        }
        const { fill, trade } = this.broker.close(
          s,
          rec,
          this.o.feed.now(),
          prices.get(rec.symbol)!,
          'manual',
          this.costs,
        );
        this.booked(s, rec.runId, trade);
        events.push({ type: 'exit', position: clone(rec), fill: clone(fill), trade: clone(trade) });
        out.trades.push(clone(trade));
      }
      return out;
    });
    this.emit(events);
    this.send();
    return result;
  }

  /**
   * Panic: stop every run, withdraw what waits, cancel open orders and close every position. Paper
   * closes at the latest prices; live cancels bosun's open orders and sells at market.
   */
  async panic(by: string): Promise<string> {
    const events: EngineEvent[] = [];
    const stopped = await this.o.store.update((s) => {
      let n = 0;
      for (const run of Object.values(s.runs)) {
        if (run.state === 'stopped') continue;
        run.state = 'stopped';
        run.reason = `panic by ${by}`;
        this.dropPending(s, run, 'panic', events);
        n++;
      }
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
    let detail: string;
    if (this.broker.kind === 'live') {
      const { cancelled, sells } = await this.broker.panic();
      detail = `${stopped} run(s) stopped, ${cancelled} open order(s) cancelled, ${sells} position(s) sold at market`;
    } else {
      const open = Object.keys(this.state.positions).length;
      if (open > 0) await this.closePositions('all', by);
      detail = `${stopped} run(s) stopped, ${open} position(s) closed`;
    }
    this.emit([{ type: 'panic', by, detail }]);
    return detail;
  }

  // --- approvals ---

  /** A person's answer to a pending signal. The first valid answer wins; later ones change nothing. */
  async decide(
    signalId: string,
    action: 'approve' | 'half' | 'reject',
    by: string,
  ): Promise<{ ok: boolean; message: string }> {
    const id = signalId.toUpperCase();
    const known = this.state.signals[id];
    if (!known) throw new AppError('NOT_FOUND', `no signal ${signalId}`);
    let price = Number.NaN;
    if (action !== 'reject' && known.status === 'pending') price = await this.o.feed.price(known.symbol);
    const events: EngineEvent[] = [];
    const result = await this.o.store.update((s) => {
      const sig = s.signals[id]!;
      if (sig.status !== 'pending')
        return {
          ok: false,
          message: `Signal ${id} was already ${sig.status === 'filled' ? 'approved' : sig.status}${sig.decidedBy ? ` by ${sig.decidedBy}` : ''}; nothing was done.`,
        };
      if ((sig.expiresAt ?? 0) <= this.wall()) {
        this.expire(s, sig, 'expired', events);
        return { ok: false, message: `Signal ${id} has expired; nothing was done.` };
      }
      sig.decidedBy = by;
      sig.decidedAt = this.wall();
      if (action === 'reject') {
        sig.status = 'rejected';
        events.push({ type: 'decided', signal: clone(sig) });
        return { ok: true, message: `Signal ${id} rejected.` };
      }
      sig.status = 'approved';
      sig.size = action === 'half' ? 0.5 : 1;
      events.push({ type: 'decided', signal: clone(sig) });
      const run = s.runs[sig.runId];
      if (!run || run.state !== 'active') {
        this.skip(s, sig, 'its run is no longer active', events);
        return {
          ok: true,
          message: `Signal ${id} approved, but its run is no longer active: nothing was bought.`,
        };
      }
      // A person approved the quantity the signal showed: that (or half of it) is what fills.
      const filled = this.fillEntry(
        s,
        run,
        sig,
        this.o.feed.now(),
        price,
        { quantity: sig.quantity * sig.size },
        events,
      );
      return {
        ok: true,
        message: filled
          ? `Signal ${id} approved${action === 'half' ? ' at half size' : ''}.`
          : `Signal ${id} approved, but the entry was skipped: ${sig.reason}.`,
      };
    });
    this.disarm(id);
    this.emit(events);
    this.send();
    return result;
  }

  private arm(sig: SignalRecord): void {
    this.disarm(sig.id);
    const delay = Math.max(0, (sig.expiresAt ?? 0) - this.wall());
    const timer = setTimeout(
      () => {
        this.timers.delete(sig.id);
        const events: EngineEvent[] = [];
        void this.o.store
          .update((s) => {
            const cur = s.signals[sig.id];
            if (cur?.status === 'pending') this.expire(s, cur, 'expired', events);
          })
          .then(() => this.emit(events))
          .catch((err: unknown) =>
            this.o.logger.error({ err: toAppError(err).message }, 'could not expire a signal'),
          );
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.timers.set(sig.id, timer);
  }

  private disarm(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private expire(s: State, sig: SignalRecord, reason: string, events: EngineEvent[]): void {
    markSignal(s, sig, 'expired');
    sig.reason = reason;
    sig.decidedAt = this.wall();
    this.disarm(sig.id);
    events.push({ type: 'decided', signal: clone(sig) });
  }

  private skip(s: State, sig: SignalRecord, reason: string, events: EngineEvent[]): void {
    markSignal(s, sig, 'skipped');
    sig.reason = reason;
    events.push({ type: 'entry-skipped', signal: clone(sig), reason });
  }

  /** A run stops trading: its waiting approval expires and a queued entry is dropped. */
  private dropPending(s: State, run: RunRecord, reason: string, events: EngineEvent[]): void {
    for (const sig of Object.values(s.signals))
      if (sig.runId === run.id && sig.status === 'pending') this.expire(s, sig, reason, events);
    if (run.pendingEntry) {
      const sig = s.signals[run.pendingEntry.signalId];
      if (sig) this.skip(s, sig, reason, events);
      delete run.pendingEntry;
    }
  }

  // --- the account ---

  account(s: Readonly<State>, quote: string, symbol?: string): Account {
    const cash = this.broker.cash(s as State, quote);
    const positions = Object.values(s.positions);
    let symbolNotional = 0;
    for (const p of positions) if (p.symbol === symbol) symbolNotional += p.qty * p.mark;
    const lastLossAt = symbol === undefined ? undefined : s.engine.recent?.lastLoss[symbol];
    const closedPnls = s.engine.recent?.closedPnls[quote] ?? [];
    const equity = this.equity(s, quote);
    return {
      cash,
      equity,
      dayStartEquity: s.engine.day?.equity[quote] ?? equity,
      openPositions: positions.length,
      symbolNotional,
      ...(lastLossAt !== undefined ? { lastLossAt } : {}),
      closedPnls: [...closedPnls],
      ...(s.engine.killSwitch ? { killSwitch: s.engine.killSwitch.reason } : {}),
    };
  }

  /** Paper cash plus open positions at their marks. */
  private equity(s: Readonly<State>, quote: string): number {
    return equityOf(s as State, quote, this.broker.cash(s as State, quote));
  }

  /** Quote currencies with a paper balance or a position. */
  quotes(): string[] {
    const s = this.state;
    return [
      ...new Set([
        ...(this.broker.kind === 'paper' ? Object.keys(this.o.settings.paperBalance) : []),
        ...Object.keys(s.balances),
        ...Object.values(s.positions).map((p) => p.quote),
      ]),
    ].sort();
  }

  /** Cash a quote currency started with: the paper setting, or live the exchange's at the first sync. */
  initialBalance(quote: string): number {
    if (this.broker.kind === 'live') return this.state.live.initial[quote] ?? 0;
    return this.o.settings.paperBalance[quote] ?? 0;
  }

  /** Performance over [from, to) for a quote currency. */
  performance(quote: string, from: number, to = this.o.feed.now()): Promise<PerformanceReport> {
    const s = this.state;
    return performance(s as State, this.o.store.journal, {
      quote,
      initial: this.initialBalance(quote),
      cash: this.broker.cash(s as State, quote),
      from,
      to,
      tz: this.o.settings.timezone,
    });
  }

  /** Build the daily report (the day so far, or the 24 hours ending at `at`) and announce it. */
  async sendReport(at: number, title = 'Daily report'): Promise<PerformanceReport[]> {
    const reports = await Promise.all(this.quotes().map((q) => this.performance(q, at - 86_400_000, at)));
    await this.o.store.update((s) => {
      s.engine.lastReport = at;
    });
    this.emit(reports.map((report) => ({ type: 'report' as const, report, title })));
    return reports;
  }

  /** Change risk settings (checked together first); the settings history records who did. */
  async setRisk(changes: Record<string, unknown>, by = 'unknown'): Promise<RiskSettings> {
    const parsed = parseRiskSettings({ ...this.o.settings.risk, ...this.state.settings.risk, ...changes });
    await this.o.store.update((s) => {
      // Read in the change: one made meanwhile is the old value this one replaces.
      const before = this.risk();
      s.settings.risk = { ...s.settings.risk, ...changes };
      noteSettings(s, by, editsOf('risk', Object.keys(changes), before, parsed));
    });
    return parsed;
  }

  /** Clear the kill-switch; drawdown counts from the current equity on. Runs stay stopped. */
  async resume(by: string): Promise<boolean> {
    return this.o.store.update((s) => {
      if (!s.engine.killSwitch) return false;
      delete s.engine.killSwitch;
      for (const q of this.quotes()) s.engine.peak[q] = this.equity(s, q);
      s.log.decisions.push({
        time: this.o.feed.now(),
        runId: '-',
        kind: 'resume',
        detail: `kill-switch cleared by ${by}`,
        indicators: {},
      });
      noteSettings(s, by, [{ key: 'killSwitch', old: 'on', new: 'off' }]);
      return true;
    });
  }

  /** Record where chat messages about a signal went, so later edits can reach them. */
  async noteMessages(signalId: string, refs: Array<{ chat: string; ref: string }>): Promise<void> {
    if (refs.length === 0) return;
    await this.o.store.update((s) => {
      s.signals[signalId]?.messages.push(...refs);
    });
  }

  // --- the feed ---

  async onCandle(symbol: string, timeframe: string, candle: Candle): Promise<void> {
    const ser = this.series.get(seriesKey(symbol, timeframe));
    if (ser) await this.process(ser, candle, false);
  }

  async onClock(now: number): Promise<void> {
    if (!this.o.feed.accelerated) return;
    const tz = this.o.settings.timezone;
    this.nextReportAt ??= nextTimeOfDay(
      (this.state.engine.lastReport ?? now - 1) + 1,
      tz,
      this.o.settings.reportTime,
    );
    if (now >= this.nextReportAt) {
      const at = this.nextReportAt;
      this.nextReportAt = nextTimeOfDay(at + 1, tz, this.o.settings.reportTime);
      // Only while something is being traded: stopped runs with no position left say nothing new.
      const trading =
        Object.values(this.state.runs).some((r) => r.state !== 'stopped') ||
        Object.keys(this.state.positions).length > 0;
      if (trading) await this.sendReport(at);
    }
  }

  /** Feeds report each change once (their contract), so each becomes one notice. */
  onStatus(up: boolean, detail: string, cause?: 'journal'): void {
    this.emit([{ type: 'feed', up, detail, ...(cause === 'journal' ? { journal: true } : {}) }]);
  }

  onEnd(): void {
    this.emit([
      {
        type: 'feed',
        up: false,
        detail:
          'the replay reached the end of its file; runs wait for candles. To start it over, stop bosun, delete bosun.db* in DATA_DIR (the journal of this replay: runs, trades and balances) and start it again',
      },
    ]);
  }

  /** One closed candle of a series, through every run on it, in one durable state change. */
  private async process(ser: Series, candle: Candle, catchUp: boolean): Promise<void> {
    if (candle.time <= ser.buffer.lastTime) return;
    ser.buffer.push(candle);
    const view = ser.buffer.view();
    const state = this.state;
    const runs = Object.values(state.runs).filter(
      (r) =>
        r.symbol === ser.symbol &&
        r.timeframe === ser.timeframe &&
        (r.lastBar ?? Number.NEGATIVE_INFINITY) < candle.time &&
        this.runtimes.has(r.id),
    );
    if (runs.length === 0) return;
    // Strategies run outside the state update: they are pure, and a throw pauses only their run.
    const evaluated = new Map<string, Signals | AppError>();
    for (const run of runs) {
      if (run.state !== 'active') continue;
      const rt = this.runtimes.get(run.id)!;
      try {
        const ctx = { timeframeMs: ser.tfMs, informative: informativeSeries(rt.strategy, view, ser.tfMs) };
        evaluated.set(run.id, rt.strategy.signals(view, rt.params, ctx));
      } catch (err) {
        evaluated.set(run.id, toAppError(err));
      }
    }
    const events: EngineEvent[] = [];
    const quote = quoteOf(ser.symbol);
    await this.o.store.update((s) => {
      s.log.candles.push({
        source: this.o.source ?? this.o.feed.kind,
        symbol: ser.symbol,
        timeframe: ser.timeframe,
        ...candle,
      });
      this.rollDay(s, candle.time, quote);
      for (const r of runs) {
        const run = s.runs[r.id]!;
        const result = evaluated.get(run.id);
        if (result instanceof AppError) {
          this.pause(s, run, `its strategy failed: ${result.message}`, events);
          this.o.logger.error(
            { run: run.id, err: result.cause ?? result.message },
            'strategy failed; run paused',
          );
        }
        this.step(
          s,
          run,
          this.runtimes.get(run.id)!,
          candle,
          view.length - 1,
          result instanceof AppError ? undefined : result,
          catchUp,
          events,
        );
      }
      this.mark(s, quote, candle.time + ser.tfMs, events);
      const resume = this.o.feed.resumePoint?.();
      if (resume) s.engine.replay = resume;
    });
    this.emit(events);
    this.send();
  }

  private pause(s: State, run: RunRecord, reason: string, events: EngineEvent[]): void {
    run.state = 'paused';
    run.reason = reason;
    this.dropPending(s, run, 'its run was paused', events);
    events.push({ type: 'run', run: clone(run), what: 'paused' });
  }

  private step(
    s: State,
    run: RunRecord,
    rt: Runtime,
    c: Candle,
    t: number,
    signals: Signals | undefined,
    catchUp: boolean,
    events: EngineEvent[],
  ): void {
    // 1. Orders from the previous close fill at this open: the exit, then the entry.
    let pos = this.positionOf(s, run.id);
    if (run.pendingExit !== undefined && pos && this.broker.kind === 'live') {
      this.broker.close(s, pos, run.pendingExit as ExitReason);
    } else if (run.pendingExit !== undefined && pos && this.broker.kind === 'paper') {
      const { fill, trade } = this.broker.close(
        s,
        pos,
        c.time,
        c.open,
        run.pendingExit as ExitReason,
        this.costs,
      );
      this.booked(s, run.id, trade);
      events.push({ type: 'exit', position: clone(pos), fill: clone(fill), trade: clone(trade) });
      pos = undefined;
    }
    delete run.pendingExit;
    if (run.pendingEntry && !pos && !this.busy(s, run.id)) {
      const sig = s.signals[run.pendingEntry.signalId];
      if (sig) this.fillEntry(s, run, sig, c.time, c.open, { scale: run.pendingEntry.size }, events);
      pos = this.positionOf(s, run.id);
    }
    delete run.pendingEntry;

    // 2-3. The candle against the open position, then the mark at the close.
    if (pos) {
      const before = clone(pos);
      const { fills, trade } = this.broker.applyCandle(s, pos, c, this.costs);
      fills.forEach((fill, k) =>
        events.push({
          type: 'exit',
          position: before,
          fill: clone(fill),
          ...(trade && k === fills.length - 1 ? { trade: clone(trade) } : {}),
        }),
      );
      if (trade) this.booked(s, run.id, trade);
    }
    run.lastBar = c.time;

    // 4. This close's signals decide the next open's orders.
    if (run.state !== 'active' || !signals) return;
    pos = this.positionOf(s, run.id);
    const orders = nextOrders(
      pos ? (pos.side as Side) : 0,
      pos ? pos.barsHeld : 0,
      signals.enterLong[t]!,
      signals.exitLong[t]!,
      signals.enterShort[t]!,
      signals.exitShort[t]!,
      rt.allowLong,
      rt.allowShort,
      rt.maxBars,
    );
    if (orders === 0) return;
    const indicators = this.indicatorsAt(signals, t);
    if (pos && orders & (EXIT_ON_SIGNAL | EXIT_ON_TIME)) {
      run.pendingExit = orders & EXIT_ON_SIGNAL ? 'signal' : 'time';
      s.log.decisions.push({
        time: c.time,
        runId: run.id,
        kind: `exit-${run.pendingExit}`,
        detail: `exit ${pos.id} at the next open`,
        indicators,
      });
    }
    if (orders & (ENTER_LONG | ENTER_SHORT)) {
      const side: Side = orders & ENTER_LONG ? 1 : -1;
      this.entrySignal(s, run, rt, c, signals, t, side, indicators, catchUp, events);
    }
  }

  private indicatorsAt(signals: Signals, t: number): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const [k, a] of Object.entries(signals.indicators)) out[k] = num(a[t]);
    return out;
  }

  /** An entry signal at this close: priced and sized by the risk manager, then queued or put to people. */
  private entrySignal(
    s: State,
    run: RunRecord,
    rt: Runtime,
    c: Candle,
    signals: Signals,
    t: number,
    side: Side,
    indicators: Record<string, number | null>,
    catchUp: boolean,
    events: EngineEvent[],
  ): void {
    const signalStop = signals.stop?.[t] ?? Number.NaN;
    const signalTarget = signals.target?.[t] ?? Number.NaN;
    const stop = initialStop(side, c.close, rt.rules, signalStop);
    const targets = this.targets(rt.rules, side, c.close, signalTarget);
    // Sized as the fill will be: a market order at this close, slipped, with the stop it would get.
    const plan = planEntry(side, c.close, rt.rules, this.costs, signalStop);
    const planTargets = this.targets(rt.rules, side, plan.price, signalTarget);
    const verdict = evaluate(
      withStrategyRisk(this.risk(), rt.strategy.risk),
      this.account(s, quoteOf(run.symbol), run.symbol),
      {
        side,
        price: plan.price,
        stop: plan.stop,
        target: planTargets[planTargets.length - 1] ?? Number.NaN,
        fee: this.costs.fee,
        slippage: this.costs.slippage,
        now: c.time + rt.tfMs,
      },
    );
    const id = `S${s.engine.nextId++}`;
    const confidence = signals.confidence?.[t];
    const regime = verdict.ok
      ? this.o.regimeGate?.(
          side === 1 ? 'long' : 'short',
          confidence === undefined || Number.isNaN(confidence) ? 1 : confidence,
        )
      : undefined;
    // The regime scales the size, and so the amount at risk with it.
    if (verdict.ok && regime?.ok) {
      verdict.quantity *= regime.factor;
      verdict.risk *= regime.factor;
    }
    const sized = verdict.ok && regime?.ok !== false;
    const refused = !verdict.ok
      ? verdict.reason
      : regime && !regime.ok
        ? regime.reason
        : catchUp
          ? 'stale: it came while bosun was not running'
          : undefined;
    const sig: SignalRecord = {
      id,
      runId: run.id,
      symbol: run.symbol,
      timeframe: run.timeframe,
      strategy: run.strategy,
      side: side === 1 ? 'long' : 'short',
      barTime: c.time,
      createdAt: this.wall(),
      price: c.close,
      signalStop: num(signalStop),
      signalTarget: num(signalTarget),
      stop: num(stop),
      targets,
      // A signal the risk rules or the regime refuse has no size.
      quantity: sized ? verdict.quantity : 0,
      risk: sized && !Number.isNaN(verdict.risk) ? verdict.risk : 0,
      rewardRisk: verdict.ok ? num(verdict.rewardRisk) : null,
      status: refused !== undefined ? 'refused' : run.approve === 'auto' ? 'approved' : 'pending',
      ...(refused !== undefined ? { reason: refused } : {}),
      messages: [],
      indicators,
      ...(signals.notes?.[t] ? { note: signals.notes[t] } : {}),
      ...(regime?.ok ? { regime: `${regime.state} x${+regime.factor.toFixed(3)}` } : {}),
    };
    if (refused === undefined && run.approve === 'auto') {
      sig.decidedBy = 'auto';
      sig.size = 1;
      // The next open sizes again at its own price, like the backtest, times the regime's factor.
      run.pendingEntry = { signalId: id, size: regime?.ok ? regime.factor : 1 };
    }
    if (refused === undefined && run.approve === 'manual') {
      // A newer signal replaces one still waiting.
      for (const old of Object.values(s.signals))
        if (old.runId === run.id && old.status === 'pending')
          this.expire(s, old, `replaced by ${id}`, events);
      sig.expiresAt = this.wall() + this.o.settings.approvalTimeoutMs;
    }
    s.signals[id] = sig;
    this.pruneSignals(s);
    run.lastSignal = { id, time: c.time, side: sig.side, status: sig.status };
    s.log.decisions.push({
      time: c.time,
      runId: run.id,
      kind: 'entry-signal',
      detail: refused ?? `${sig.side} ${sig.status}`,
      signalId: id,
      indicators,
    });
    events.push({ type: 'signal', signal: clone(sig), run: clone(run) });
    if (sig.status === 'pending') queueMicrotask(() => this.arm(sig));
  }

  private pruneSignals(s: State): void {
    const ids = Object.keys(s.signals);
    if (ids.length <= RECENT_SIGNALS) return;
    const inPlay = new Set<string>();
    for (const run of Object.values(s.runs)) if (run.pendingEntry) inPlay.add(run.pendingEntry.signalId);
    for (const o of Object.values(s.orders)) if (o.signalId) inPlay.add(o.signalId);
    for (const id of ids.slice(0, ids.length - RECENT_SIGNALS))
      if (s.signals[id]!.status !== 'pending' && !inPlay.has(id)) delete s.signals[id];
  }

  private targets(rules: ExitRules, side: Side, price: number, signalTarget: number): number[] {
    if (!Number.isNaN(signalTarget)) return [signalTarget];
    return (rules.takeProfit ?? []).map((l) => offsetPrice(price, side * l.at));
  }

  /**
   * Open the position for an approved signal at `price` (the next open, or the latest price). The
   * size is either the approved `quantity` (checked again by the risk rules), or the risk rules'
   * size at the fill price times `scale` (an auto-approved entry at the next open: the regime's
   * factor), which is the announced quantity when the open is the price the signal was sized at.
   */
  private fillEntry(
    s: State,
    run: RunRecord,
    sig: SignalRecord,
    time: number,
    price: number,
    order: { scale: number } | { quantity: number },
    events: EngineEvent[],
  ): boolean {
    const rt = this.runtimes.get(run.id);
    if (!rt) {
      this.skip(s, sig, 'its strategy is not loaded', events);
      return false;
    }
    if (this.positionOf(s, run.id) || this.busy(s, run.id)) {
      this.skip(s, sig, 'its run already holds a position', events);
      return false;
    }
    const side: Side = sig.side === 'long' ? 1 : -1;
    const signalTarget = sig.signalTarget ?? Number.NaN;
    const result = this.broker.enter(s, {
      positionId: `P${s.engine.nextId++}`,
      runId: run.id,
      signalId: sig.id,
      symbol: run.symbol,
      side,
      time,
      price,
      rules: rt.rules,
      costs: this.costs,
      signalStop: sig.signalStop ?? Number.NaN,
      signalTarget,
      size: (fillPrice, stop) => {
        const targets = this.targets(rt.rules, side, fillPrice, signalTarget);
        const v = evaluate(
          withStrategyRisk(this.risk(), rt.strategy.risk),
          this.account(s, quoteOf(run.symbol), run.symbol),
          {
            side,
            price: fillPrice,
            stop,
            target: targets[targets.length - 1] ?? Number.NaN,
            fee: this.costs.fee,
            slippage: this.costs.slippage,
            now: time,
            ...('quantity' in order ? { quantity: order.quantity } : {}),
          },
        );
        if (!v.ok) return { refused: v.reason };
        return { quantity: 'quantity' in order ? v.quantity : v.quantity * order.scale };
      },
    });
    if ('refused' in result) {
      this.skip(s, sig, result.refused, events);
      return false;
    }
    if ('ordered' in result) {
      // Live: the order goes out after this write; the fill becomes the position.
      markSignal(s, sig, 'ordered');
      return true;
    }
    markSignal(s, sig, 'filled');
    events.push({ type: 'entry', position: clone(result.position), signal: clone(sig) });
    return true;
  }

  /** A live entry order of the run still working. */
  private busy(s: Readonly<State>, runId: string): boolean {
    return this.broker.kind === 'live' && this.broker.busy(s, runId);
  }

  private positionOf(s: State, runId: string): PositionRecord | undefined {
    for (const p of Object.values(s.positions)) if (p.runId === runId) return p;
    return undefined;
  }

  private booked(s: State, runId: string, trade: TradeRecord): void {
    const run = s.runs[runId];
    if (run) {
      run.realizedPnl += trade.pnl;
      run.trades++;
    }
  }

  /** A new local day: remember each account's value at its start (daily loss limit). */
  private rollDay(s: State, time: number, quote: string): void {
    const day = startOfDay(time, this.o.settings.timezone);
    if (s.engine.day?.start !== day) s.engine.day = { start: day, equity: {} };
    s.engine.day.equity[quote] ??= this.equity(s, quote);
  }

  /** Equity snapshot after a candle, and the drawdown kill-switch. */
  private mark(s: State, quote: string, time: number, events: EngineEvent[]): void {
    const equity = this.equity(s, quote);
    s.log.equity.push({ time, quote, equity });
    const peak = Math.max(s.engine.peak[quote] ?? this.initialBalance(quote), equity);
    s.engine.peak[quote] = peak;
    const limit = this.risk().maxDrawdown;
    if (!s.engine.killSwitch && peak > 0 && (peak - equity) / peak >= limit) {
      const reason = `${quote} equity ${equity.toFixed(2)} is ${(((peak - equity) / peak) * 100).toFixed(2)}% below its peak ${peak.toFixed(2)} (limit ${(limit * 100).toFixed(2)}%)`;
      s.engine.killSwitch = { at: time, reason };
      for (const run of Object.values(s.runs)) {
        if (run.state === 'stopped') continue;
        run.state = 'stopped';
        run.reason = 'kill-switch';
        this.dropPending(s, run, 'the kill-switch stopped its run', events);
      }
      s.log.decisions.push({ time, runId: '-', kind: 'kill-switch', detail: reason, indicators: {} });
      events.push({ type: 'kill-switch', reason });
    }
  }
}
