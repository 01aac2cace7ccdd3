/**
 * The JSON API (`/api`): every chat command, for scripts, with the same role rules, argument checks
 * and replies, through the same dispatcher the chats use.
 *
 * - `POST /api/commands/{name}` with `Authorization: Bearer TOKEN` (`API_TOKENS`: NAME:ROLE:TOKEN)
 *   and a JSON body: `{ "args": { ...named arguments } }` or `{ "words": ["...", ...] }` (what would
 *   follow the command in chat). The answer: `{ "replies": [{ "text": [...], "images": [...],
 *   "buttons": [...] }] }`; a button is `{ label, command, words }`, run by posting those words.
 *   A command that did not run answers with a status and the line the chat would have read:
 *   403 refused for the role (arguments included), 400 for its arguments, 404 for something it did
 *   not find, 409 when it ran but nothing was done (a signal decided already), 500 failed, 503
 *   shutting down.
 * - `GET /api/commands`: the commands this token's role may run.
 * - `GET /api/overview`, `/api/trades`, `/api/signals`, `/api/equity`: what the pages show, as data
 *   (any role): the mode, health, runs, positions with unrealised PnL, accounts and regime; closed
 *   trades (paged); recent signals with the indicator values behind them; the equity curve.
 * - `GET /api/openapi.json`: an OpenAPI 3.1 description generated from the commands' zod schemas.
 *
 * Tokens are compared in constant time and never logged (the log names the token's NAME). Ten bad
 * tokens from one address within a minute and that address is refused for the rest of the minute.
 * Every refusal is one line of JSON: `{ "error": "..." }`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { type Dispatcher, keptReplies, type Outcome, type Person } from '../chat/dispatch.js';
import type { Command, Services } from '../chat/command.js';
import { PLAIN_TEXT, type Reply, renderMessages } from '../chat/reply.js';
import type { Role } from '../config.js';
import type { Logger } from '../logger.js';

export interface ApiToken {
  name: string;
  role: Role;
  token: string;
}

export interface ApiOptions {
  dispatcher: Dispatcher;
  tokens: readonly ApiToken[];
  version: string;
}

/** Bad tokens one address may send within a minute before it is refused for the rest of it. */
const BAD_TOKENS = 10;
const MINUTE = 60_000;

const Body = z.union([
  z.object({ args: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ words: z.array(z.string().max(500)).max(50) }).strict(),
  z.object({}).strict(),
]);

const digest = (t: string) => createHash('sha256').update(t).digest();

/**
 * Commands a script may not run: switching to live trading is an admin's decision in chat, confirmed
 * with a button there; notices to scripts go to WEBHOOK_URL, not to a subscription.
 */
const NOT_OVER_API: Record<string, { why: string; always?: boolean }> = {
  mode: {
    why: 'the trading mode is switched in chat, where an admin confirms it with a button; over the API /mode only reads it',
  },
  subscribe: { why: 'a script is no chat: its notices go to WEBHOOK_URL', always: true },
  unsubscribe: { why: 'a script is no chat: its notices go to WEBHOOK_URL', always: true },
};

/** A command's named arguments (undefined: it takes any names, e.g. a strategy's parameters). */
function argNames(command: Command): string[] | undefined {
  const schema = command.args as unknown as {
    shape?: Record<string, unknown>;
    def?: { catchall?: { def?: { type?: string } } };
  };
  if (!schema.shape) return undefined;
  const catchall = schema.def?.catchall?.def?.type;
  if (catchall && catchall !== 'never') return undefined;
  return Object.keys(schema.shape);
}

const count = z
  .string()
  .regex(/^[0-9]{1,4}$/)
  .transform(Number)
  .pipe(z.number().min(1).max(1000))
  .default(100);
const time = z
  .string()
  .regex(/^[0-9]{1,15}$/)
  .transform(Number);

/** What each data read takes, for its refusals. */
const QUERY_HELP: Record<string, string> = {
  '/api/overview': 'no query',
  '/api/trades': 'limit (1 to 1000, default 100), before (epoch ms: trades that closed before it)',
  '/api/signals': 'limit (1 to 1000, default 100)',
  '/api/equity': 'quote (e.g. USDT), from and to (epoch ms)',
};

