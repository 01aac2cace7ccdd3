/**
 * The notifier: turns engine events into messages for the chats subscribed to their category
 * (`/subscribe`), on every platform. A signal that waits for approval carries Approve / Half size /
 * Reject buttons, and where it was sent is stored with the signal, so the decision (or the expiry)
 * can edit every copy later, after a restart too.
 *
 * Each chat has its own outbox, sent in order at the pace its adapter allows (Telegram: 20 a minute
 * in a group), so a slow chat never holds up another. An outbox stays short however fast events
 * come (a replay at full speed makes a day's report every fraction of a second):
 * - a newer report replaces the unsent one of the same title and currency, in its place (and a
 *   newer scan the unsent one of its timeframe);
 * - a notice about a run that has stopped (its signals and skipped entries) is dropped unsent;
 * - past {@link OUTBOX_LIMIT} notices the oldest are dropped (proposals before facts such as fills
 *   and exits), and the next message says how many were skipped.
 * Messages are built when their turn comes, from the state then: a queued signal shows its
 * decision, and a report's chart is drawn only for the report that goes.
 *
 * A second chat for alerts (`ALERT_CHAT`): a fact (a fill, an exit, an alert) that cannot reach a
 * chat, its platform down or the message refused, goes there once, saying which chat it was for;
 * and bosun says there when a health check has failed twice in a row (a chat platform down, the
 * feed late, the journal stuck), and once more when it is well again. Both are logged too.
 */
import { toAppError } from '../errors.js';
import type { Check, Readiness } from '../health.js';
import type { Logger } from '../logger.js';
import type { SignalRecord, StateStore } from '../store/state.js';
import type { ChatAdapter } from './adapter.js';
import { type BotEvent, categoryOf } from './categories.js';
import { ChatState } from './chat-state.js';
import type { Platform, Services } from './command.js';
import { eventReply, reportWithChart, signalReply } from './notices.js';
import { bold, italic, PLAIN_TEXT, renderMessages, reply, type ReplyBuilder } from './reply.js';

/** Where engine events come from: the engine trading now (paper or live) and its events. */
export interface EngineSource {
  readonly engine: { readonly store: StateStore };
  on(listener: (e: BotEvent) => void): () => void;
}

/** The most notices one chat's outbox holds unsent. */
export const OUTBOX_LIMIT = 20;

export interface NotifierOptions {
  /** bosun's health, watched for the alert chat. */
  health?: () => Readiness;
  /** How often health is looked at (default 15 s); a check failing at two looks in a row is told. */
  healthEveryMs?: number;
}

interface Notice {
  /** While unsent, a later notice with the same key takes its place (reports, signal edits). */
  key?: string;
  /** The run it is about: dropped unsent once that run has stopped. */
  runId?: string;
  /** Dropped first when the outbox is full: a proposal or a summary, not a fill or an exit. */
  minor: boolean;
  /** Goes ahead of what waits (bosun's own health): it must not wait behind a backlog. */
  urgent?: boolean;
  /** Sends it to the chat (built now, from the state now). */
  deliver(chat: string, skipped: number): Promise<void>;
}

interface Outbox {
  notices: Notice[];
  /** Notices dropped since the last message went. */
  skipped: number;
  worker: Promise<void> | undefined;
}

/**
 * Events whose notices lose their point once their run has stopped. (A decision still edits the
 * copies of its signal already sent, so none keeps buttons; only its line to other chats goes.)
 */
const RUN_BOUND = new Set<BotEvent['type']>(['signal', 'entry-skipped']);
/** Events that may be dropped before others when a chat cannot keep up. */
const MINOR = new Set<BotEvent['type']>(['signal', 'decided', 'report', 'scan', 'regime', 'feed']);

export class Notifier {
  /** Notices queued, messages sent or failed, and notices dropped for a chat that fell behind, so far. */
  readonly counts = { queued: 0, sent: 0, failed: 0, dropped: 0 };
  private readonly outboxes = new Map<string, Outbox>();
  private offs: Array<() => void> = [];
  private readonly chat: ChatState;
  /** Events already sent to the alert chat for a chat that could not take them. */
  private readonly forwarded = new WeakSet<BotEvent>();
  private healthTimer: NodeJS.Timeout | undefined;
  /** Each check's state at the last look, and the failures told (to be told when they end). */
  private readonly looked = new Map<Check['name'], Check['state']>();
  private readonly told = new Set<Check['name']>();

