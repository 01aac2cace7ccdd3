/**
 * A Discord stand-in that speaks the real protocols, for running unmodified discord.js against it
 * (its REST `api` option pointed here; the gateway URL comes from GET /gateway/bot as on Discord).
 *
 * Gateway (WebSocket, v10 JSON): HELLO, IDENTIFY (token checked), READY, GUILD_CREATE, heartbeats
 * and ACKs, INTERACTION_CREATE for slash commands, autocomplete and button presses.
 * REST: GET /gateway/bot, GET /applications/@me, GET/PUT of global and guild application commands
 * (validated as Discord does), POST /interactions/:id/:token/callback (JSON or multipart, within
 * 3 s, once), GET/PATCH/DELETE /webhooks/:app/:token/messages/:id, POST /webhooks/:app/:token
 * (follow-ups). Messages are checked for Discord's limits (2000 characters, 5 rows of 5 buttons,
 * custom ids of 100, attachments that are real PNGs). Rate-limit headers on every route, and a 429
 * with retry_after past the limit, as discord.js expects.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { Limit, Observable, parseMultipart, readBody } from '../http.js';

export interface DcUser {
  id: string;
  username: string;
}

export interface Where {
  /** In the emulator's guild (default), or a DM when false. */
  guild?: boolean;
  /** The member's role ids, in a guild. */
  roles?: string[];
}

export interface DcMessage {
  id: string;
  channel_id: string;
  content: string;
  flags: number;
  components: Array<{
    type: number;
    components: Array<{ type: number; style: number; label: string; custom_id: string }>;
  }>;
  attachments: Array<{
    id: string;
    filename: string;
    size: number;
    width: number;
    height: number;
    description?: string;
  }>;
  /** Earlier contents, oldest first. */
  edits: string[];
  deleted: boolean;
  interactionId: string;
}

export interface Interaction {
  id: string;
  token: string;
  type: number;
  createdAt: number;
  /** The callback's type (4 reply, 5 deferred, 6 deferred update, 7 update, 8 autocomplete). */
  callback?: number;
  callbackData?: Record<string, unknown>;
  /** Messages this interaction produced: the original response first, then follow-ups. */
  messages: DcMessage[];
  /** For button presses: the message the button was on. */
  source?: DcMessage;
}

interface RegisteredOption {
  type: number;
  name: string;
  description: string;
  required?: boolean;
  choices?: Array<{ name: string; value: string | number }>;
  autocomplete?: boolean;
  min_value?: number;
  max_value?: number;
}

interface RegisteredCommand {
  id: string;
  application_id: string;
  guild_id?: string;
  name: string;
  description: string;
  type: number;
  version: string;
  default_member_permissions: null;
  options?: RegisteredOption[];
}

class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

let snowflake = BigInt(Date.now() - 1420070400000) << 22n;
const nextId = () => String((snowflake += 1n));

export class DiscordEmulator extends Observable {
  readonly token = `${Buffer.from('900000000000000001').toString('base64')}.emulator.${'x'.repeat(27)}`;
  readonly applicationId = '900000000000000001';
  readonly guildId = '910000000000000001';
  readonly channelId = '920000000000000001';
  readonly botUser = {
    id: this.applicationId,
    username: 'bosun',
    discriminator: '0',
    global_name: null,
    avatar: null,
    bot: true,
  };
  readonly globalCommands: RegisteredCommand[] = [];
  readonly guildCommands: RegisteredCommand[] = [];
  readonly interactions: Interaction[] = [];
  /** Messages the bot posted to channels on its own (notifications), oldest first. */
  readonly channelMessages: DcMessage[] = [];
  readonly restCalls: Array<{ method: string; path: string; status: number; at: number }> = [];
  /** Requests refused by the rate limits (not injected). */
  rateLimited = 0;
  /**
   * The gateway's health while REST answers: 'down' refuses connections (503 to the upgrade),
   * 'mute' takes them and says HELLO but never answers IDENTIFY (no READY).
   */
  gateway: 'up' | 'down' | 'mute' = 'up';
  heartbeats = 0;
  identifies = 0;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<WebSocket>();
  private seq = 0;
  private readonly buckets = new Map<string, Limit>();
  private readonly faults: Array<{ route: RegExp; status: number; code: number; message: string }> = [];