/** The overview a page shows: mode, health, feed, runs, open positions, accounts, regime. */
function overview(s: Services) {
  const e = s.engine;
  const state = e.state;
  return {
    mode: s.trading.mode,
    health: s.health(),
    feed: e.feed.describe(),
    now: e.now(),
    runs: Object.values(state.runs),
    positions: Object.values(state.positions).map((p) => ({
      ...p,
      unrealized: p.side * p.qty * (p.mark - p.entryPrice),
    })),
    accounts: e.quotes().map((quote) => {
      const a = e.account(state, quote);
      return { quote, cash: a.cash, equity: a.equity, dayStartEquity: a.dayStartEquity };
    }),
    killSwitch: state.engine.killSwitch ?? null,
    regime: s.watch.regime(),
  };
}

/**
 * Wrong secrets (API tokens, hook secrets) per address: ten within a minute and that address is
 * refused for the rest of the minute.
 */
export class Guesses {
  private readonly bad = new Map<string, { count: number; since: number }>();

  constructor(
    /** What is guessed, for the refusal and the log: "API tokens", "hook secrets". */
    private readonly what: string,
    private readonly logger?: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The refusal for an address that guessed wrong too often, if it did. Only wrong guesses are
   * refused: a right secret still works (at 24 characters and more it cannot be guessed), so an
   * attacker cannot lock the owners out, even behind a proxy where every client is one address.
   */
  locked(c: Context): Response | undefined {
    const address = addressOf(c);
    const now = this.clock();
    const b = this.bad.get(address);
    if (b && now - b.since < MINUTE && b.count >= BAD_TOKENS)
      return c.json(
        {
          error: `too many wrong ${this.what} from ${address}; try again in ${Math.ceil((b.since + MINUTE - now) / 1000)} s`,
        },
        429,
      );
    return undefined;
  }

  wrong(c: Context): void {
    const address = addressOf(c);
    const now = this.clock();
    const b = this.bad.get(address);
    const fresh = !b || now - b.since >= MINUTE;
    const count = fresh ? 1 : b.count + 1;
    this.bad.set(address, { count, since: fresh ? now : b.since });
    if (count === BAD_TOKENS)
      this.logger?.warn(
        { address, what: this.what },
        'an address guessed wrong too often: its wrong guesses are refused for a minute',
      );
    if (fresh && this.bad.size > 1000)
      for (const [a, v] of this.bad) if (now - v.since >= MINUTE) this.bad.delete(a);
  }
}

const addressOf = (c: Context) => getConnInfo(c).remote.address ?? 'unknown';

/** Whether `given` is `secret`, in time that does not depend on where they differ. */
export function sameSecret(given: string, secret: string): boolean {
  return timingSafeEqual(digest(given), digest(secret));
}

export function mountApi(app: Hono, o: ApiOptions & { guesses: Guesses }): void {
  const keys = o.tokens.map((t) => ({ ...t, digest: digest(t.token) }));

  /** The token's holder, or the refusal to answer with. */
  const who = (c: Context): ApiToken | Response => {
    const header = c.req.header('authorization') ?? '';
    const m = /^bearer ([^\s]+)$/i.exec(header);
    if (!m)
      return c.json({ error: 'an API token is needed: send the header Authorization: Bearer TOKEN' }, 401);
    const d = digest(m[1]!);
    // Every token is compared, all the way, whichever matches.
    let found: ApiToken | undefined;
    for (const k of keys) if (timingSafeEqual(k.digest, d)) found = k;
    if (found) return found;
    const locked = o.guesses.locked(c);
    if (locked) return locked;
    o.guesses.wrong(c);
    return c.json({ error: 'that API token is not known; allowed: a token from API_TOKENS' }, 401);
  };

  /** A data read for a token's holder: 400 with one line when the query is not what it takes. */
  const read = <Q extends z.ZodType>(
    path: string,
    query: Q,
    answer: (q: z.output<Q>) => Promise<unknown> | unknown,
  ) =>
    app.get(path, async (c) => {
      const t = who(c);
      if (t instanceof Response) return t;
      const q = query.safeParse(c.req.query());
      if (!q.success) {
        const issue = q.error.issues[0]!;
        return c.json(
          { error: `${issue.path.join('.') || 'the query'}: ${issue.message}; allowed: ${QUERY_HELP[path]}` },
          400,
        );
      }
      return c.json(await answer(q.data));
    });

  const services = o.dispatcher.services;
  read('/api/overview', z.object({}).strict(), () => overview(services));
  read('/api/trades', z.object({ limit: count, before: time.optional() }).strict(), (q) =>
    services.engine.store.journal
      .trades({ limit: q.limit, ...(q.before !== undefined ? { to: q.before } : {}) })
      .then((trades) => ({ trades })),
  );
  read('/api/signals', z.object({ limit: count }).strict(), (q) => ({
    signals: Object.values(services.engine.state.signals)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, q.limit)
      // Where each was announced (chat ids) is the chats' business.
      .map(({ messages: _m, ...sig }) => sig),
  }));
  read(
    '/api/equity',
    z
      .object({ quote: z.string().regex(/^[A-Z0-9]{2,10}$/), from: time.optional(), to: time.optional() })
      .strict(),
    async (q) => ({
      quote: q.quote,
      // The latest 5,000 points at most.
      points: (
        await services.engine.store.journal.equity(q.quote, q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER)
      ).slice(-5000),
    }),
  );

