/**
 * An exit alert: the position closes at the next open, and an entry still waiting (queued for the
 * next open, or for a person's answer) is called off. One line on what it did.
 */
function exitRun(s: State, c: EngineContext, id: string, by: string, events: EngineEvent[]): string {
  const run = s.runs[id]!;
  const done: string[] = [];
  const pos = positionOf(s, id);
  if (run.pendingEntry) {
    const sig = s.signals[run.pendingEntry.signalId];
    if (sig) {
      skipSignal(s, sig, `called off by an exit alert from ${by}`, events);
      done.push(`${sig.id} called off`);
    }
    delete run.pendingEntry;
  }
  for (const sig of Object.values(s.signals))
    if (sig.runId === id && sig.status === 'pending') {
      expireSignal(s, sig, `withdrawn by an exit alert from ${by}`, c.wall(), events);
      done.push(`${sig.id} withdrawn`);
    }
  if (pos) {
    run.pendingExit = 'signal';
    done.push(`${pos.id} exits at the next open`);
  }
  if (done.length === 0) throw badInput(`run ${id} has no open position or waiting entry to exit`);
  s.log.decisions.push({
    time: c.feed.now(),
    runId: id,
    kind: 'exit-signal',
    detail: `${done.join(', ')}: alert from ${by}`,
    indicators: {},
  });
  return done.join('; ');
}

/**
 * Alerts from outside (a TradingView alert through `POST /hooks/signal/...`): a long, a short or an
 * exit for a named run, taken like the run's own signals. An entry is priced at the feed's latest
 * price as if a candle closed now, passes the risk manager and the regime, then waits for a person
 * (approve=manual: the signal with its buttons in the chats) or is queued for the next open of the
 * run's timeframe (approve=auto), exactly as `entries.ts` takes a strategy's signal. An exit closes
 * the run's position at the next open, as a strategy's exit signal does, and calls off an entry
 * still waiting; after it, the other side may be entered at the same open (a reversal).
 */
import type { Side } from '../backtest/fills.js';
import { AppError, badInput } from '../errors.js';
import type { Candle } from '../market/types.js';
import type { SignalRecord, State } from '../store/state.js';
import { emptySignals } from '../strategy/define.js';
import { clone, type EngineContext } from './context.js';
import { type EntryContext, entrySignal, type ManualAsk } from './entries.js';
import type { EngineEvent } from './events.js';
import { positionOf } from './positions.js';
import { expireSignal, skipSignal } from './run-state.js';

export interface Alert {
  /** The run it is for, e.g. R3. */
  run: string;
  action: 'long' | 'short' | 'exit';
  /** Absolute stop and target prices (none: the run's exit rules). */
  stop?: number | undefined;
  target?: number | undefined;
  /** The alert's own words, kept with the signal. */
  note?: string | undefined;
}

export interface AlertOutcome {
  /** The signal it made (entries): its status says approved, pending or refused, and why. */
  signal?: SignalRecord;
  /** One line on what happened. */
  detail: string;
}

export async function takeAlert(
  c: EngineContext & EntryContext,
  a: Alert,
  by: string,
): Promise<{ outcome: AlertOutcome; events: EngineEvent[] }> {
  const id = a.run.toUpperCase();
  const known = c.store.data.runs[id];
  if (!known) {
    const runs = Object.keys(c.store.data.runs);
    throw new AppError(
      'NOT_FOUND',
      `no run ${id}; ${runs.length ? `runs: ${runs.join(', ')}` : 'no run yet'}`,
    );
  }
  const rt = c.runtimes.get(id);
  if (known.state !== 'active' || !rt)
    throw badInput(`run ${id} is ${known.state}; allowed: an active run (/start one)`);
  const events: EngineEvent[] = [];
  if (a.action === 'exit') {
    const detail = await c.store.update((s) => exitRun(s, c, id, by, events));
    return { outcome: { detail }, events };
  }
  const side: Side = a.action === 'long' ? 1 : -1;
  const note = `alert from ${by}${a.note ? `: ${a.note}` : ''}`;
  const signal = await entryNow(c, id, side, { stop: a.stop, target: a.target, note }, events);
  const detail =
    signal.status === 'refused'
      ? `signal ${signal.id} refused: ${signal.reason}`
      : signal.status === 'pending'
        ? `signal ${signal.id} waits for approval in the chats`
        : `signal ${signal.id} approved: it fills at the next open`;
  return { outcome: { signal, detail }, events };
}

/** What an entry taken now may carry beyond its run's rules. */
export interface EntryNow {
  /** Absolute stop and target prices (none: the run's exit rules). */
  stop?: number | undefined;
  target?: number | undefined;
  /** A person's trade: the size and ladder asked for, always confirmed by them. */
  manual?: ManualAsk;
  note: string;
}

/**
 * An entry for run `id` now, as if its last candle closed at the latest price: a signal like its
 * strategy's own, sized by the risk manager and the regime, then queued or put to people. The stop
 * and the targets must be on their side of that price.
 */
export async function entryNow(
  c: EngineContext & EntryContext,
  id: string,
  side: Side,
  o: EntryNow,
  events: EngineEvent[],
): Promise<SignalRecord> {
  const known = c.store.data.runs[id]!;
  const rt = c.runtimes.get(id)!;
  const sideName = side === 1 ? 'long' : 'short';
  if ((side === 1 && !rt.allowLong) || (side === -1 && !rt.allowShort))
    throw badInput(
      `run ${id} (${known.strategy}) does not trade ${sideName}s; allowed: ${rt.allowLong ? 'long' : 'short'}`,
    );
  const price = await c.feed.price(known.symbol);
  for (const [what, level] of [
    ['stop', o.stop],
    ['target', o.target],
    ...(o.manual?.targets ?? []).map((t) => ['target', t] as const),
  ] as const)
    if (level !== undefined && side * (what === 'stop' ? price - level : level - price) <= 0)
      throw badInput(
        `the ${what} ${level} is on the wrong side of the price ${price}; allowed: a ${what} ${(what === 'stop') === (side === 1) ? 'below' : 'above'} it`,
      );
  // As if the run's last candle closed at the latest price: its signal, sized and decided.
  const last = Math.floor(c.feed.now() / rt.tfMs) * rt.tfMs - rt.tfMs;
  const candle: Candle = { time: last, open: price, high: price, low: price, close: price, volume: 0 };
  const signals = emptySignals(1, true);
  signals.stop![0] = o.stop ?? Number.NaN;
  signals.target![0] = o.target ?? Number.NaN;
  const note = o.note;
  return c.store.update((s) => {
    const run = s.runs[id]!;
    // Checked in the change itself: a fill or another alert may have come since.
    if (run.state !== 'active') throw badInput(`run ${id} is ${run.state}; allowed: an active run`);
    const held = positionOf(s, id);
    // An exit already on its way may be followed by the other entry, as a strategy's reversal is.
    if (held && run.pendingExit === undefined)
      throw badInput(`run ${id} already holds ${held.id}; send an exit first`);
    if (run.pendingEntry)
      throw badInput(
        `run ${id} already has ${run.pendingEntry.signalId} waiting for the next open; send an exit to cancel it`,
      );
    if (c.broker.busy(s, id))
      throw badInput(`run ${id} has an entry order working on the exchange; wait for it`);
    entrySignal(
      s,
      c,
      {
        run,
        rt,
        candle,
        signals: { ...signals, notes: [note] },
        t: 0,
        side,
        indicators: {},
        catchUp: false,
        ...(o.manual ? { manual: o.manual } : {}),
      },
      events,
    );
    return clone(s.signals[run.lastSignal!.id]!);
  });
}
