/**
 * The notifier: turns engine events into messages for the chats subscribed to their category
 * (`/subscribe`), on every platform. Events go out in the order they happened; one event reaches
 * its chats in parallel, each chat's pace set by its adapter (Telegram's per-chat rate). A signal
 * that waits for approval carries Approve / Half size / Reject buttons, and where it was sent is
 * stored with the signal, so the decision (or the expiry) can edit every copy later, after a
 * restart too.
 */
import { categoryOf, type Engine, type EngineEvent } from '../engine/engine.js';

/** Where engine events come from: the engine trading now (paper or live) and its events. */
export interface EngineSource {
  readonly engine: Engine;
  on(listener: (e: EngineEvent) => void): () => void;
}
import { toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChatAdapter } from './adapter.js';
import type { Platform } from './command.js';
import { eventReply, reportWithChart, signalReply } from './notices.js';
import type { Reply } from './reply.js';
import type { Services } from './services.js';

export class Notifier {
  private chain: Promise<void> = Promise.resolve();
  private off: (() => void) | undefined;

  constructor(
    private readonly source: EngineSource,
    private readonly services: Services,
    private readonly adapters: () => readonly ChatAdapter[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.off = this.source.on((e) => {
      this.chain = this.chain.then(() =>
        this.handle(e).catch((err: unknown) =>
          this.logger.error({ err: toAppError(err).message, event: e.type }, 'notification failed'),
        ),
      );
    });
  }

  stop(): void {
    this.off?.();
  }

  /** Resolves when every event so far has been delivered (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
  }

  private adapter(platform: string): ChatAdapter | undefined {
    return this.adapters().find((a) => a.platform === (platform as Platform));
  }

  /** `platform:chatId` of the chats that take this category. */
  private audience(e: EngineEvent): string[] {
    const category = categoryOf(e);
    return Object.entries(this.services.store.data.subscriptions)
      .filter(([, sub]) => !sub.muted.includes(category))
      .map(([key]) => key);
  }

  private async handle(e: EngineEvent): Promise<void> {
    const tz = this.services.config.timezone;
    const chats = this.audience(e);
    if (e.type === 'decided') {
      // Every copy of the signal message shows the outcome and loses its buttons.
      const sig = this.source.engine.state.signals[e.signal.id] ?? e.signal;
      const edited = new Set<string>();
      await Promise.all(
        sig.messages.map(async (m) => {
          edited.add(m.chat);
          await this.editOne(m.chat, m.ref, signalReply(sig, tz, false));
        }),
      );
      const line = eventReply(e, tz)!;
      await Promise.all(chats.filter((c) => !edited.has(c)).map((c) => this.sendOne(c, line)));
      return;
    }
    if (chats.length === 0) return;
    const r =
      e.type === 'report'
        ? await reportWithChart(e.report, e.title, this.services, this.logger)
        : eventReply(e, tz);
    if (!r) return;
    const refs = await Promise.all(chats.map(async (c) => ({ chat: c, ref: await this.sendOne(c, r) })));
    if (e.type === 'signal' && e.signal.status === 'pending')
      await this.source.engine.noteMessages(
        e.signal.id,
        refs.filter((x): x is { chat: string; ref: string } => x.ref !== undefined),
      );
  }

  private async sendOne(chat: string, r: Reply): Promise<string | undefined> {
    const [platform, id] = splitChat(chat);
    const adapter = this.adapter(platform);
    if (!adapter) return undefined;
    try {
      return await adapter.push(id, r);
    } catch (err) {
      this.logger.warn({ chat, err: toAppError(err).message }, 'could not notify a chat');
      return undefined;
    }
  }

  private async editOne(chat: string, ref: string, r: Reply): Promise<void> {
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

export function splitChat(chat: string): [string, string] {
  const i = chat.indexOf(':');
  return [chat.slice(0, i), chat.slice(i + 1)];
}
