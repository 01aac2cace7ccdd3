/**
 * The small state changes every job makes to runs and signals (inside a store update, events
 * collected for after the write): a signal expires or is skipped, a run pauses or stops and what it
 * had waiting goes with it.
 */
import { markSignal, type RunRecord, type SignalRecord, type State } from '../store/state.js';
import { clone } from './context.js';
import type { EngineEvent } from './events.js';

/** A waiting approval ends unanswered (its time is up, its run stopped, a newer signal came). */
export function expireSignal(
  s: State,
  sig: SignalRecord,
  reason: string,
  now: number,
  events: EngineEvent[],
): void {
  markSignal(s, sig, 'expired');
  sig.reason = reason;
  sig.decidedAt = now;
  events.push({ type: 'decided', signal: clone(sig) });
}

/** An approved entry that was not made, and why. */
export function skipSignal(s: State, sig: SignalRecord, reason: string, events: EngineEvent[]): void {
  markSignal(s, sig, 'skipped');
  sig.reason = reason;
  events.push({ type: 'entry-skipped', signal: clone(sig), reason });
}

/** A run stops trading: its waiting approval expires and a queued entry is dropped. */
export function dropPending(
  s: State,
  run: RunRecord,
  reason: string,
  now: number,
  events: EngineEvent[],
): void {
  for (const sig of Object.values(s.signals))
    if (sig.runId === run.id && sig.status === 'pending') expireSignal(s, sig, reason, now, events);
  if (run.pendingEntry) {
    const sig = s.signals[run.pendingEntry.signalId];
    if (sig) skipSignal(s, sig, reason, events);
    delete run.pendingEntry;
  }
}

/** A run pauses (its strategy failed, it cannot resume); its positions keep their exits. */
export function pauseRun(s: State, run: RunRecord, reason: string, now: number, events: EngineEvent[]): void {
  run.state = 'paused';
  run.reason = reason;
  dropPending(s, run, 'its run was paused', now, events);
  events.push({ type: 'run', run: clone(run), what: 'paused' });
}

/** Stop every run not stopped yet (a panic, the kill-switch); how many. */
export function stopAllRuns(
  s: State,
  reason: string,
  dropped: string,
  now: number,
  events: EngineEvent[],
): number {
  let n = 0;
  for (const run of Object.values(s.runs)) {
    if (run.state === 'stopped') continue;
    run.state = 'stopped';
    run.reason = reason;
    dropPending(s, run, dropped, now, events);
    n++;
  }
  return n;
}
