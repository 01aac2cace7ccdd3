/**
 * The Telegram adapter (grammY). Commands arrive as text (`/backtest ema-cross BTC/USDT 1h fast=9`)
 * and button presses as callback queries; replies go out as HTML messages (split at Telegram's 4096
 * characters), photos, inline keyboards with signed callback data, and edits.
 *
 * Outgoing calls pass our own throttle (per chat and overall, so bursts never meet Telegram's limits)
 * and @grammyjs/auto-retry (429 with retry_after, 5xx and network errors). Updates are fetched with
 * @grammyjs/runner: chats are served concurrently, the messages of one chat in order.
 * `TELEGRAM_API_ROOT` points grammY at another Bot API server.
 */
import { autoRetry } from '@grammyjs/auto-retry';
import { run, type RunnerHandle, sequentialize } from '@grammyjs/runner';
import { Api, Bot, type Context, GrammyError, InlineKeyboard, InputFile, type Transformer } from 'grammy';
import type { Role } from '../../config.js';
import { AppError, toAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { type ChatAdapter, unreachable } from '../adapter.js';
import type { ChatRef, ChatStatus, SentMessage } from '../command.js';
import type { Dispatcher, Person, Transport } from '../dispatch.js';
import { type Dialect, images, PHONE_WIDTH, type Reply, renderMessages } from '../reply.js';
import { TELEGRAM_LIMITS, Throttle, type ThrottleSpec } from '../throttle.js';

const escapeHtml = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const TAG = { bold: 'b', italic: 'i', code: 'code' } as const;

export const TELEGRAM_HTML: Dialect = {
  escape: escapeHtml,
  style: (s, t) => `<${TAG[s]}>${escapeHtml(t)}</${TAG[s]}>`,
  link: (t, url) => `<a href="${escapeHtml(url).replace(/"/g, '&quot;')}">${escapeHtml(t)}</a>`,
  preOpen: '<pre>',
  preClose: '</pre>',
  escapePre: escapeHtml,
  limit: 4096,
  width: PHONE_WIDTH,
};
const CAPTION_LIMIT = 1024;

/** Calls that put a message in a chat, and so count against its rate limit. */
const SENDING = /^(send|edit|copy|forward)/;

export interface TelegramOptions {
  token: string;
  apiRoot: string;
  allowedUsers: Readonly<Record<string, Role>>;
  logger: Logger;
  throttle?: ThrottleSpec;
  /** Long-polling timeout in seconds (default 30). */
  pollTimeout?: number;
  /** How long one connection attempt may take (default 20 s). */
  connectTimeoutMs?: number;
}

export class TelegramChat implements ChatAdapter {
  readonly platform = 'telegram' as const;
  readonly bot: Bot;
  private runner: RunnerHandle | undefined;
  private state: ChatStatus['state'] = 'stopped';
  private detail: string | undefined;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: TelegramOptions,
  ) {
    this.bot = new Bot(options.token, { client: { apiRoot: options.apiRoot } });
    this.bot.api.config.use(throttleTransformer(new Throttle(options.throttle ?? TELEGRAM_LIMITS)));
    this.bot.api.config.use(autoRetry({ maxRetryAttempts: 5, maxDelaySeconds: 120 }));
    this.bot.use(sequentialize((ctx: Context) => (ctx.callbackQuery ? undefined : ctx.chat?.id.toString())));
    this.bot.on('message:text', (ctx) => this.onText(ctx));
    this.bot.on('callback_query:data', (ctx) => this.onPress(ctx));
    this.bot.catch((err) =>
      options.logger.error({ err: toAppError(err.error).message }, 'telegram update failed'),
    );
  }

  status(): ChatStatus {
    return { platform: 'telegram', state: this.state, ...(this.detail ? { detail: this.detail } : {}) };
  }

  /** The Bot API server, for the log. */
  get endpoint(): string {
    return this.options.apiRoot;
  }

  /**
   * One attempt to connect: getMe, deleteWebhook and setMyCommands straight to the Bot API (without
   * the retries of `bot.api`, which would retry a network failure without end), within 20 s; then
   * long polling starts. A token the Bot API refuses (401, or 404 to getMe) is BAD_CONFIG.
   */
  async start(signal?: AbortSignal): Promise<void> {
    this.state = 'connecting';
    // grammY types its signal as the abort-controller shim's; Node's own is what it gets.
    const attempt = AbortSignal.any([
      ...(signal ? [signal] : []),
      AbortSignal.timeout(this.options.connectTimeoutMs ?? 20_000),
    ]) as unknown as Parameters<Api['getMe']>[0];
    try {
      const api = new Api(this.options.token, { apiRoot: this.options.apiRoot });
      this.bot.botInfo = await api.getMe(attempt);
      await api.deleteWebhook({}, attempt);
      const commands = this.dispatcher.services.registry
        .all()
        .map((c) => ({ command: c.name, description: c.summary }));
      await api.setMyCommands(commands, {}, attempt);
    } catch (err) {
      const e = this.connectError(err);
      this.state = 'failed';
      this.detail = e.message;
      throw e;
    }
    this.detail = `@${this.bot.botInfo.username}`;
    this.runner = run(this.bot, {
      runner: {
        fetch: { timeout: this.options.pollTimeout ?? 30, allowed_updates: ['message', 'callback_query'] },
        silent: true,
      },
    });
    this.state = 'connected';
  }

  /** A failed connection attempt in words safe to print: the Bot API's own text may echo the token. */
  private connectError(err: unknown): AppError {
    // 401 anywhere; 404 from getMe is how the Bot API answers a malformed token.
    if (
      err instanceof GrammyError &&
      (err.error_code === 401 || (err.error_code === 404 && err.method === 'getMe'))
    )
      return new AppError(
        'BAD_CONFIG',
        `Telegram refused TELEGRAM_BOT_TOKEN (${err.error_code} on ${err.method}); check the token with @BotFather`,
      );
    if (err instanceof GrammyError)
      return new AppError('NETWORK', `Telegram answered ${err.error_code} to ${err.method}`);
    return unreachable('Telegram', this.options.apiRoot, err);
  }

  async stop(): Promise<void> {
    if (this.runner?.isRunning()) await this.runner.stop();
    this.state = 'stopped';
  }

  private person(ctx: Context): Person {
    const from = ctx.from!;
    const id = String(from.id);
    return {
      platform: 'telegram',
      id,
      name: from.username ? `@${from.username}` : [from.first_name, from.last_name].filter(Boolean).join(' '),
      role: this.options.allowedUsers[id],
    };
  }

  private chatOf(ctx: Context): ChatRef {
    return { platform: 'telegram', id: String(ctx.chat!.id), private: ctx.chat!.type === 'private' };
  }

  private async onText(ctx: Context): Promise<void> {
    const text = ctx.message!.text!;
    const command = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s+([\s\S]*))?$/.exec(text);
    const chat = this.chatOf(ctx);
    if (!command) return this.dispatcher.chatter(this.person(ctx), chat, this.transport(chat), text);
    const [, name, addressee, rest = ''] = command;
    // In a group, "/help@otherbot" is for another bot.
    if (addressee && addressee.toLowerCase() !== this.bot.botInfo.username.toLowerCase()) return;
    await this.dispatcher.run({
      command: name!.toLowerCase(),
      text: rest,
      person: this.person(ctx),
      chat,
      transport: this.transport(chat),
    });
  }

  private async onPress(ctx: Context): Promise<void> {
    const query = ctx.callbackQuery!;
    const message = query.message;
    if (!message) {
      await ctx.answerCallbackQuery({ text: 'This button is too old to use.', show_alert: true });
      return;
    }
    const chat: ChatRef = {
      platform: 'telegram',
      id: String(message.chat.id),
      private: message.chat.type === 'private',
    };
    await this.dispatcher.press(
      query.data!,
      this.person(ctx),
      chat,
      this.transport(chat),
      async (outcome) => {
        if (outcome.refused !== undefined) {
          await ctx.answerCallbackQuery({ text: outcome.refused, show_alert: true });
          return;
        }
        await ctx.answerCallbackQuery({ text: `/${outcome.command}...` });
        // A used single-use button leaves the message, so nobody presses it in vain.
        if (outcome.once)
          await this.bot.api.editMessageReplyMarkup(message.chat.id, message.message_id, {
            reply_markup: { inline_keyboard: [] },
          });
      },
    );
  }

  private transport(chat: ChatRef): Transport {
    return { send: (r) => this.sendReply(chat, r) };
  }

  async push(chatId: string, r: Reply): Promise<string> {
    return String((await this.deliver(chatById(chatId), r)).last);
  }

  async edit(chatId: string, messageId: string, r: Reply): Promise<void> {
    await this.editText(chatById(chatId), Number(messageId), r);
  }

  private async editText(chat: ChatRef, messageId: number, next: Reply): Promise<void> {
    const html = renderMessages(next.blocks, TELEGRAM_HTML)[0] ?? '...';
    const markup = {
      reply_markup: next.actions.length > 0 ? await this.keyboard(next, chat) : { inline_keyboard: [] },
    };
    try {
      await this.bot.api.editMessageText(chat.id, messageId, html, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...markup,
      });
    } catch (err) {
      // Editing to the same text is refused by Telegram and changes nothing.
      if (!(err instanceof GrammyError && /not modified/.test(err.description))) throw err;
    }
  }

  /** Send a reply: its text (split as needed), then its images; buttons go on the last message. */
  private async sendReply(chat: ChatRef, r: Reply): Promise<SentMessage> {
    const { first } = await this.deliver(chat, r);
    return {
      edit: async (next: Reply) => {
        if (!first || first.photo) return;
        await this.editText(chat, first.id, next);
      },
    };
  }

  private async deliver(
    chat: ChatRef,
    r: Reply,
  ): Promise<{ first: { id: number; photo: boolean } | undefined; last: number }> {
    const api = this.bot.api;
    const texts = renderMessages(r.blocks, TELEGRAM_HTML);
    const photos = images(r);
    const keyboard = r.actions.length > 0 ? await this.keyboard(r, chat) : undefined;
    const total = texts.length + photos.length;
    const withKeyboard = (i: number) =>
      keyboard && i === Math.max(total, 1) - 1 ? { reply_markup: keyboard } : {};
    let first: { id: number; photo: boolean } | undefined;
    let lastId: number | undefined;
    let i = 0;
    for (const html of texts) {
      const sent = await api.sendMessage(chat.id, html, {
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
        ...withKeyboard(i++),
      });
      first ??= { id: sent.message_id, photo: false };
      lastId = sent.message_id;
    }
    for (const p of photos) {
      const caption =
        p.caption.length > CAPTION_LIMIT ? `${p.caption.slice(0, CAPTION_LIMIT - 3)}...` : p.caption;
      const sent = await api.sendPhoto(chat.id, new InputFile(Buffer.from(p.png), p.filename), {
        ...(caption ? { caption: escapeHtml(caption), parse_mode: 'HTML' as const } : {}),
        ...withKeyboard(i++),
      });
      first ??= { id: sent.message_id, photo: true };
      lastId = sent.message_id;
    }
    if (!first && keyboard) {
      const sent = await api.sendMessage(chat.id, 'Choose:', { reply_markup: keyboard });
      first = { id: sent.message_id, photo: false };
    }
    return { first, last: lastId ?? first?.id ?? 0 };
  }

  private async keyboard(r: Reply, chat: ChatRef): Promise<InlineKeyboard> {
    const kb = new InlineKeyboard();
    for (const row of await this.dispatcher.signButtons(r, chat)) {
      for (const b of row) kb.text(b.label, b.payload);
      kb.row();
    }
    return kb;
  }
}

/** A chat known by id alone: Telegram's group and channel ids are negative. */
function chatById(id: string): ChatRef {
  return { platform: 'telegram', id, private: !id.startsWith('-') };
}

/** A grammY API transformer that waits for the throttle before every message-sending call. */
function throttleTransformer(throttle: Throttle): Transformer {
  return async (prev, method, payload, signal) => {
    const chatId = (payload as { chat_id?: number | string } | undefined)?.chat_id;
    if (chatId !== undefined && SENDING.test(method)) {
      const key = String(chatId);
      await throttle.acquire(key, key.startsWith('-') || key.startsWith('@'));
    }
    return prev(method, payload, signal);
  };
}
