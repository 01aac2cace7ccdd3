/**
 * A Telegram Bot API stand-in that speaks the real HTTP protocol, for running unmodified grammY
 * against (`apiRoot`). Methods: getMe, getUpdates (long polling with offsets and timeouts; a second
 * concurrent poll gets 409 as on Telegram), sendMessage, sendPhoto (multipart, checked to be a PNG),
 * editMessageText, editMessageReplyMarkup, answerCallbackQuery, setMyCommands, getMyCommands,
 * deleteWebhook. It checks what Telegram checks that bots get wrong: HTML entities, message (4096)
 * and caption (1024) lengths, callback data (64 bytes), "message is not modified", answering a
 * callback query twice. Rate limits per chat and overall answer 429 with retry_after (a group also
 * takes at most 20 messages in any minute, as the Bots FAQ says), and faults can be injected. Test helpers send a user's message or button press and read what the bot sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Limit, Observable, parseMultipart, readBody } from '../http.js';

export interface TgUser {
  id: number;
  first_name: string;
  username?: string;
  is_bot?: boolean;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
}

type Markup = { inline_keyboard: Array<Array<{ text: string; callback_data?: string }>> } | undefined;

/** A message the bot sent, as it stands now, with its history. */
export interface BotMessage {
  message_id: number;
  chat: TgChat;
  date: number;
  text?: string;
  parse_mode?: string;
  caption?: string;
  photo?: { bytes: number; filename: string; width: number; height: number };
  reply_markup?: Markup;
  /** Earlier texts, oldest first (each edit pushes the text it replaced). */
  edits: string[];
  markupEdits: number;
}

export interface ApiCall {
  method: string;
  at: number;
  chatId?: string;
  status: number;
}

export interface LimitSpec {
  perChat: { burst: number; perSecond: number };
  global: { burst: number; perSecond: number };
  /** Groups also take at most `max` messages (edits included) in any `windowMs`: 20 a minute. */
  group?: { max: number; windowMs: number };
}

interface Fault {
  method: string;
  status: number;
  description: string;
  retryAfter?: number;
}

const BOT_ID = 7_000_000_001;

export class TelegramEmulator extends Observable {
  readonly token: string;
  readonly botUser = { id: BOT_ID, is_bot: true, first_name: 'bosun', username: 'bosun_test_bot' };
  readonly calls: ApiCall[] = [];
  readonly messages: BotMessage[] = [];
  commands: Array<{ command: string; description: string }> = [];
  readonly answers = new Map<string, { text?: string; show_alert?: boolean }>();
  private readonly updates: Array<{ update_id: number } & Record<string, unknown>> = [];
  private nextUpdate = 1;
  private nextMessage = 1;
  private nextQuery = 1;
  private readonly pendingQueries = new Set<string>();
  private polling: ServerResponse | undefined;
  private server: Server | undefined;
  private readonly faults: Fault[] = [];
  private readonly chatLimits = new Map<string, Limit>();
  /** When each group was last sent to (the messages its window still counts). */
  private readonly groupSends = new Map<string, number[]>();
  private globalLimit: Limit;
  /** Requests refused with 429 by the rate limits (not by injected faults). */
  rateLimited = 0;

  private readonly limits: LimitSpec;

  /** Limits default to Telegram's: a burst then one message a second per chat, 30 a second overall. */
  constructor(options: { token?: string; limits?: LimitSpec } = {}) {
    super();
    this.limits = {
      group: { max: 20, windowMs: 60_000 },
      ...(options.limits ?? { perChat: { burst: 5, perSecond: 1 }, global: { burst: 30, perSecond: 30 } }),
    };
    this.token = options.token ?? '7000000001:AAEmulatorTokenForTestsOnly_0123456789';
    this.globalLimit = new Limit(this.limits.global.burst, this.limits.global.perSecond);
  }