  app.get('/api/openapi.json', (c) => c.json(openApi(o.dispatcher.services.registry.all(), o.version)));

  app.get('/api/commands', (c) => {
    const t = who(c);
    if (t instanceof Response) return t;
    return c.json({
      commands: o.dispatcher.services.registry
        .forRole(t.role)
        .map((cmd) => ({ name: cmd.name, summary: cmd.summary, role: cmd.role })),
    });
  });

  app.post('/api/commands/:name', async (c) => {
    const t = who(c);
    if (t instanceof Response) return t;
    let raw: unknown = {};
    const text = await c.req.text();
    if (text.trim() !== '') {
      try {
        raw = JSON.parse(text);
      } catch {
        return c.json({ error: 'the body is not JSON; allowed: {"args": {...}} or {"words": [...]}' }, 400);
      }
    }
    const body = Body.safeParse(raw);
    if (!body.success)
      return c.json(
        { error: 'the body has other fields; allowed: {"args": {...named arguments}} or {"words": ["..."]}' },
        400,
      );
    const name = c.req.param('name');
    if (!o.dispatcher.services.registry.get(name))
      return c.json({ error: `no command ${name.slice(0, 40)}; GET /api/commands lists yours` }, 404);
    // Refused for the role before it runs: a status a script can act on.
    const refused = o.dispatcher.refusal(t.role, name);
    if (refused) return c.json({ error: refused }, 403);
    const command = o.dispatcher.services.registry.get(name)!;
    const given = 'args' in body.data ? Object.keys(body.data.args).length : (body.data.words?.length ?? 0);
    const notHere = NOT_OVER_API[command.name];
    if (notHere && (notHere.always || given > 0)) return c.json({ error: notHere.why }, 403);
    if ('args' in body.data) {
      const known = argNames(command);
      const unknown = known ? Object.keys(body.data.args).filter((k) => !known.includes(k)) : [];
      if (unknown.length > 0)
        return c.json(
          {
            error: `/${command.name} has no argument ${unknown.join(', ')}; allowed: ${known!.join(', ') || 'none'}`,
          },
          400,
        );
    }
    const person: Person = { platform: 'api', id: t.name, name: t.name, role: t.role };
    const { transport, replies } = keptReplies();
    const outcome = await o.dispatcher.run({
      command: name,
      ...('args' in body.data ? { options: body.data.args } : {}),
      ...('words' in body.data ? { words: body.data.words } : {}),
      person,
      chat: { platform: 'api', id: t.name, private: true },
      transport,
    });
    const status = STATUS[outcome];
    if (status === 200) return c.json({ replies: replies.map(asJson) });
    // Not done: what the chat would have said last (not a progress message before it), on one line.
    const last = replies[replies.length - 1];
    const said = last ? renderMessages(last.blocks, PLAIN_TEXT).join(' ') : '';
    return c.json({ error: said.replace(/\s*\n\s*/g, ' ').trim() || outcome }, status);
  });
}

/** The HTTP status of each way a command can end. */
const STATUS = {
  done: 200,
  undone: 409,
  refused: 403,
  invalid: 400,
  missing: 404,
  unknown: 404,
  failed: 500,
  busy: 503,
} as const satisfies Record<Outcome, number>;