  constructor(
    private readonly options: {
      heartbeatMs?: number;
      routeLimit?: { burst: number; perSecond: number };
      /** Role ids that exist in the guild besides @everyone. */
      roles?: string[];
    } = {},
  ) {
    super();
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  private get port(): number {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('emulator not started');
    return addr.port;
  }

  /** Listen on `port` (default: any free one; a given one brings it up where a client already looks). */
  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (err instanceof RestError)
          return this.json(res, err.status, { message: err.message, code: err.code });
        this.json(res, 500, { message: (err as Error).message, code: 0 });
      });
    });
    this.wss = new WebSocketServer({
      server: this.server,
      path: '/gateway',
      // A gateway that is down refuses the upgrade, as Discord's does in an outage.
      verifyClient: (_info, done) =>
        this.gateway === 'down' ? done(false, 503, 'Service Unavailable') : done(true),
    });
    this.wss.on('connection', (ws) => this.onSocket(ws));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    return this;
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /**
   * The next REST call whose `METHOD /path` (without /api/v10) matches `route` fails as Discord fails
   * it: this status and a JSON body `{ message, code }` (e.g. 404, 10062, 'Unknown interaction').
   */
  failNext(route: RegExp, status: number, code: number, message: string): void {
    this.faults.push({ route, status, code, message });
  }

  /** Open gateway sessions. */
  get connections(): number {
    return [...this.sockets].filter((s) => s.readyState === s.OPEN).length;
  }

  // --- the gateway ---

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.changed();
    });
    this.send(ws, { op: 10, d: { heartbeat_interval: this.options.heartbeatMs ?? 41_250 } });
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> | number | null };
      if (msg.op === 1) {
        this.heartbeats++;
        this.send(ws, { op: 11 });
      } else if (msg.op === 2) this.identify(ws, msg.d as Record<string, unknown>);
      this.changed();
    });
  }

  private identify(ws: WebSocket, d: Record<string, unknown>): void {
    if (this.gateway === 'mute') return;
    if (d.token !== this.token) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    this.identifies++;
    this.dispatch(ws, 'READY', {
      v: 10,
      user: { ...this.botUser, verified: true, flags: 0, mfa_enabled: false },
      guilds: [{ id: this.guildId, unavailable: true }],
      session_id: randomBytes(16).toString('hex'),
      resume_gateway_url: `ws://127.0.0.1:${this.port}/gateway`,
      shard: [0, 1],
      application: { id: this.applicationId, flags: 0 },
      private_channels: [],
    });
    this.dispatch(ws, 'GUILD_CREATE', {
      id: this.guildId,
      name: 'bosun test server',
      icon: null,
      owner_id: '1',
      unavailable: false,
      member_count: 3,
      large: false,
      joined_at: new Date().toISOString(),
      roles: [this.guildId, ...(this.options.roles ?? [])].map((id, i) => ({
        id,
        name: i === 0 ? '@everyone' : `role${i}`,
        permissions: '1071698660929',
        position: i,
        color: 0,
        hoist: false,
        managed: false,
        mentionable: false,
        flags: 0,
      })),
      channels: [
        {
          id: this.channelId,
          type: 0,
          name: 'trading',
          guild_id: this.guildId,
          position: 0,
          permission_overwrites: [],
          nsfw: false,
          parent_id: null,
        },
      ],
      threads: [],
      members: [],
      presences: [],
      voice_states: [],
      emojis: [],
      stickers: [],
      features: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
      preferred_locale: 'en-US',
      premium_tier: 0,
      system_channel_flags: 0,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      mfa_level: 0,
      nsfw_level: 0,
    });
  }

  private send(ws: WebSocket, payload: Record<string, unknown>): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(payload));
  }

  private dispatch(ws: WebSocket, t: string, d: unknown): void {
    this.send(ws, { op: 0, t, s: ++this.seq, d });
  }

  private broadcast(t: string, d: unknown): void {
    const open = [...this.sockets].filter((s) => s.readyState === s.OPEN);
    if (open.length === 0) throw new Error('no gateway session to deliver to');
    for (const ws of open) this.dispatch(ws, t, d);
  }

  // --- what users do ---

  /** A user runs a slash command, typed as Discord's client would send it after checking the options. */
  slash(
    user: DcUser,
    name: string,
    options: Record<string, string | number | boolean> = {},
    where: Where = {},
  ): Interaction {
    const cmd = this.lookup(name, where);
    const opts = this.typedOptions(cmd, options, true);
    return this.interact(2, user, where, {
      id: cmd.id,
      name,
      type: 1,
      options: opts,
      ...(where.guild === false ? {} : { guild_id: this.guildId }),
    });
  }

  /** A user types into an autocomplete option; the answer is the interaction's callbackData.choices. */
  autocomplete(
    user: DcUser,
    name: string,
    focused: string,
    typed: string,
    options: Record<string, string | number | boolean> = {},
    where: Where = {},
  ): Interaction {
    const cmd = this.lookup(name, where);
    const opts = this.typedOptions(cmd, options, false);
    const option = cmd.options?.find((o) => o.name === focused);
    if (!option?.autocomplete) throw new Error(`option ${focused} of /${name} has no autocomplete`);
    opts.push({ name: focused, type: option.type, value: typed, focused: true });
    return this.interact(4, user, where, { id: cmd.id, name, type: 1, options: opts });
  }

  /** A user presses a button on a message. */
  press(user: DcUser, message: DcMessage, customId: string, where: Where = {}): Interaction {
    const ix = this.interact(3, user, where, { custom_id: customId, component_type: 2 }, this.wire(message));
    ix.source = message;
    return ix;
  }

  /** Every button of a message. */
  static buttons(message: DcMessage): Array<{ label: string; customId: string }> {
    return message.components.flatMap((row) =>
      row.components.map((b) => ({ label: b.label, customId: b.custom_id })),
    );
  }

  private lookup(name: string, where: Where): RegisteredCommand {
    const scope =
      where.guild === false ? this.globalCommands : [...this.guildCommands, ...this.globalCommands];
    const cmd = scope.find((c) => c.name === name);
    if (!cmd) throw new Error(`/${name} is not registered`);
    return cmd;
  }

  private typedOptions(
    cmd: RegisteredCommand,
    given: Record<string, string | number | boolean>,
    checkRequired: boolean,
  ) {
    const out: Array<{ name: string; type: number; value: string | number | boolean; focused?: boolean }> =
      [];
    for (const [k, v] of Object.entries(given)) {
      const o = cmd.options?.find((x) => x.name === k);
      if (!o) throw new Error(`/${cmd.name} has no option ${k}`);
      const ok =
        o.type === 3
          ? typeof v === 'string'
          : o.type === 5
            ? typeof v === 'boolean'
            : typeof v === 'number' && (o.type !== 4 || Number.isInteger(v));
      if (!ok) throw new Error(`option ${k} of /${cmd.name} must be of type ${o.type}`);
      if (
        typeof v === 'number' &&
        ((o.min_value !== undefined && v < o.min_value) || (o.max_value !== undefined && v > o.max_value))
      )
        throw new Error(`option ${k} of /${cmd.name} is out of its range (the client would not send it)`);
      if (o.choices && !o.choices.some((c) => c.value === v))
        throw new Error(`option ${k} of /${cmd.name} must be one of its choices`);
      out.push({ name: k, type: o.type, value: v });
    }
    if (checkRequired)
      for (const o of cmd.options ?? [])
        if (o.required && !(o.name in given)) throw new Error(`option ${o.name} of /${cmd.name} is required`);
    return out;
  }

  private interact(
    type: number,
    user: DcUser,
    where: Where,
    data: Record<string, unknown>,
    message?: unknown,
  ): Interaction {
    const ix: Interaction = {
      id: nextId(),
      token: `tok_${randomBytes(24).toString('hex')}`,
      type,
      createdAt: Date.now(),
      messages: [],
    };
    this.interactions.push(ix);
    const fullUser = {
      id: user.id,
      username: user.username,
      discriminator: '0',
      global_name: user.username,
      avatar: null,
    };
    const inGuild = where.guild !== false;
    this.broadcast('INTERACTION_CREATE', {
      id: ix.id,
      application_id: this.applicationId,
      type,
      data,
      token: ix.token,
      version: 1,
      locale: 'en-US',
      app_permissions: '1071698660929',
      entitlements: [],
      authorizing_integration_owners: inGuild ? { '0': this.guildId } : { '1': user.id },
      context: inGuild ? 0 : 1,
      ...(message ? { message } : {}),
      ...(inGuild
        ? {
            guild_id: this.guildId,
            guild_locale: 'en-US',
            channel_id: this.channelId,
            channel: {
              id: this.channelId,
              type: 0,
              guild_id: this.guildId,
              name: 'trading',
              position: 0,
              permission_overwrites: [],
              flags: 0,
            },
            member: {
              user: fullUser,
              roles: where.roles ?? [],
              permissions: '1071698660929',
              joined_at: new Date().toISOString(),
              deaf: false,
              mute: false,
              flags: 0,
              pending: false,
              nick: null,
              avatar: null,
              premium_since: null,
              communication_disabled_until: null,
            },
          }
        : {
            channel_id: `dm${user.id}`,
            channel: { id: `dm${user.id}`, type: 1, recipients: [fullUser], flags: 0 },
            user: fullUser,
          }),
    });
    return ix;
  }

  // --- REST ---

  private json(
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    if (res.writableEnded) return;
    if (status === 204) res.writeHead(204, headers).end();
    else res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const { payload, files } = this.parseBody(req, body);
    const record = (status: number) => {
      this.restCalls.push({ method, path, status, at: Date.now() });
      this.changed();
    };
    // Like Discord: a bucket per route and top-level resource (an interaction's webhook is one).
    const bucketKey = `${method} ${path.replace(/\/messages\/\d+/, '/messages/:id')}`;
    const limit = this.bucket(bucketKey);
    const wait = limit.take();
    const rl = {
      'x-ratelimit-limit': String(limit.burst),
      'x-ratelimit-bucket': Buffer.from(bucketKey).toString('hex').slice(0, 32),
    };
    if (wait > 0) {
      this.rateLimited++;
      record(429);
      return this.json(
        res,
        429,
        { message: 'You are being rate limited.', retry_after: wait, global: false, code: 0 },
        {
          ...rl,
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset-after': wait.toFixed(3),
          'retry-after': String(Math.ceil(wait)),
        },
      );
    }
    const headers = {
      ...rl,
      'x-ratelimit-remaining': String(Math.floor(limit.available())),
      'x-ratelimit-reset-after': (1 / limit.perSecond).toFixed(3),
    };
    const fault = this.faults.findIndex((f) => f.route.test(`${method} ${path}`));
    if (fault >= 0) {
      const f = this.faults.splice(fault, 1)[0]!;
      record(f.status);
      return this.json(res, f.status, { message: f.message, code: f.code }, headers);
    }
    try {
      const { status, result } = this.route(method, path, req.headers.authorization, url, payload, files);
      record(status);
      this.json(res, status, result, headers);
    } catch (err) {
      if (!(err instanceof RestError)) throw err;
      record(err.status);
      this.json(res, err.status, { message: err.message, code: err.code }, headers);
    }
  }

  private bucket(key: string): Limit {
    let l = this.buckets.get(key);
    if (!l) {
      const spec = this.options.routeLimit ?? { burst: 5, perSecond: 5 };
      l = new Limit(spec.burst, spec.perSecond);
      this.buckets.set(key, l);
    }
    return l;
  }

  private parseBody(
    req: IncomingMessage,
    body: Buffer,
  ): { payload: Record<string, unknown>; files: Array<{ field: string; filename: string; data: Buffer }> } {
    const type = req.headers['content-type'] ?? '';
    if (body.length === 0) return { payload: {}, files: [] };
    if (type.startsWith('multipart/form-data')) {
      const form = parseMultipart(body, type);
      return {
        payload: JSON.parse(form.fields.payload_json ?? '{}') as Record<string, unknown>,
        files: form.files,
      };
    }
    return { payload: JSON.parse(body.toString('utf8')) as Record<string, unknown>, files: [] };
  }

  private route(
    method: string,
    path: string,
    auth: string | undefined,
    url: URL,
    body: Record<string, unknown>,
    files: Array<{ field: string; filename: string; data: Buffer }>,
  ): { status: number; result?: unknown } {
    const botAuth = () => {
      if (auth !== `Bot ${this.token}`) throw new RestError(401, 0, '401: Unauthorized');
    };
    let m: RegExpExecArray | null;
    if (method === 'GET' && path === '/gateway/bot') {
      botAuth();
      return {
        status: 200,
        result: {
          url: `ws://127.0.0.1:${this.port}/gateway`,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
        },
      };
    }
    if (method === 'GET' && path === '/applications/@me') {
      botAuth();
      return {
        status: 200,
        result: {
          id: this.applicationId,
          name: 'bosun',
          description: '',
          flags: 0,
          bot_public: false,
          bot_require_code_grant: false,
          verify_key: 'x',
          icon: null,
        },
      };
    }
    if ((m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(path))) {
      botAuth();
      if (m[1] !== this.applicationId) throw new RestError(403, 50001, 'Missing Access');
      if (m[2] !== undefined && m[2] !== this.guildId) throw new RestError(403, 50001, 'Missing Access');
      const list = m[2] ? this.guildCommands : this.globalCommands;
      if (method === 'GET') return { status: 200, result: list };
      if (method === 'PUT') {
        const cmds = body as unknown as Array<Record<string, unknown>>;
        if (!Array.isArray(cmds)) throw new RestError(400, 50035, 'Invalid Form Body');
        const registered = cmds.map((c) => this.checkCommand(c, m![2]));
        list.splice(0, list.length, ...registered);
        this.changed();
        return { status: 200, result: registered };
      }
    }
    if (method === 'POST' && (m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path))) {
      const ix = this.interactions.find((i) => i.id === m![1] && i.token === m![2]);
      if (!ix || Date.now() - ix.createdAt > 3000) throw new RestError(404, 10062, 'Unknown interaction');
      if (ix.callback !== undefined)
        throw new RestError(400, 40060, 'Interaction has already been acknowledged.');
      const type = Number(body.type);
      const data = (body.data ?? {}) as Record<string, unknown>;
      ix.callback = type;
      ix.callbackData = data;
      if (type === 4) ix.messages.push(this.message(this.channelId, ix.id, data, files));
      else if (type === 5)
        ix.messages.push(
          this.message(this.channelId, ix.id, { content: '', flags: Number(data.flags ?? 0) | 128 }, []),
        );
      else if (type === 7) {
        if (!ix.source) throw new RestError(400, 40060, 'UPDATE_MESSAGE is only for component interactions');
        this.edit(ix.source, data, files);
      } else if (type === 8) {
        const choices = (data.choices ?? []) as unknown[];
        if (choices.length > 25) throw new RestError(400, 50035, 'Invalid Form Body: at most 25 choices');
      } else if (type !== 6)
        throw new RestError(400, 50035, `Invalid Form Body: unknown callback type ${type}`);
      this.changed();
      if (url.searchParams.get('with_response') === 'true')
        return {
          status: 200,
          result: {
            interaction: { id: ix.id, type: ix.type },
            resource: { type, ...(ix.messages[0] ? { message: this.wire(ix.messages[0]) } : {}) },
          },
        };
      return { status: 204 };
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/(@original|\d+))?$/.exec(path))) {
      if (m[1] !== this.applicationId) throw new RestError(404, 10015, 'Unknown Webhook');
      const ix = this.interactions.find((i) => i.token === m![2]);
      if (!ix || ix.callback === undefined) throw new RestError(404, 10015, 'Unknown Webhook');
      const target = () => {
        const msg =
          m![3] === '@original'
            ? ix.callback === 7 || ix.callback === 6
              ? ix.source
              : ix.messages[0]
            : ix.messages.find((x) => x.id === m![3]);
        if (!msg || msg.deleted) throw new RestError(404, 10008, 'Unknown Message');
        return msg;
      };
      if (m[3] === undefined && method === 'POST') {
        const msg = this.message(this.channelId, ix.id, body, files);
        ix.messages.push(msg);
        this.changed();
        return { status: 200, result: this.wire(msg) };
      }
      if (method === 'GET') return { status: 200, result: this.wire(target()) };
      if (method === 'PATCH') {
        const msg = target();
        this.edit(msg, body, files);
        this.changed();
        return { status: 200, result: this.wire(msg) };
      }
      if (method === 'DELETE') {
        target().deleted = true;
        this.changed();
        return { status: 204 };
      }
    }
    if ((m = /^\/channels\/(\d+)\/messages(?:\/(\d+))?$/.exec(path))) {
      botAuth();
      if (m[2] === undefined && method === 'POST') {
        const msg = this.message(m[1]!, '', body, files);
        this.channelMessages.push(msg);
        this.changed();
        return { status: 200, result: this.wire(msg) };
      }
      const msg = this.channelMessages.find((x) => x.id === m![2] && x.channel_id === m![1]);
      if (!msg || msg.deleted) throw new RestError(404, 10008, 'Unknown Message');
      if (method === 'PATCH') {
        this.edit(msg, body, files);
        this.changed();
        return { status: 200, result: this.wire(msg) };
      }
    }
    throw new RestError(404, 0, `404: Not Found (${method} ${path})`);
  }

  private checkCommand(c: Record<string, unknown>, guildId?: string): RegisteredCommand {
    const bad = (why: string) => new RestError(400, 50035, `Invalid Form Body: ${why}`);
    const name = String(c.name ?? '');
    if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(name) || name !== name.toLowerCase())
      throw bad(`command name "${name}"`);
    const description = String(c.description ?? '');
    if (description.length < 1 || description.length > 100) throw bad(`description of ${name}`);
    const options = (c.options ?? []) as RegisteredOption[];
    if (options.length > 25) throw bad(`${name} has more than 25 options`);
    let optionalSeen = false;
    for (const o of options) {
      if (!/^[-_\p{L}\p{N}]{1,32}$/u.test(o.name) || o.name !== o.name.toLowerCase())
        throw bad(`option name "${o.name}"`);
      if (!o.description || o.description.length > 100) throw bad(`description of option ${o.name}`);
      if (![3, 4, 5, 10].includes(o.type)) throw bad(`type of option ${o.name}`);
      if (o.required && optionalSeen) throw bad(`required option ${o.name} after an optional one`);
      if (!o.required) optionalSeen = true;
      if (o.choices && (o.choices.length > 25 || o.autocomplete)) throw bad(`choices of option ${o.name}`);
    }
    return {
      id: nextId(),
      application_id: this.applicationId,
      ...(guildId ? { guild_id: guildId } : {}),
      name,
      description,
      type: Number(c.type ?? 1),
      version: nextId(),
      default_member_permissions: null,
      options,
    };
  }

  /** A new message in a channel: an interaction's (`interactionId`), or posted by the bot on its own (''). */
  private message(
    channelId: string,
    interactionId: string,
    data: Record<string, unknown>,
    files: Array<{ field: string; filename: string; data: Buffer }>,
  ): DcMessage {
    const msg: DcMessage = {
      id: nextId(),
      channel_id: channelId,
      content: '',
      flags: 0,
      components: [],
      attachments: [],
      edits: [],
      deleted: false,
      interactionId,
    };
    this.apply(msg, data, files);
    return msg;
  }

  private edit(
    msg: DcMessage,
    data: Record<string, unknown>,
    files: Array<{ field: string; filename: string; data: Buffer }>,
  ): void {
    msg.edits.push(msg.content);
    this.apply(msg, data, files);
  }

  /** Set a message's fields from a payload, checking Discord's limits. */
  private apply(
    msg: DcMessage,
    data: Record<string, unknown>,
    files: Array<{ field: string; filename: string; data: Buffer }>,
  ): void {
    const bad = (why: string) => new RestError(400, 50035, `Invalid Form Body: ${why}`);
    if (data.content !== undefined) {
      const content = String(data.content ?? '');
      if (content.length > 2000) throw bad('content: Must be 2000 or fewer in length.');
      msg.content = content;
    }
    if (data.flags !== undefined) msg.flags = Number(data.flags);
    if (data.components !== undefined) {
      const rows = data.components as DcMessage['components'];
      if (rows.length > 5) throw bad('components: at most 5 rows');
      for (const row of rows) {
        if (row.type !== 1 || row.components.length > 5)
          throw bad('components: an action row holds at most 5 buttons');
        for (const b of row.components) {
          if (b.type !== 2 || !b.custom_id || b.custom_id.length > 100)
            throw bad('components: custom_id must be 1 to 100 characters');
          if (!b.label || b.label.length > 80)
            throw bad('components: button label must be 1 to 80 characters');
        }
      }
      msg.components = rows;
    }
    if (files.length > 0 || data.attachments !== undefined) {
      const meta = (data.attachments ?? []) as Array<{
        id: string | number;
        description?: string;
        filename?: string;
      }>;
      msg.attachments = files.map((f, i) => {
        if (f.data.readUInt32BE(0) !== 0x89504e47) throw bad(`files[${i}] is not a PNG`);
        const info = meta.find((a) => `files[${a.id}]` === f.field) ?? meta[i];
        return {
          id: nextId(),
          filename: f.filename,
          size: f.data.length,
          width: f.data.readUInt32BE(16),
          height: f.data.readUInt32BE(20),
          ...(info?.description ? { description: info.description } : {}),
        };
      });
    }
    if (
      msg.content === '' &&
      msg.attachments.length === 0 &&
      msg.components.length === 0 &&
      (msg.flags & 128) === 0
    )
      throw bad('Cannot send an empty message');
  }

  /** A message as the API returns it. */
  wire(msg: DcMessage): Record<string, unknown> {
    return {
      id: msg.id,
      type: 20,
      channel_id: msg.channel_id,
      author: this.botUser,
      content: msg.content,
      timestamp: new Date().toISOString(),
      edited_timestamp: msg.edits.length > 0 ? new Date().toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: msg.attachments.map((a) => ({
        ...a,
        url: `https://cdn.example/${a.id}/${a.filename}`,
        proxy_url: `https://cdn.example/${a.id}/${a.filename}`,
        content_type: 'image/png',
      })),
      embeds: [],
      components: msg.components,
      pinned: false,
      flags: msg.flags,
      webhook_id: this.applicationId,
      application_id: this.applicationId,
    };
  }
}
