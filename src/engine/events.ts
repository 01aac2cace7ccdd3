/**
 * What the engine tells its listeners (the chats' notifier, tests): each event is announced after
 * the change it describes is in the journal. The engine never formats a message; the chats decide
 * who hears what and how it reads.
 */
import type { EntryFill, ExitFill } from '../backtest/fills.js';
import type { OrderRecord, PositionRecord, RunRecord, SignalRecord, TradeRecord } from '../store/state.js';
import type { PerformanceReport } from './report.js';

export type EngineEvent =
  | { type: 'signal'; signal: SignalRecord; run: RunRecord }
  | { type: 'decided'; signal: SignalRecord }
  | { type: 'entry'; position: PositionRecord; signal: SignalRecord }
  | { type: 'entry-skipped'; signal: SignalRecord; reason: string }
  | { type: 'exit'; position: PositionRecord; fill: ExitFill; trade?: TradeRecord }
  /** An add of an entry ladder or DCA filled: the position after it (its average, stop, targets). */
  | { type: 'add'; position: PositionRecord; fill: EntryFill; n: number }
  | { type: 'run'; run: RunRecord; what: 'paused' | 'stopped' }
  | { type: 'kill-switch'; reason: string }
  /**
   * The feed down or back; `stream`: only its stream (candles come by polling meanwhile); `ended`: a
   * replay reached the end of its file.
   */
  | { type: 'feed'; up: boolean; detail: string; journal?: boolean; stream?: boolean; ended?: boolean }
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
  | { type: 'mode'; mode: 'paper' | 'live'; detail: string };

/** Where events go: each change's events, in order, once it is stored. */
export type Emit = (events: EngineEvent[]) => void;

/** A set of listeners; one that throws is logged and the others still hear the event. */
export class Emitter<E extends { type: string }> {
  private readonly listeners = new Set<(e: E) => void>();

  constructor(private readonly onError: (err: unknown, e: E) => void) {}

  on(listener: (e: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(events: readonly E[]): void {
    for (const e of events)
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.onError(err, e);
        }
      }
  }
}