  constructor(
    private readonly source: EngineSource,
    private readonly services: Services,
    private readonly adapters: () => readonly ChatAdapter[],
    private readonly logger: Logger,
    private readonly options: NotifierOptions = {},
  ) {
    this.chat = new ChatState(() => source.engine.store);
  }

  /** `platform:chatId` of the second chat for alerts, if one is set. */
  private get alertChat(): string | undefined {
    return this.services.config.chat.alertChat;
  }

  /** Listen to the engine trading now and to the market watch (scans, regime changes). */
  start(): void {
    const listener = (e: BotEvent) => {
      try {
        this.handle(e);
      } catch (err) {
        this.logger.error({ err: toAppError(err).message, event: e.type }, 'notification failed');
      }
    };
    this.offs = [this.source.on(listener), this.services.watch.on(listener)];
    const health = this.options.health;
    if (health) {
      this.healthTimer = setInterval(() => {
        try {
          this.lookAtHealth(health());
        } catch (err) {
          this.logger.error({ err: toAppError(err).message }, 'health look failed');
        }
      }, this.options.healthEveryMs ?? 15_000);
      this.healthTimer.unref();
    }
  }

  /**
   * One look at health: a check failing at two looks in a row is told (once, until it is well
   * again), and one told that has not failed at two looks in a row is told well again (or no longer
   * failing, if it is degraded). A blip of one look (a chat still connecting at start-up) is not
   * told either way, so a flapping check says nothing new.
   */
  lookAtHealth(h: Readiness): void {
    for (const c of h.checks) {
      const before = this.looked.get(c.name);
      this.looked.set(c.name, c.state);
      const failing = c.state === 'failing';
      if (failing !== (before === 'failing')) continue;
      if (failing && !this.told.has(c.name)) {
        this.told.add(c.name);
        this.logger.warn({ check: c.name, detail: c.detail }, 'bosun is unwell');
        this.toAlertChat(reply().line(bold('bosun is unwell'), ` (${c.name}): ${c.detail}`));
      } else if (!failing && this.told.delete(c.name)) {
        this.logger.info({ check: c.name, detail: c.detail }, 'well again');
        this.toAlertChat(
          c.state === 'ok'
            ? reply().line(bold(`${c.name} is well again`), `: ${c.summary}`)
            : reply().line(bold(`${c.name} is no longer failing`), ` (degraded): ${c.detail}`),
        );
      }
    }
  }

  /** Tell one chat something of its own (a person's alert), in its turn with its other messages. */
  tell(chat: string, build: () => Promise<ReplyBuilder>): void {
    this.enqueue(chat, {
      minor: false,
      deliver: async (c, skipped) => {
        await this.sendOne(c, withSkipped(await build(), skipped), 'alerts');
      },
    });
  }

  private toAlertChat(r: ReplyBuilder): void {
    const alert = this.alertChat;
    if (!alert) return;
    this.enqueue(alert, { minor: false, urgent: true, deliver: (c) => this.sendOne(c, r, 'alerts').then() });
  }

