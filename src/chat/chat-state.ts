/**
 * What the chats keep in the journal of the book trading now: where each signal's message went (so
 * a decision or an expiry can edit every copy, after a restart too) and every notice sent.
 */
import type { SignalRecord, StateStore } from '../store/state.js';

export interface MessageRef {
  /** `platform:chatId`. */
  chat: string;
  /** The platform's message id. */
  ref: string;
}

export class ChatState {
  /** `store`: the journal of the engine trading now (paper or live). */
  constructor(private readonly store: () => StateStore) {}

  /** A signal as it stands now, if it is still in the working set. */
  signal(id: string): SignalRecord | undefined {
    return this.store().data.signals[id];
  }

  /** Whether a run has stopped (its proposals can no longer be taken). */
  runStopped(runId: string): boolean {
    return this.store().data.runs[runId]?.state === 'stopped';
  }

  /** Record where messages about a signal went, so later edits can reach them. */
  async noteMessages(signalId: string, refs: MessageRef[]): Promise<void> {
    if (refs.length === 0) return;
    await this.store().update((s) => {
      s.signals[signalId]?.messages.push(...refs);
    });
  }

  /** Keep a notice that was sent: the chat, its category and its text. */
  async noteSent(chat: string, category: string, text: string): Promise<void> {
    await this.store().update((s) => {
      s.log.notifications.push({ time: Date.now(), chat, category, text });
    });
  }
}
