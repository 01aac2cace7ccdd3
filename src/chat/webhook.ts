/**
 * Outbound webhooks (`WEBHOOK_URL`): every notice the chats can get (signals, fills, exits, orders,
 * reports, scans, regime changes, feed and exchange troubles) is POSTed as JSON, in the order it
 * happened, with the very words the chats read:
 *
 * ```json
 * { "type": "exit", "category": "trades", "at": 1700000000000,
 *   "text": "Closed P3 ...", "event": { "type": "exit", "position": { ... }, "fill": { ... } } }
 * ```
 *
 * One request at a time; a network error, a 429 or a 5xx is tried again (1 s, 2 s, 4 s), then the
 * notice is dropped and the log says so once until one gets through; meanwhile each notice gets one
 * try. A 4xx other than 429 is the receiver refusing it: not tried again. At most 500 notices wait,
 * none older than 10 minutes; beyond that they go, and the log says how many. The URL is a secret
 * (it often carries a token): it is never logged.
 */
import type { Logger } from '../logger.js';
import { pause } from './adapter.js';
import { type BotEvent, categoryOf } from './categories.js';
import { eventReply } from './notices.js';
import { PLAIN_TEXT, renderMessages } from './reply.js';

export interface WebhookOptions {
  url: string;
  /** Where events come from: the engine trading now, and the market watch. */
  sources: ReadonlyArray<{ on(listener: (e: BotEvent) => void): () => void }>;
  timezone: string;
  logger: Logger;
  /** Waits between tries, ms (default 1, 2 and 4 s). */
  backoffMs?: readonly number[];
  /** How long one request may take (default 10 s). */
  timeoutMs?: number;
}

const LIMIT = 500;
/** Notices older than this when their turn comes are dropped (and counted). */
const MAX_AGE_MS = 10 * 60_000;

export interface WebhookBody {
  type: BotEvent['type'];
  category: string;
  at: number;
  text: string;
  event: unknown;
}

export class WebhookOut {
  private readonly queue: WebhookBody[] = [];
  private worker: Promise<void> | undefined;
  private offs: Array<() => void> = [];
  private failing = false;
  private dropped = 0;
  private stale = 0;
  private readonly stopping = new AbortController();
  /** Delivered, failed for good, and dropped (the queue full), so far. */
  readonly counts = { sent: 0, failed: 0, dropped: 0 };

  constructor(private readonly o: WebhookOptions) {}

  start(): void {
    const listener = (e: BotEvent) => this.take(e);
    this.offs = this.o.sources.map((s) => s.on(listener));
  }

  /** Take no more events; what is in flight gets `withinMs` to go, the rest is dropped. */
  async stop(withinMs = 2000): Promise<void> {
    for (const off of this.offs) off();
    this.offs = [];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.worker,
      new Promise<void>((r) => {
        timer = setTimeout(r, withinMs);
      }),
    ]);
    clearTimeout(timer);
    this.stopping.abort();
    if (this.queue.length > 0)
      this.o.logger.warn({ unsent: this.queue.length }, 'webhook notices left unsent at shutdown');
    this.queue.length = 0;
  }

  /** Resolves once everything queued so far has been sent or given up (tests). */
  async idle(): Promise<void> {
    while (this.worker) await this.worker;
  }

  private take(e: BotEvent): void {
    const r = eventReply(e, this.o.timezone);
    if (!r) return;
    this.queue.push({
      type: e.type,
      category: categoryOf(e),
      at: Date.now(),
      text: renderMessages(r.blocks, PLAIN_TEXT).join('\n'),
      event: plain(e),
    });
    if (this.queue.length > LIMIT) {
      this.queue.splice(0, this.queue.length - LIMIT);
      this.dropped++;
      this.counts.dropped++;
    }
    this.worker ??= this.work().finally(() => (this.worker = undefined));
  }

  private async work(): Promise<void> {
    for (let body = this.queue.shift(); body; body = this.queue.shift()) {
      if (this.dropped > 0) {
        this.o.logger.warn({ dropped: this.dropped }, 'webhook receiver fell behind: oldest notices dropped');
        this.dropped = 0;
      }
      await this.deliver(body);
    }
  }

  private async deliver(body: WebhookBody): Promise<void> {
    // Old news is no news: a notice that waited past MAX_AGE_MS (a receiver down for long) goes.
    if (Date.now() - body.at > MAX_AGE_MS) {
      this.counts.dropped++;
      this.stale++;
      return;
    }
    if (this.stale > 0) {
      this.o.logger.warn({ dropped: this.stale }, 'webhook notices older than 10 minutes dropped unsent');
      this.stale = 0;
    }
    // While the receiver is failing, one try a notice until one gets through (no backlog of waits).
    const waits = this.failing ? [] : (this.o.backoffMs ?? [1000, 2000, 4000]);
    let why = '';
    for (let attempt = 0; attempt <= waits.length; attempt++) {
      if (attempt > 0) await pause(waits[attempt - 1]!, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      try {
        const res = await fetch(this.o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'bosun-webhook' },
          body: JSON.stringify(body),
          signal: AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.o.timeoutMs ?? 10_000)]),
        });
        await res.body?.cancel();
        if (res.ok) {
          this.counts.sent++;
          if (this.failing) this.o.logger.info('webhook receiver takes notices again');
          this.failing = false;
          return;
        }
        why = `the receiver answered HTTP ${res.status}`;
        // Refused for good: trying again would be refused again.
        if (res.status < 500 && res.status !== 429) break;
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        why = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : 'could not connect';
      }
    }
    this.counts.failed++;
    if (!this.failing)
      this.o.logger.warn({ err: why, type: body.type }, 'webhook notice not delivered; later ones are tried');
    this.failing = true;
  }
}

/** An event as plain JSON (typed arrays and functions left out). */
function plain(e: BotEvent): unknown {
  return JSON.parse(
    JSON.stringify(e, (_k, v: unknown) => (ArrayBuffer.isView(v) || typeof v === 'function' ? undefined : v)),
  ) as unknown;
}