  /** Take no more events, and drop what is still unsent (saying how much in the log). */
  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
    clearInterval(this.healthTimer);
    let unsent = 0;
    for (const box of this.outboxes.values()) {
      unsent += box.notices.length;
      box.notices = [];
    }
    if (unsent > 0) this.logger.warn({ unsent }, 'notices left unsent at shutdown');
  }

  /**
   * Resolves when every notice so far has been delivered or dropped (tests, shutdown), or after
   * `withinMs` if given: a group takes 20 messages a minute, a shutdown cannot wait for all of them.
   */
  async idle(withinMs?: number): Promise<void> {
    const all = (async () => {
      for (;;) {
        const busy = [...this.outboxes.values()].map((o) => o.worker).filter((w) => w !== undefined);
        if (busy.length === 0) return;
        await Promise.all(busy);
      }
    })();
    if (withinMs === undefined) return all;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, withinMs)))]);
    clearTimeout(timer);
  }

  /** Notices waiting for a chat (`platform:chatId`), the one being sent included. */
  backlog(chat: string): number {
    const box = this.outboxes.get(chat);
    return box ? box.notices.length + (box.worker ? 1 : 0) : 0;
  }

  private adapter(platform: string): ChatAdapter | undefined {
    return this.adapters().find((a) => a.platform === (platform as Platform));
  }

  /** `platform:chatId` of the chats that take this category. */
  private audience(e: BotEvent): string[] {
    const category = categoryOf(e);
    return Object.entries(this.services.store.data.subscriptions)
      .filter(([, sub]) => !sub.muted.includes(category))
      .map(([key]) => key);
  }

  private handle(e: BotEvent): void {
    if (e.type === 'run' && e.what === 'stopped') this.dropRun(e.run.id);
    // A trade by hand is the asker's to confirm, in their own reply; its fill is news, its preview not.
    if ((e.type === 'signal' || e.type === 'decided') && e.signal.manual) return;
    const audience = this.audience(e);
    const runId = runOf(e);
    const base = {
      minor: MINOR.has(e.type),
      ...(runId !== undefined && RUN_BOUND.has(e.type) ? { runId } : {}),
    };
    if (e.type === 'decided') {
      // Every copy of the signal message shows the outcome and loses its buttons; subscribed chats
      // without a copy get a line. Where a copy is still queued, it will show the outcome itself.
      const id = e.signal.id;
      const withCopy = new Set(this.signal(id, e.signal).messages.map((m) => m.chat));
      const approvals = new Set(audience);
      for (const chat of new Set([...withCopy, ...approvals])) {
        if (this.queued(chat, `signal:${id}`)) continue;
        this.enqueue(chat, {
          ...base,
          key: `decided:${id}`,
          deliver: async (c, skipped) => {
            const sig = this.signal(id, e.signal);
            const copy = sig.messages.find((m) => m.chat === c);
            if (copy) await this.editOne(c, copy.ref, signalReply(sig, this.tz(), false));
            else if (approvals.has(c) && !this.stopped(sig.runId))
              await this.sendOne(c, withSkipped(eventReply(e, this.tz())!, skipped), categoryOf(e));
          },
        });
      }
      return;
    }
    // A fact a chat cannot take goes to the alert chat, unless that chat hears of it anyway.
    const alert = this.alertChat;
    const forward = !base.minor && alert !== undefined && !audience.includes(alert) ? e : undefined;
    for (const chat of audience) {
      if (e.type === 'report') {
        this.enqueue(chat, {
          ...base,
          key: `report:${e.title}:${e.report.quote}`,
          deliver: async (c, skipped) => {
            const r = await reportWithChart(e.report, e.title, this.services, this.logger);
            await this.sendOne(c, withSkipped(r, skipped), categoryOf(e));
          },
        });
      } else if (e.type === 'signal') {
        const id = e.signal.id;
        this.enqueue(chat, {
          ...base,
          key: `signal:${id}`,
          deliver: async (c, skipped) => {
            const sig = this.signal(id, e.signal);
            const pending = sig.status === 'pending';
            const ref = await this.sendOne(
              c,
              withSkipped(signalReply(sig, this.tz(), pending), skipped),
              categoryOf(e),
            );
            if (pending && ref !== undefined) await this.chat.noteMessages(id, [{ chat: c, ref }]);
          },
        });
      } else {
        if (!eventReply(e, this.tz())) continue;
        this.enqueue(chat, {
          ...base,
          // A newer scan of the same timeframe makes an unsent one moot.
          ...(e.type === 'scan' ? { key: `scan:${e.result.timeframe}` } : {}),
          deliver: (c, skipped) =>
            this.sendOne(c, withSkipped(eventReply(e, this.tz())!, skipped), categoryOf(e), forward).then(),
        });
      }
    }
  }

  private tz(): string {
    return this.services.config.timezone;
  }

  /** The signal as it stands now (decided, filled...), or as the event had it. */
  private signal(id: string, fallback: SignalRecord): SignalRecord {
    return this.chat.signal(id) ?? fallback;
  }

  private stopped(runId: string): boolean {
    return this.chat.runStopped(runId);
  }

  private queued(chat: string, key: string): boolean {
    return this.outboxes.get(chat)?.notices.some((n) => n.key === key) ?? false;
  }

  private enqueue(chat: string, notice: Notice): void {
    let box = this.outboxes.get(chat);
    if (!box) {
      box = { notices: [], skipped: 0, worker: undefined };
      this.outboxes.set(chat, box);
    }
    const same = notice.key === undefined ? -1 : box.notices.findIndex((n) => n.key === notice.key);
    this.counts.queued++;
    if (same >= 0) box.notices[same] = notice;
    else {
      if (notice.urgent) box.notices.unshift(notice);
      else box.notices.push(notice);
      while (box.notices.length > OUTBOX_LIMIT) {
        const minor = box.notices.findIndex((n) => n.minor);
        box.notices.splice(minor >= 0 ? minor : 0, 1);
        box.skipped++;
        this.counts.dropped++;
      }
    }
    box.worker ??= this.work(chat, box);
  }

  /** Notices waiting to go, over every chat. */
  waiting(): number {
    let n = 0;
    for (const box of this.outboxes.values()) n += box.notices.length;
    return n;
  }

  /** Drop what is queued about a run that has stopped: its proposals can no longer be taken. */
  private dropRun(runId: string): void {
    for (const box of this.outboxes.values()) box.notices = box.notices.filter((n) => n.runId !== runId);
  }

  private async work(chat: string, box: Outbox): Promise<void> {
    try {
      for (let n = box.notices.shift(); n; n = box.notices.shift()) {
        if (n.runId !== undefined && this.stopped(n.runId)) continue;
        const skipped = box.skipped;
        box.skipped = 0;
        try {
          await n.deliver(chat, skipped);
        } catch (err) {
          this.logger.warn({ chat, err: toAppError(err).message }, 'could not notify a chat');
        }
      }
    } finally {
      box.worker = undefined;
    }
  }

  /** Send to one chat; `forward`: the event to give the alert chat if this chat cannot take it. */
  private async sendOne(
    chat: string,
    r: ReplyBuilder,
    category: string,
    forward?: BotEvent,
  ): Promise<string | undefined> {
    const [platform, id] = splitChat(chat);
    const adapter = this.adapter(platform);
    if (!adapter) {
      this.forward(chat, `${platform} is not connected`, forward);
      return undefined;
    }
    let ref: string | undefined;
    try {
      ref = await adapter.push(id, r);
      this.counts.sent++;
    } catch (err) {
      this.counts.failed++;
      const why = toAppError(err).message;
      this.logger.warn({ chat, err: why }, 'could not notify a chat');
      this.forward(chat, why, forward);
      return undefined;
    }
    await this.keep(chat, category, r);
    return ref;
  }

  /** The event a chat could not take, to the alert chat, once whichever chats could not. */
  private forward(chat: string, why: string, e: BotEvent | undefined): void {
    const alert = this.alertChat;
    if (!e || !alert || chat === alert || this.forwarded.has(e)) return;
    this.forwarded.add(e);
    this.enqueue(alert, {
      minor: false,
      deliver: async (c) => {
        const r = reply().line(italic(`Not delivered to ${chat}: ${why}. It reads:`));
        r.blocks.push(...eventReply(e, this.tz())!.blocks);
        await this.sendOne(c, r, categoryOf(e));
      },
    });
  }

  /** The journal keeps what was told to whom (its failure is logged; the message went out). */
  private async keep(chat: string, category: string, r: ReplyBuilder): Promise<void> {
    const text = renderMessages(r.blocks, PLAIN_TEXT).join('\n');
    try {
      await this.chat.noteSent(chat, category, text);
    } catch (err) {
      this.logger.warn({ chat, err: toAppError(err).message }, 'a sent notification was not journaled');
    }
  }

  private async editOne(chat: string, ref: string, r: ReplyBuilder): Promise<void> {
    const [platform, id] = splitChat(chat);
    const adapter = this.adapter(platform);
    if (!adapter) return;
    try {
      await adapter.edit(id, ref, r);
    } catch (err) {
      this.logger.warn({ chat, err: toAppError(err).message }, 'could not edit a signal message');
    }
  }
}

/** The run an event is about, if any. */
function runOf(e: BotEvent): string | undefined {
  switch (e.type) {
    case 'signal':
    case 'decided':
    case 'entry-skipped':
      return e.signal.runId;
    case 'entry':
    case 'add':
    case 'exit':
      return e.position.runId;
    case 'run':
      return e.run.id;
    default:
      return undefined;
  }
}

/** The reply, with a line saying how many notices before it were skipped. */
function withSkipped(r: ReplyBuilder, skipped: number): ReplyBuilder {
  if (skipped === 0) return r;
  return r.line(
    italic(
      `(${skipped} older notice${skipped === 1 ? ' was' : 's were'} skipped: they came faster than this chat takes messages.)`,
    ),
  );
}

export function splitChat(chat: string): [string, string] {
  const i = chat.indexOf(':');
  return [chat.slice(0, i), chat.slice(i + 1)];
}
