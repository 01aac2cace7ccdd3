/**
 * One closed candle through one run: the engine's per-bar step, in the order the backtester keeps
 * (`backtest/simulate.ts`), with the same fill functions, so a replay with auto approval trades
 * exactly like a backtest on the same candles:
 *   1. orders decided at the previous close fill at this candle's open: exits, then entries;
 *   2. the candle meets the open position (gaps, stop before targets, trailing stop);
 *   3. the position is marked at the close (the account's equity follows, per series);
 *   4. the strategy's signals at this close decide the orders for the next open; an entry first
 *      passes the risk manager, then waits for approval (manual) or is queued at once (auto).
 * It changes the state document inside the engine's store update and collects events; it reads no
 * clock but the candle's and waits for nothing.
 */
import {
  ENTER_LONG,
  ENTER_SHORT,
  EXIT_ON_SIGNAL,
  EXIT_ON_TIME,
  type ExitReason,
  nextOrders,
  type Side,
} from '../backtest/fills.js';
import { AppError } from '../errors.js';
import { quoteOf } from '../market/symbol.js';
import type { Candle } from '../market/types.js';
import type { Signals } from '../strategy/define.js';
import type { PositionRecord, RunRecord, State } from '../store/state.js';
import type { BarPrices } from './broker.js';
import { fallSince, metUpTo } from './guard.js';
import { clone, num, type Runtime } from './context.js';
import { type EntryContext, entrySignal, fillEntry } from './entries.js';
import type { EngineEvent } from './events.js';
import type { Accounts } from './account.js';
import { positionOf } from './positions.js';
import { pauseRun } from './run-state.js';

export interface Bar {
  run: RunRecord;
  rt: Runtime;
  candle: Candle;
  /** The candle's index in the signals. */
  t: number;
  /** The strategy's signals up to this candle; undefined when the run is not active or it failed. */
  signals: Signals | undefined;
  /** The candle closed while bosun was not running: entries are recorded, not traded. */
  catchUp: boolean;
}

/** One closed candle of a series with the runs on it: the strategies' results, already computed. */
export interface SeriesBar {
  symbol: string;
  timeframe: string;
  tfMs: number;
  candle: Candle;
  /** The candle's index in the signals. */
  t: number;
  runs: Array<{ run: RunRecord; rt: Runtime; result: Signals | AppError | undefined }>;
  catchUp: boolean;
  /** What the journal tags the candle with (an exchange id, `replay`, `backtest`). */
  source: string;
}

/** What a series' candle needs besides the entries': the account's day and marks. */
export type SeriesContext = EntryContext & { accounts: Pick<Accounts, 'rollDay' | 'mark'> };

/**
 * One closed candle through every run on its series, in one state change: the candle kept, the
 * day rolled, each run stepped (a run whose strategy failed is paused first, its position still
 * meeting the candle), then the account marked at the close (equity, the kill-switch). The engine
 * and an engine-rules backtest both go through here.
 */
export function stepSeries(s: State, c: SeriesContext, bar: SeriesBar, events: EngineEvent[]): void {
  const { candle } = bar;
  const quote = quoteOf(bar.symbol);
  s.log.candles.push({ source: bar.source, symbol: bar.symbol, timeframe: bar.timeframe, ...candle });
  c.accounts.rollDay(s, candle.time, quote);
  for (const { run, rt, result } of bar.runs) {
    if (result instanceof AppError)
      pauseRun(s, run, `its strategy failed: ${result.message}`, c.wall(), events);
    const signals = result instanceof AppError ? undefined : result;
    step(s, c, { run, rt, candle, t: bar.t, signals, catchUp: bar.catchUp }, events);
  }
  c.accounts.mark(s, quote, candle.time + bar.tfMs, events);
}

export function step(s: State, c: EntryContext, bar: Bar, events: EngineEvent[]): void {
  const { run, candle } = bar;
  // 1. Orders from the previous close fill at this open (unless the stream filled them as it opened).
  const pos = fillPending(s, c, run, candle, events);

  // 2-3. The candle (what the stream has not shown it of it) against the open position, then the mark
  // at the close.
  if (pos) meet(s, c, pos, c.unmet ? c.unmet(pos, candle) : candle, true, events);
  run.lastBar = candle.time;

  // 4. This close's signals decide the next open's orders.
  if (run.state !== 'active' || !bar.signals) return;
  decide(s, c, bar, events);
}

