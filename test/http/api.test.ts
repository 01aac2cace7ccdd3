/**
 * The JSON API: the chat commands over HTTP with a token, the same roles and replies, an OpenAPI
 * description from the commands' schemas, and one-line refusals (no token, a wrong one, too many
 * wrong ones, a role too low, a body that is not the API's).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../helpers/bot.js';

const VIEWER = 'viewer0123456789abcdefghijklmn';
const ADMIN = 'admin0123456789abcdefghijklmnop';

let t: TestBot | undefined;
afterEach(async () => {
  await t?.bot.stop();
  t = undefined;
});

async function bot(): Promise<TestBot> {
  t = await startTestBot({
    HTTP_PORT: '0',
    API_TOKENS: `ci:viewer:${VIEWER}, ops:admin:${ADMIN}`,
    REPLAY_RUNS: 'none',
  });
  return t;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came
type Json = any;

async function call(
  path: string,
  o: { token?: string; body?: unknown; method?: string; raw?: string } = {},
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${t!.bot.httpUrl}${path}`, {
    method: o.method ?? (o.body !== undefined || o.raw !== undefined ? 'POST' : 'GET'),
    headers: {
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      'content-type': 'application/json',
    },
    ...(o.raw !== undefined ? { body: o.raw } : o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

describe('the JSON API', () => {
  it('runs a command for a token, with the replies the chats get', async () => {
    await bot();
    const r = await call('/api/commands/status', { token: VIEWER, body: {} });
    expect(r.status).toBe(200);
    expect(r.json.replies[0].text.join('\n')).toMatch(/^bosun status/);
    expect(r.json.replies[0].text.join('\n')).toMatch(/Health\s+ok/);
  });

  it('takes named arguments or the words of a chat line, and sends a chart as a base64 PNG', async () => {
    await bot();
    const named = await call('/api/commands/backtest', {
      token: VIEWER,
      body: { args: { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '1h' } },
    });
    expect(named.status).toBe(200);
    const image = named.json.replies.flatMap((r: Json) => r.images)[0];
    expect(image.filename).toMatch(/\.png$/);
    expect(Buffer.from(image.png, 'base64').subarray(1, 4).toString()).toBe('PNG');
    // The progress message, edited as the backtest went, has its last words.
    expect(named.json.replies[0].text.join('\n')).not.toMatch(/^0%/);
    const worded = await call('/api/commands/strategies', { token: VIEWER, body: { words: [] } });
    expect(worded.json.replies[0].text.join('\n')).toMatch(/ema-cross/);
    // Arguments naming what does not exist: 404, with its own answer as in chat, on one line.
    const wrong = await call('/api/commands/backtest', {
      token: VIEWER,
      body: { args: { strategy: 'no-such', symbol: 'BTC/USDT', timeframe: '1h' } },
    });
    expect(wrong.status).toBe(404);
    expect(wrong.json.error).toMatch(/no-such.*Usage: \/backtest/);
    expect(wrong.json.error).not.toMatch(/\n/);
  }, 30_000);

  it('refuses arguments above the role with 403, as the chats refuse them', async () => {
    await bot();
    const look = await call('/api/commands/risk', { token: VIEWER, body: { words: [] } });
    expect(look.status).toBe(200);
    const change = await call('/api/commands/risk', {
      token: VIEWER,
      body: { words: ['riskPerTrade=0.005'] },
    });
    expect(change).toEqual({
      status: 403,
      json: { error: 'Changing risk settings needs the admin role; you are a viewer.' },
    });
    expect(t!.bot.services.engine.risk().riskPerTrade).not.toBe(0.005);
  });

  it('lists what a role may run, and refuses a command above it (403)', async () => {
    await bot();
    const mine = await call('/api/commands', { token: VIEWER });
    const names = mine.json.commands.map((c: { name: string }) => c.name);
    expect(names).toContain('status');
    expect(names).not.toContain('panic');
    const r = await call('/api/commands/panic', { token: VIEWER, body: {} });
    expect(r).toEqual({ status: 403, json: { error: '/panic needs the admin role; you are a viewer.' } });
    const all = await call('/api/commands', { token: ADMIN });
    expect(all.json.commands.map((c: { name: string }) => c.name)).toContain('panic');
  });

  it('says with its status what a command did not do: 409 nothing done, 404 not found, only the last line', async () => {
    await bot();
    // A trade by hand, previewed over the API: its Cancel, then a late Confirm that finds it decided.
    const preview = await call('/api/commands/buy', { token: ADMIN, body: { words: ['BTC/USDT'] } });
    expect(preview.status).toBe(200);
    const [confirm, cancel] = preview.json.replies[0].buttons;
    expect(confirm.label).toBe('Confirm');
    expect(
      (await call(`/api/commands/${cancel.command}`, { token: ADMIN, body: { words: cancel.words } })).status,
    ).toBe(200);
    const late = await call(`/api/commands/${confirm.command}`, {
      token: ADMIN,
      body: { words: confirm.words },
    });
    expect(late.status).toBe(409);
    expect(late.json.error).toMatch(/already rejected by ops; nothing was done/);
    const missing = await call('/api/commands/backtests', {
      token: VIEWER,
      body: { words: ['show', 'BZZZZZ'] },
    });
    expect(missing.status).toBe(404);
    // A command that sent a progress message first: the refusal alone, not the progress bar.
    const bad = await call('/api/commands/backtest', {
      token: VIEWER,
      body: { words: ['ema-cross', 'NOPE/USDT', '1h'] },
    });
    expect(bad.status).toBe(404);
    expect(bad.json.error).not.toMatch(/\[\.+\]|starting/);
    expect(bad.json.error).toMatch(/NOPE\/USDT/);
  }, 30_000);

  it('refuses no token, an unknown one, and an address that keeps guessing (not its right token), in one line each', async () => {
    await bot();
    expect(await call('/api/commands')).toEqual({
      status: 401,
      json: { error: 'an API token is needed: send the header Authorization: Bearer TOKEN' },
    });
    for (let i = 0; i < 10; i++)
      expect(await call('/api/commands', { token: `guess${i}0123456789abcdefghijk` })).toEqual({
        status: 401,
        json: { error: 'that API token is not known; allowed: a token from API_TOKENS' },
      });
    const locked = await call('/api/commands', { token: 'guess-more-0123456789abcdefghijk' });
    expect(locked.status).toBe(429);
    expect(locked.json.error).toMatch(/^too many wrong API tokens from 127\.0\.0\.1; try again in \d+ s$/);
    // The right token still works: guessing cannot lock the owners out.
    expect((await call('/api/commands', { token: VIEWER })).status).toBe(200);
    expect(t!.logText()).toContain('an address guessed wrong too often');
    expect(t!.logText()).not.toContain(VIEWER);
  });

  it('refuses an argument a command does not have, switching the mode, and subscribing a script', async () => {
    await bot();
    expect(
      await call('/api/commands/risk', { token: ADMIN, body: { args: { riskPerTrade: '0.005' } } }),
    ).toEqual({
      status: 400,
      json: { error: '/risk has no argument riskPerTrade; allowed: action, changes' },
    });
    expect(await call('/api/commands/mode', { token: ADMIN, body: { words: ['live'] } })).toEqual({
      status: 403,
      json: {
        error:
          'the trading mode is switched in chat, where an admin confirms it with a button; over the API /mode only reads it',
      },
    });
    expect((await call('/api/commands/mode', { token: ADMIN, body: {} })).status).toBe(200);
    expect(await call('/api/commands/subscribe', { token: VIEWER, body: {} })).toEqual({
      status: 403,
      json: { error: 'a script is no chat: its notices go to WEBHOOK_URL' },
    });
  });

  it("refuses a body that is not the API's, and an unknown command, saying what is allowed", async () => {
    await bot();
    expect(await call('/api/commands/status', { token: VIEWER, raw: '{not json' })).toEqual({
      status: 400,
      json: { error: 'the body is not JSON; allowed: {"args": {...}} or {"words": [...]}' },
    });
    expect((await call('/api/commands/status', { token: VIEWER, body: { args: {}, extra: 1 } })).status).toBe(
      400,
    );
    expect(await call('/api/commands/frobnicate', { token: VIEWER, body: {} })).toEqual({
      status: 404,
      json: { error: 'no command frobnicate; GET /api/commands lists yours' },
    });
  });

  it('gives what the pages show as data: overview, trades (paged), signals, the equity curve', async () => {
    t = await startTestBot({
      HTTP_PORT: '0',
      API_TOKENS: `ci:viewer:${VIEWER}`,
      REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto',
      REPLAY_SPEED: '5000',
    });
    const deadline = Date.now() + 20_000;
    let trades: Json[] = [];
    while (trades.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      trades = (await call('/api/trades', { token: VIEWER })).json.trades;
    }
    expect(trades.length).toBeGreaterThanOrEqual(3);
    // The next page: the trades that closed before the second one.
    const page = (await call(`/api/trades?limit=1&before=${trades[1].exitTime}`, { token: VIEWER })).json
      .trades;
    expect(page.map((x: Json) => x.id)).toEqual([trades[0].id]);
    const o = (await call('/api/overview', { token: VIEWER })).json;
    expect(o.mode).toBe('paper');
    expect(o.health.status).toMatch(/ok|degraded/);
    expect(o.runs.map((r: Json) => r.strategy)).toEqual(['ema-cross']);
    expect(o.accounts[0]).toMatchObject({ quote: 'USDT', equity: expect.any(Number) });
    const signals = (await call('/api/signals?limit=2', { token: VIEWER })).json.signals;
    expect(signals).toHaveLength(2);
    expect(Object.keys(signals[0].indicators).length).toBeGreaterThan(0);
    const eq = (await call('/api/equity?quote=USDT', { token: VIEWER })).json;
    expect(eq.points.length).toBeGreaterThan(0);
    expect(await call('/api/trades?limit=5000', { token: VIEWER })).toEqual({
      status: 400,
      json: {
        error: expect.stringMatching(
          /^limit: .*; allowed: limit \(1 to 1000, default 100\), before \(epoch ms: trades that closed before it\)$/,
        ),
      },
    });
    expect((await call('/api/overview?x=1', { token: VIEWER })).status).toBe(400);
    expect((await call('/api/overview')).status).toBe(401);
  }, 40_000);

  it('describes every command in OpenAPI 3.1, its arguments from its schema', async () => {
    await bot();
    const doc = (await call('/api/openapi.json')).json;
    expect(doc.openapi).toBe('3.1.0');
    const names = Object.keys(doc.paths).map((p) => p.replace('/api/commands/', ''));
    expect(names).toEqual(expect.arrayContaining(['status', 'backtest', 'panic', 'start']));
    const bt = doc.paths['/api/commands/backtest'].post;
    expect(bt['x-bosun-role']).toBe('viewer');
    const args = bt.requestBody.content['application/json'].schema.oneOf[1].properties.args;
    expect(Object.keys(args.properties)).toEqual(expect.arrayContaining(['strategy', 'symbol', 'timeframe']));
  });
});