  get apiRoot(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('emulator not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Listen on `port` (default: any free one; a given one brings it up where a client already looks). */
  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) =>
        this.reply(res, 500, {
          ok: false,
          error_code: 500,
          description: `Internal Server Error: ${(err as Error).message}`,
        }),
      );
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    return this;
  }

  async stop(): Promise<void> {
    this.polling?.end(JSON.stringify({ ok: true, result: [] }));
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The next call of `method` fails with this status (e.g. 429 with retryAfter, or 502). */
  failNext(method: string, status: number, description = 'Injected fault', retryAfter?: number): void {
    this.faults.push({ method, status, description, ...(retryAfter !== undefined ? { retryAfter } : {}) });
  }

  // --- what users do ---

  /** A user sends text (a command when it starts with /). Returns the update id. */
  userSends(user: TgUser, text: string, chat: TgChat = { id: user.id, type: 'private' }): number {
    const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
    const message = {
      message_id: this.nextMessage++,
      from: { is_bot: false, ...user },
      chat: { ...chat, ...(chat.type === 'private' ? { first_name: user.first_name } : {}) },
      date: Math.floor(Date.now() / 1000),
      text,
      ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
    };
    return this.push({ message });
  }

  /** A user presses an inline button of a bot message. Returns the callback query id. */
  userPresses(user: TgUser, message: BotMessage, data: string): string {
    const id = `${this.nextQuery++}${Date.now()}`;
    this.pendingQueries.add(id);
    this.push({
      callback_query: {
        id,
        from: { is_bot: false, ...user },
        message: this.wire(message),
        chat_instance: `ci${message.chat.id}`,
        data,
      },
    });
    return id;
  }

  /** The bot's messages in a chat, oldest first. */
  chatMessages(chatId: number): BotMessage[] {
    return this.messages.filter((m) => m.chat.id === chatId);
  }

  /** Every callback_data on a message's keyboard. */
  static buttons(message: BotMessage): Array<{ text: string; data: string }> {
    return (message.reply_markup?.inline_keyboard ?? [])
      .flat()
      .map((b) => ({ text: b.text, data: b.callback_data ?? '' }));
  }

  private push(update: Record<string, unknown>): number {
    const update_id = this.nextUpdate++;
    this.updates.push({ update_id, ...update });
    this.changed();
    return update_id;
  }

  // --- the Bot API ---

  private reply(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec((req.url ?? '').split('?')[0]!);
    if (!m) return this.reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, method] = m as unknown as [string, string, string];
    if (token !== this.token)
      return this.reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    let params: Record<string, unknown>;
    try {
      params = await this.params(req);
    } catch (err) {
      if (err instanceof ApiError)
        return this.reply(res, err.status, {
          ok: false,
          error_code: err.status,
          description: err.description,
        });
      throw err;
    }
    const chatId = params.chat_id !== undefined ? String(params.chat_id) : undefined;
    // When the request was taken in: what rate limits count, and what `calls` shows.
    const received = Date.now();
    const record = (status: number) => {
      this.calls.push({ method, at: received, status, ...(chatId ? { chatId } : {}) });
      this.changed();
    };
    const fail = (status: number, description: string, extra: Record<string, unknown> = {}) => {
      record(status);
      this.reply(res, status, { ok: false, error_code: status, description, ...extra });
    };
    const faultIdx = this.faults.findIndex((f) => f.method === method);
    if (faultIdx >= 0) {
      const f = this.faults.splice(faultIdx, 1)[0]!;
      return fail(
        f.status,
        f.description,
        f.retryAfter !== undefined ? { parameters: { retry_after: f.retryAfter } } : {},
      );
    }
    if (/^(send|edit)/.test(method) && chatId) {
      const wait = Math.max(
        this.groupWait(chatId, received),
        this.chatLimit(chatId).take(),
        this.globalLimit.take(),
      );
      if (wait === 0) this.groupSends.get(chatId)?.push(received);
      else {
        this.rateLimited++;
        const retry = Math.max(1, Math.ceil(wait));
        return fail(429, `Too Many Requests: retry after ${retry}`, { parameters: { retry_after: retry } });
      }
    }
    try {
      const result = await this.call(method, params, res);
      if (result === POLL_PENDING) return;
      record(200);
      this.reply(res, 200, { ok: true, result });
    } catch (err) {
      if (err instanceof ApiError) return fail(err.status, err.description);
      throw err;
    }
  }

  /** Seconds until a group may take one more message (0: now); a taken one is pushed by the caller. */
  private groupWait(chatId: string, now: number): number {
    const spec = this.limits.group;
    if (!spec || !chatId.startsWith('-')) return 0;
    const sends = (this.groupSends.get(chatId) ?? []).filter((t) => t > now - spec.windowMs);
    this.groupSends.set(chatId, sends);
    return sends.length >= spec.max ? (sends[0]! + spec.windowMs - now) / 1000 : 0;
  }

  /** The most successful sends and edits to a chat in any span of `windowMs`. */
  busiestWindow(chatId: number, windowMs: number): number {
    const times = this.calls
      .filter((c) => c.chatId === String(chatId) && c.status === 200 && /^(send|edit)/.test(c.method))
      .map((c) => c.at)
      .sort((a, b) => a - b);
    let best = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while (times[j]! - times[i]! >= windowMs) i++;
      best = Math.max(best, j - i + 1);
    }
    return best;
  }

  private chatLimit(chatId: string): Limit {
    let l = this.chatLimits.get(chatId);
    if (!l) {
      l = new Limit(this.limits.perChat.burst, this.limits.perChat.perSecond);
      this.chatLimits.set(chatId, l);
    }
    return l;
  }

  private async params(req: IncomingMessage): Promise<Record<string, unknown>> {
    const body = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    const query = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
    if (body.length === 0) return query;
    if (type.startsWith('application/json'))
      return { ...query, ...(JSON.parse(body.toString('utf8')) as Record<string, unknown>) };
    if (type.startsWith('application/x-www-form-urlencoded'))
      return { ...query, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
    if (type.startsWith('multipart/form-data')) {
      const form = parseMultipart(body, type);
      const out: Record<string, unknown> = { ...query };
      for (const [k, v] of Object.entries(form.fields)) out[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
      // Files are attached by field name and referred to as attach://name.
      for (const [k, v] of Object.entries(out)) {
        if (typeof v === 'string' && v.startsWith('attach://')) {
          const file = form.files.find((f) => f.field === v.slice(9));
          if (!file) throw new ApiError(400, `Bad Request: file ${v} is missing`);
          out[k] = file;
        }
      }
      for (const f of form.files) if (!(f.field in out)) out[f.field] = f;
      return out;
    }
    throw new ApiError(400, `Bad Request: unsupported content type ${type}`);
  }

  private async call(method: string, p: Record<string, unknown>, res: ServerResponse): Promise<unknown> {
    switch (method) {
      case 'getMe':
        return {
          ...this.botUser,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
        };
      case 'deleteWebhook':
      case 'close':
        return true;
      case 'setMyCommands': {
        const commands = p.commands as Array<{ command: string; description: string }>;
        if (!Array.isArray(commands) || commands.length > 100)
          throw new ApiError(400, 'Bad Request: commands must be an array of at most 100');
        for (const c of commands) {
          if (!/^[a-z0-9_]{1,32}$/.test(c.command))
            throw new ApiError(400, 'Bad Request: BOT_COMMAND_INVALID');
          if (!c.description || c.description.length > 256)
            throw new ApiError(400, 'Bad Request: BOT_COMMAND_DESCRIPTION_INVALID');
        }
        this.commands = commands;
        return true;
      }
      case 'getMyCommands':
        return this.commands;
      case 'getUpdates':
        return this.getUpdates(p, res);
      case 'sendMessage': {
        const text = String(p.text ?? '');
        checkText(text, p.parse_mode as string | undefined, 4096, 'message');
        const markup = checkMarkup(p.reply_markup);
        return this.wire(
          this.store({
            chat: this.chat(p.chat_id),
            text,
            ...(p.parse_mode ? { parse_mode: String(p.parse_mode) } : {}),
            ...(markup ? { reply_markup: markup } : {}),
          }),
        );
      }
      case 'sendPhoto': {
        const photo = p.photo as { data?: Buffer; filename?: string } | string | undefined;
        if (!photo || typeof photo === 'string' || !photo.data)
          throw new ApiError(400, 'Bad Request: there is no photo in the request');
        const size = pngSize(photo.data);
        if (!size) throw new ApiError(400, 'Bad Request: IMAGE_PROCESS_FAILED');
        const caption = p.caption !== undefined ? String(p.caption) : undefined;
        if (caption !== undefined) checkText(caption, p.parse_mode as string | undefined, 1024, 'caption');
        const markup = checkMarkup(p.reply_markup);
        return this.wire(
          this.store({
            chat: this.chat(p.chat_id),
            photo: { bytes: photo.data.length, filename: photo.filename ?? 'photo', ...size },
            ...(caption !== undefined ? { caption } : {}),
            ...(markup ? { reply_markup: markup } : {}),
          }),
        );
      }
      case 'editMessageText': {
        const msg = this.find(p);
        const text = String(p.text ?? '');
        checkText(text, p.parse_mode as string | undefined, 4096, 'message');
        const markup = checkMarkup(p.reply_markup);
        if (msg.text === undefined)
          throw new ApiError(400, 'Bad Request: there is no text in the message to edit');
        if (
          msg.text === text &&
          JSON.stringify(markup ?? msg.reply_markup) === JSON.stringify(msg.reply_markup)
        )
          throw new ApiError(
            400,
            'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
          );
        msg.edits.push(msg.text);
        msg.text = text;
        if (markup !== undefined) msg.reply_markup = markup;
        this.changed();
        return this.wire(msg);
      }
      case 'editMessageReplyMarkup': {
        const msg = this.find(p);
        const markup = checkMarkup(p.reply_markup);
        if (
          JSON.stringify(markup ?? { inline_keyboard: [] }) ===
          JSON.stringify(msg.reply_markup ?? { inline_keyboard: [] })
        )
          throw new ApiError(400, 'Bad Request: message is not modified');
        msg.reply_markup = markup;
        msg.markupEdits++;
        this.changed();
        return this.wire(msg);
      }
      case 'answerCallbackQuery': {
        const id = String(p.callback_query_id);
        if (!this.pendingQueries.delete(id))
          throw new ApiError(
            400,
            'Bad Request: query is too old and response timeout expired or query ID is invalid',
          );
        const text = p.text !== undefined ? String(p.text) : undefined;
        if (text !== undefined && text.length > 200) throw new ApiError(400, 'Bad Request: MESSAGE_TOO_LONG');
        this.answers.set(id, {
          ...(text !== undefined ? { text } : {}),
          ...(p.show_alert ? { show_alert: p.show_alert === true || p.show_alert === 'true' } : {}),
        });
        this.changed();
        return true;
      }
      default:
        throw new ApiError(404, 'Not Found: method not found');
    }
  }

  private getUpdates(p: Record<string, unknown>, res: ServerResponse): unknown {
    const offset = Number(p.offset ?? 0);
    const limit = Math.min(100, Number(p.limit ?? 100));
    const timeout = Number(p.timeout ?? 0);
    // Offsets confirm: updates before the offset are gone for good.
    while (this.updates.length > 0 && this.updates[0]!.update_id < offset) this.updates.shift();
    const ready = () => this.updates.filter((u) => u.update_id >= offset).slice(0, limit);
    if (ready().length > 0 || timeout <= 0) return ready();
    if (this.polling && !this.polling.writableEnded)
      throw new ApiError(
        409,
        'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      );
    this.polling = res;
    const finish = () => {
      clearTimeout(timer);
      this.off('change', onChange);
      if (this.polling === res) this.polling = undefined;
    };
    const onChange = () => {
      const batch = ready();
      if (batch.length > 0) {
        finish();
        this.calls.push({ method: 'getUpdates', at: Date.now(), status: 200 });
        this.reply(res, 200, { ok: true, result: batch });
      }
    };
    const timer = setTimeout(() => {
      finish();
      this.reply(res, 200, { ok: true, result: [] });
    }, timeout * 1000);
    this.on('change', onChange);
    res.on('close', finish);
    return POLL_PENDING;
  }

  private chat(chatId: unknown): TgChat {
    const id = Number(chatId);
    if (!Number.isFinite(id)) throw new ApiError(400, 'Bad Request: chat not found');
    return { id, type: id < 0 ? 'supergroup' : 'private' };
  }

  private store(m: Omit<BotMessage, 'message_id' | 'date' | 'edits' | 'markupEdits'>): BotMessage {
    const msg: BotMessage = {
      message_id: this.nextMessage++,
      date: Math.floor(Date.now() / 1000),
      edits: [],
      markupEdits: 0,
      ...m,
    };
    this.messages.push(msg);
    this.changed();
    return msg;
  }

  private find(p: Record<string, unknown>): BotMessage {
    const msg = this.messages.find(
      (m) => m.chat.id === Number(p.chat_id) && m.message_id === Number(p.message_id),
    );
    if (!msg) throw new ApiError(400, 'Bad Request: message to edit not found');
    return msg;
  }

  /** A stored message as the Bot API returns it. */
  private wire(m: BotMessage): Record<string, unknown> {
    return {
      message_id: m.message_id,
      from: this.botUser,
      chat: m.chat,
      date: m.date,
      ...(m.text !== undefined ? { text: m.text } : {}),
      ...(m.caption !== undefined ? { caption: m.caption } : {}),
      ...(m.photo
        ? {
            photo: [
              {
                file_id: `photo${m.message_id}`,
                file_unique_id: `u${m.message_id}`,
                width: m.photo.width,
                height: m.photo.height,
                file_size: m.photo.bytes,
              },
            ],
          }
        : {}),
      ...(m.reply_markup && m.reply_markup.inline_keyboard.length > 0
        ? { reply_markup: m.reply_markup }
        : {}),
    };
  }
}

const POLL_PENDING = Symbol('poll pending');

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string,
  ) {
    super(description);
  }
}

const TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'code',
  'pre',
  'a',
  'tg-spoiler',
  'span',
  'blockquote',
]);

/** Check text as Telegram parses it: entities well formed, and the visible length within the limit. */
function checkText(text: string, parseMode: string | undefined, limit: number, what: string): void {
  let visible = text;
  if (parseMode === 'HTML') {
    const stack: string[] = [];
    let out = '';
    const re = /<(\/?)([a-z-]+)([^>]*)>|&(#\d+|#x[0-9a-f]+|[a-z]+);|[<>&]|[^<>&]+/gi;
    for (const m of text.matchAll(re)) {
      const [all, close, tag, , entity] = m;
      if (tag !== undefined) {
        const t = tag.toLowerCase();
        if (!TAGS.has(t))
          throw new ApiError(400, `Bad Request: can't parse entities: Unsupported start tag "${t}"`);
        if (close) {
          if (stack.pop() !== t)
            throw new ApiError(400, `Bad Request: can't parse entities: Unmatched end tag "${t}"`);
        } else stack.push(t);
      } else if (entity !== undefined) {
        if (!/^(lt|gt|amp|quot|#\d+|#x[0-9a-f]+)$/i.test(entity))
          throw new ApiError(400, `Bad Request: can't parse entities: Unsupported HTML entity "&${entity};"`);
        out += 'x';
      } else if (all === '<' || all === '>' || all === '&') {
        throw new ApiError(400, `Bad Request: can't parse entities: unescaped "${all}"`);
      } else out += all;
    }
    if (stack.length > 0)
      throw new ApiError(
        400,
        `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "${stack.pop()}"`,
      );
    visible = out;
  } else if (parseMode !== undefined) {
    throw new ApiError(400, `Bad Request: unsupported parse_mode ${parseMode} in this emulator`);
  }
  if (what === 'message' && visible.trim().length === 0)
    throw new ApiError(400, 'Bad Request: message text is empty');
  if (visible.length > limit)
    throw new ApiError(
      400,
      what === 'caption' ? 'Bad Request: message caption is too long' : 'Bad Request: message is too long',
    );
}

function checkMarkup(markup: unknown): Markup {
  if (markup === undefined) return undefined;
  const m = (typeof markup === 'string' ? JSON.parse(markup) : markup) as Markup;
  for (const row of m?.inline_keyboard ?? []) {
    for (const b of row) {
      if (
        b.callback_data !== undefined &&
        (Buffer.byteLength(b.callback_data) < 1 || Buffer.byteLength(b.callback_data) > 64)
      )
        throw new ApiError(400, 'Bad Request: BUTTON_DATA_INVALID');
      if (!b.text) throw new ApiError(400, 'Bad Request: text buttons are unallowed in the inline keyboard');
    }
  }
  return m;
}

function pngSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length < 24 || data.readUInt32BE(0) !== 0x89504e47) return undefined;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}