/** A reply as the API answers it: its text messages, images (base64 PNG) and buttons. */
function asJson(r: Reply) {
  return {
    text: renderMessages(r.blocks, PLAIN_TEXT),
    images: r.blocks.flatMap((b) =>
      b.kind === 'image'
        ? [{ filename: b.filename, caption: b.caption, png: Buffer.from(b.png).toString('base64') }]
        : [],
    ),
    buttons: r.actions.flat().map((b) => ({ label: b.label, command: b.command, words: b.args })),
  };
}

/** OpenAPI 3.1 for the commands: one POST each, its arguments from its zod schema. */
export function openApi(commands: readonly Command[], version: string): Record<string, unknown> {
  const replies = {
    type: 'object',
    properties: {
      replies: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            text: { type: 'array', items: { type: 'string' } },
            images: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  filename: { type: 'string' },
                  caption: { type: 'string' },
                  png: { type: 'string', contentEncoding: 'base64' },
                },
              },
            },
            buttons: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  label: { type: 'string' },
                  command: { type: 'string' },
                  words: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  };
  const error = {
    description: 'Refused, in one line',
    content: {
      'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } },
    },
  };
  const paths: Record<string, unknown> = {};
  for (const cmd of commands) {
    const args = z.toJSONSchema(cmd.args, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete args.$schema;
    paths[`/api/commands/${cmd.name}`] = {
      post: {
        operationId: cmd.name,
        summary: cmd.summary,
        'x-bosun-role': cmd.role,
        security: [{ token: [] }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { type: 'object', properties: {}, additionalProperties: false },
                  {
                    type: 'object',
                    properties: { args: { ...args, additionalProperties: false } },
                    required: ['args'],
                  },
                  {
                    type: 'object',
                    properties: { words: { type: 'array', items: { type: 'string' } } },
                    required: ['words'],
                  },
                ],
              },
            },
          },
        },
        responses: {
          '200': {
            description: "The command's replies",
            content: { 'application/json': { schema: replies } },
          },
          '400': error,
          '401': error,
          '403': error,
          '404': error,
          '409': error,
          '429': error,
          '500': error,
          '503': error,
        },
      },
    };
  }
  const data = (summary: string, parameters: Array<[string, string]>) => ({
    get: {
      summary,
      security: [{ token: [] }],
      parameters: parameters.map(([name, description]) => ({
        name,
        in: 'query',
        required: false,
        description,
        schema: { type: 'string' },
      })),
      responses: {
        '200': { description: summary, content: { 'application/json': { schema: { type: 'object' } } } },
        '400': error,
        '401': error,
        '429': error,
      },
    },
  });
  paths['/api/commands'] = data('The commands this token may run', []);
  paths['/hooks/signal/{secret}'] = {
    post: {
      summary: "An alert (TradingView's, or a script's) as a signal of a run: JSON or a line of text",
      parameters: [{ name: 'secret', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                run: { type: 'string', pattern: '^[Rr][0-9]+$' },
                action: { enum: ['long', 'buy', 'short', 'exit', 'close', 'flat'] },
                stop: { type: 'number' },
                target: { type: 'number' },
                note: { type: 'string' },
              },
              required: ['run', 'action'],
            },
          },
          'text/plain': { schema: { type: 'string', example: 'R1 long stop=95 target=110 the note' } },
        },
      },
      responses: {
        '200': {
          description: 'What became of it',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        '400': error,
        '401': error,
        '404': error,
        '429': error,
      },
    },
  };
  paths['/api/overview'] = data('Mode, health, feed, runs, open positions, accounts, regime', []);
  paths['/api/trades'] = data('Closed trades, oldest first', [
    ['limit', 'how many of the latest (1 to 1000, default 100)'],
    ['before', 'epoch ms: trades that closed before it (the next page)'],
  ]);
  paths['/api/signals'] = data('Recent signals, newest first, with their indicator values', [
    ['limit', '1 to 1000, default 100'],
  ]);
  paths['/api/equity'] = data('The equity curve of a quote currency', [
    ['quote', 'e.g. USDT'],
    ['from', 'epoch ms'],
    ['to', 'epoch ms'],
  ]);
  return {
    openapi: '3.1.0',
    info: { title: 'bosun', version, description: "bosun's chat commands over HTTP, with the same roles" },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