/**
 * The orders a run's previous close decided, filled at `candle`'s open: the exit, then the entry.
 * The open position after them.
 */
export function fillPending(
  s: State,
  c: EntryContext,
  run: RunRecord,
  candle: Candle,
  events: EngineEvent[],
): PositionRecord | undefined {
  let pos = positionOf(s, run.id);
  if (run.pendingExit !== undefined && pos) {
    const reason = run.pendingExit as ExitReason;
    const closed = c.broker.close(s, pos, { time: candle.time, price: candle.open, reason, costs: c.costs });
    if (closed.kind === 'filled') {
      events.push({
        type: 'exit',
        position: clone(pos),
        fill: clone(closed.fill),
        trade: clone(closed.trade),
      });
      pos = undefined;
    }
  }
  delete run.pendingExit;
  if (run.pendingEntry && !pos && !c.broker.busy(s, run.id)) {
    const sig = s.signals[run.pendingEntry.signalId];
    const at = { time: candle.time, price: candle.open };
    if (sig) fillEntry(s, c, run, sig, at, { scale: run.pendingEntry.size }, events);
    pos = positionOf(s, run.id);
  }
  delete run.pendingEntry;
  return pos;
}

/**
 * Prices against an open position: a closed candle (`closes`: a bar held, and its close the mark),
 * or the stretch of a forming one the stream showed. Its exits become events.
 */
export function meet(
  s: State,
  c: Pick<EntryContext, 'broker' | 'costs'>,
  pos: PositionRecord,
  prices: BarPrices,
  closes: boolean,
  events: EngineEvent[],
): void {
  const before = clone(pos);
  const { fills, trade, adds } = c.broker.applyCandle(s, pos, prices, c.costs, closes);
  // Adds come before the exits of the same prices (the fall came first).
  if (adds?.length) {
    const first = (pos.adds?.fills.length ?? adds.length) - adds.length;
    adds.forEach((fill, k) =>
      events.push({ type: 'add', position: clone(pos), fill: clone(fill), n: first + k }),
    );
  }
  fills.forEach((fill, k) =>
    events.push({
      type: 'exit',
      position: before,
      fill: clone(fill),
      ...(trade && k === fills.length - 1 ? { trade: clone(trade) } : {}),
    }),
  );
}

/**
 * Prices the stream showed of a forming candle against a position (`part`: what it has not met of
 * `candle`), as the broker can take them: nothing, a wait (a sell in flight), or its exits, the
 * trailing stop moved, and the mark of how far it has met the candle written with them.
 */
export function meetStreamed(
  s: State,
  c: Pick<EntryContext, 'broker' | 'costs'>,
  pos: PositionRecord,
  part: BarPrices,
  candle: Candle,
  events: EngineEvent[],
): 'act' | 'none' | 'wait' {
  const reach = c.broker.reach(pos, part, c.costs);
  if (reach !== 'act') return reach;
  const trail = pos.trailStop;
  meet(s, c, pos, part, false, events);
  // A trailing stop the part raised, with the price already back under it: the fall from the best
  // price to the latest (the last of the part's path) crossed it after it was raised.
  if (s.positions[pos.id] && pos.trailStop !== trail)
    meet(s, c, pos, fallSince(pos.side, part), false, events);
  const left = s.positions[pos.id];
  if (left) left.met = metUpTo(candle);
  return reach;
}

function decide(s: State, c: EntryContext, bar: Bar, events: EngineEvent[]): void {
  const { run, rt, candle, t } = bar;
  const signals = bar.signals!;
  const pos = positionOf(s, run.id);
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
  const indicators = indicatorsAt(signals, t);
  if (pos && orders & (EXIT_ON_SIGNAL | EXIT_ON_TIME)) {
    run.pendingExit = orders & EXIT_ON_SIGNAL ? 'signal' : 'time';
    s.log.decisions.push({
      time: candle.time,
      runId: run.id,
      kind: `exit-${run.pendingExit}`,
      detail: `exit ${pos.id} at the next open`,
      indicators,
    });
  }
  if (orders & (ENTER_LONG | ENTER_SHORT)) {
    const side: Side = orders & ENTER_LONG ? 1 : -1;
    entrySignal(s, c, { run, rt, candle, signals, t, side, indicators, catchUp: bar.catchUp }, events);
  }
}

/** The strategy's indicator values at one candle, for the decision record. */
function indicatorsAt(signals: Signals, t: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [k, a] of Object.entries(signals.indicators)) out[k] = num(a[t]);
  return out;
}
