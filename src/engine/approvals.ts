/**
 * Approvals: a signal of a manual run waits for a person's answer (approve, half size, reject) until
 * its time is up. The first valid answer wins; later ones change nothing. An approval fills at once
 * at the feed's latest price (a person decided between candles). Each waiting signal has a timer
 * that expires it, set again after a restart.
 */
import { AppError, toAppError } from '../errors.js';
import type { SignalRecord } from '../store/state.js';
import { clone, type EngineContext } from './context.js';
import { type EntryContext, fillEntry } from './entries.js';
import type { EngineEvent } from './events.js';
import { expireSignal, skipSignal } from './run-state.js';

export type Decision = 'approve' | 'half' | 'reject';

export class Approvals {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly c: EngineContext & EntryContext) {}

  /** Approvals waiting from before a restart: expired if their time is up, else their timers set. */
  async resume(): Promise<void> {
    const expired: EngineEvent[] = [];
    await this.c.store.update((st) => {
      for (const sig of Object.values(st.signals))
        if (sig.status === 'pending' && (sig.expiresAt ?? 0) <= this.c.wall())
          expireSignal(st, sig, 'expired', this.c.wall(), expired);
    });
    this.c.emit(expired);
    for (const sig of Object.values(this.c.store.data.signals)) if (sig.status === 'pending') this.arm(sig);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Follow what a change announced: a new waiting signal gets its timer, a decided one loses it. */
  track(events: readonly EngineEvent[]): void {
    for (const e of events) {
      if (e.type === 'signal' && e.signal.status === 'pending') this.arm(e.signal);
      else if (e.type === 'decided') this.disarm(e.signal.id);
    }
  }

  /** A person's answer to a pending signal. */
  async decide(signalId: string, action: Decision, by: string): Promise<{ ok: boolean; message: string }> {
    const id = signalId.toUpperCase();
    const known = this.c.store.data.signals[id];
    if (!known) throw new AppError('NOT_FOUND', `no signal ${signalId}`);
    // A trade by hand is its asker's to confirm or cancel.
    if (known.manual && known.manual.by !== by)
      return {
        ok: false,
        message: `${id} is ${known.manual.by}'s trade by hand; only they confirm or cancel it.`,
      };
    let price = Number.NaN;
    if (action !== 'reject' && known.status === 'pending') price = await this.c.feed.price(known.symbol);
    const events: EngineEvent[] = [];
    const result = await this.c.store.update((s) => {
      const sig = s.signals[id]!;
      if (sig.status !== 'pending')
        return {
          ok: false,
          message: `Signal ${id} was already ${sig.status === 'filled' ? 'approved' : sig.status}${sig.decidedBy ? ` by ${sig.decidedBy}` : ''}; nothing was done.`,
        };
      if ((sig.expiresAt ?? 0) <= this.c.wall()) {
        expireSignal(s, sig, 'expired', this.c.wall(), events);
        return { ok: false, message: `Signal ${id} has expired; nothing was done.` };
      }
      sig.decidedBy = by;
      sig.decidedAt = this.c.wall();
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
        skipSignal(s, sig, 'its run is no longer active', events);
        return {
          ok: true,
          message: `Signal ${id} approved, but its run is no longer active: nothing was bought.`,
        };
      }
      // A person approved the quantity the signal showed: that (or half of it) is what fills.
      const at = { time: this.c.feed.now(), price };
      const filled = fillEntry(s, this.c, run, sig, at, { quantity: sig.quantity * sig.size }, events);
      return {
        ok: true,
        message: filled
          ? `Signal ${id} approved${action === 'half' ? ' at half size' : ''}.`
          : `Signal ${id} approved, but the entry was skipped: ${sig.reason}.`,
      };
    });
    this.disarm(id);
    this.c.emit(events);
    this.c.broker.flush();
    return result;
  }

  private arm(sig: SignalRecord): void {
    this.disarm(sig.id);
    const delay = Math.max(0, (sig.expiresAt ?? 0) - this.c.wall());
    const timer = setTimeout(
      () => {
        this.timers.delete(sig.id);
        const events: EngineEvent[] = [];
        void this.c.store
          .update((s) => {
            const cur = s.signals[sig.id];
            if (cur?.status === 'pending') expireSignal(s, cur, 'expired', this.c.wall(), events);
          })
          .then(() => this.c.emit(events))
          .catch((err: unknown) =>
            this.c.logger.error({ err: toAppError(err).message }, 'could not expire a signal'),
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
}
