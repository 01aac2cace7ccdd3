/**
 * Alerts from outside (a TradingView alert through `POST /hooks/signal/...`): a long, a short or an
 * exit for a named run, taken like the run's own signals. An entry is priced at the feed's latest
 * price as if a candle closed now, passes the risk manager and the regime, then waits for a person
 * (approve=manual: the signal with its buttons in the chats) or is queued for the next open
 * (approve=auto), exactly as `entries.ts` takes a strategy's signal. An exit closes the run's
 * position at the next open, as a strategy's exit signal does.
 */
import type { Side } from '../backtest/fills.js';
import { AppError, badInput } from '../errors.js';
import type { Candle } from '../market/types.js';
import type { SignalRecord } from '../store/state.js';
import { emptySignals } from '../strategy/define.js';
import { clone, type EngineContext } from './context.js';
import { type EntryContext, entrySignal } from './entries.js';
import type { EngineEvent } from './events.js';
import { positionOf } from './positions.js';

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
    const detail = await c.store.update((s) => {
      const run = s.runs[id]!;
      const pos = positionOf(s, id);
      if (!pos) throw badInput(`run ${id} has no open position to exit`);
      run.pendingExit = 'signal';
      s.log.decisions.push({
        time: c.feed.now(),
        runId: id,
        kind: 'exit-signal',
        detail: `exit ${pos.id} at the next open: alert from ${by}`,
        indicators: {},
      });
      return `${pos.id} exits at the next open`;
    });
    return { outcome: { detail }, events };
  }
  const side: Side = a.action === 'long' ? 1 : -1;
  if ((side === 1 && !rt.allowLong) || (side === -1 && !rt.allowShort))
    throw badInput(
      `run ${id} (${known.strategy}) does not trade ${a.action}s; allowed: ${rt.allowLong ? 'long' : 'short'}`,
    );
  const held = positionOf(c.store.data, id);
  if (held) throw badInput(`run ${id} already holds ${held.id}; send an exit first`);
  const price = await c.feed.price(known.symbol);
  for (const [what, level] of [
    ['stop', a.stop],
    ['target', a.target],
  ] as const)
    if (level !== undefined && side * (what === 'stop' ? price - level : level - price) <= 0)
      throw badInput(
        `the ${what} ${level} is on the wrong side of the price ${price}; allowed: a ${what} ${(what === 'stop') === (side === 1) ? 'below' : 'above'} it`,
      );
  // As if a candle of the run closed now at the latest price: its signal, sized and decided.
  const now = c.feed.now();
  const candle: Candle = {
    time: now - rt.tfMs,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: 0,
  };
  const signals = emptySignals(1, true);
  signals.stop![0] = a.stop ?? Number.NaN;
  signals.target![0] = a.target ?? Number.NaN;
  const note = `alert from ${by}${a.note ? `: ${a.note}` : ''}`;
  const signal = await c.store.update((s) => {
    const run = s.runs[id]!;
    entrySignal(
      s,
      c,
      { run, rt, candle, signals: { ...signals, notes: [note] }, t: 0, side, indicators: {}, catchUp: false },
      events,
    );
    return clone(s.signals[run.lastSignal!.id]!);
  });
  const detail =
    signal.status === 'refused'
      ? `signal ${signal.id} refused: ${signal.reason}`
      : signal.status === 'pending'
        ? `signal ${signal.id} waits for approval in the chats`
        : `signal ${signal.id} approved: it fills at the next open`;
  return { outcome: { signal, detail }, events };
}
