/**
 * The HTTP server in the bot process: health (live and ready, with which check failed), Prometheus
 * metrics, one-line refusals, the dead-man heartbeat, and `/status` saying what `/health/ready` says.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PLAIN_TEXT, renderMessages } from '../../src/chat/reply.js';
import { startHeartbeat } from '../../src/http/heartbeat.js';
import { ExchangeEmulator } from '../emulators/exchange/server.js';
import { quietLogger } from '../helpers/engine.js';
import { ROOT } from '../helpers/fixtures.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN = { platform: 'console' as const, id: 'ada', name: 'Ada', role: 'admin' as const };
const HOUR = 3_600_000;
const CONSOLE = { platform: 'console' as const, id: 'local', private: true };

let t: TestBot | undefined;
const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await t?.bot.stop();
  t = undefined;
});

async function bot(env: Record<string, string> = {}): Promise<TestBot> {
  t = await startTestBot({
    HTTP_PORT: '0',
    REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto',
    REPLAY_SPEED: '2000',
    ...env,
  });
  return t;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came
type Json = any;

async function get(path: string, init?: RequestInit): Promise<{ status: number; json: Json; text: string }> {
  const res = await fetch(`${t!.bot.httpUrl}${path}`, init);
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** A local monitor that counts the heartbeats it receives. */
async function monitor(): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.end('OK');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ping/2f0c6b1e-secret-check`, hits: () => hits };
}

describe('the HTTP server', () => {
  it('is off unless HTTP_PORT is set, and listens on 127.0.0.1 by default', async () => {
    t = await startTestBot({});
    expect(t.bot.httpUrl).toBeUndefined();
    await t.bot.stop();
    await bot();
    expect(t!.bot.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers /health/live, and /health/ready with every check', async () => {
    await bot();
    expect(await get('/health/live')).toMatchObject({ status: 200, json: { status: 'ok' } });
    const ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.status).toBe('ok');
    expect(ready.json.checks.map((c: { name: string }) => c.name)).toEqual([
      'feed',
      'exchange',
      'chats',
      'journal',
      'kill-switch',
    ]);
    expect(ready.json.checks.find((c: { name: string }) => c.name === 'feed')).toEqual({
      name: 'feed',
      state: 'ok',
      summary: '1 series on time',
      detail: '1 series on time',
    });
  });

  it('is degraded (200) with the kill-switch on, failing (503) when a series is late, saying which, as /status does', async () => {
    await bot({ REPLAY_SPEED: '1' });
    await t!.bot.services.store.update((s) => {
      s.engine.killSwitch = { at: Date.now(), reason: 'drawdown 21% over the 20% limit' };
    });
    let ready = await get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.status).toBe('degraded');
    expect(ready.json.checks.find((c: { name: string }) => c.name === 'kill-switch')).toEqual({
      name: 'kill-switch',
      state: 'degraded',
      summary: 'on: /risk resume',
      detail: "on: drawdown 21% over the 20% limit; an admin's /risk resume clears it",
    });
    await t!.bot.stop();
    // An exchange whose candles stopped three hours ago: the run's series is late.
    const h0 = Math.floor(Date.now() / HOUR) * HOUR;
    const emu = await new ExchangeEmulator([
      {
        symbol: 'BTC/USDT',
        intervalMs: HOUR,
        candles: Array.from({ length: 100 }, (_, k) => {
          const p = 100 + (k % 7);
          return { time: h0 - (103 - k) * HOUR, open: p, high: p + 2, low: p - 1, close: p + 1, volume: 10 };
        }),
      },
    ]).start();
    closers.push(() => emu.stop());
    await bot({
      MARKET_FEED: 'exchange',
      MARKET_STREAM: 'off',
      EXCHANGE_API_URL: emu.url,
      REPLAY_RUNS: 'none',
    });
    const started = await sendLine(t!, '/start ema-cross BTC/USDT 1h approve=auto', ADMIN, CONSOLE);
    expect(started.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join('\n')).toMatch(/R1/);
    ready = await get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.json.status).toBe('failing');
    expect(ready.json.checks.find((c: { name: string }) => c.name === 'feed')).toEqual({
      name: 'feed',
      state: 'failing',
      summary: 'late: BTC/USDT 1h',
      detail: 'no candle in time for BTC/USDT 1h',
    });
    // /status says the same.
    const replies = await sendLine(t!, '/status', ADMIN, CONSOLE);
    const text = replies.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join('\n');
    expect(text).toMatch(/Health\s+failing/);
    expect(text).toMatch(/feed: late: BTC\/USDT 1h/);
  });

  it('fails the journal check after a write that failed', async () => {
    await bot({ REPLAY_SPEED: '1' });
    const { store } = t!.bot.services;
    // A real failure: the journal's database closed under the store.
    await (store as unknown as { conn: { close(): Promise<void> } }).conn.close();
    await expect(store.update((s) => void (s.balances.USDT = 1))).rejects.toThrow();
    const ready = await get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.json.checks.find((c: { name: string }) => c.name === 'journal').state).toBe('failing');
  });

  it('serves Prometheus metrics: candles per series, equity, readiness, the event loop', async () => {
    await bot();
    const deadline = Date.now() + 5000;
    let m = await get('/metrics');
    while (!/bosun_candles_total\{series="BTC\/USDT 15m"\} [1-9]/.test(m.text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      m = await get('/metrics');
    }
    expect(m.status).toBe(200);
    expect(m.text).toMatch(/^bosun_candles_total\{series="BTC\/USDT 15m"\} [1-9]\d*$/m);
    expect(m.text).toMatch(/^bosun_equity\{quote="USDT"\} \d/m);
    expect(m.text).toMatch(/^bosun_open_positions\{quote="USDT"\} \d$/m);
    expect(m.text).toMatch(/^bosun_ready 1$/m);
    expect(m.text).toMatch(/^bosun_chat_notices_total\{what="sent"\} \d+$/m);
    expect(m.text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    expect(m.text).toMatch(/^# TYPE bosun_signal_latency_seconds histogram$/m);
    // Every metric the sample Grafana dashboard charts is one bosun serves.
    const dashboard = readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8');
    const used = new Set([...dashboard.matchAll(/\b((?:bosun|nodejs)_[a-z_0-9]+)/g)].map((x) => x[1]!));
    expect(used.size).toBeGreaterThan(8);
    for (const name of used) {
      const family = name.replace(/_bucket$/, '');
      expect(m.text, name).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
  });

  it('refuses what it does not serve in one line that says what is allowed', async () => {
    await bot();
    expect(await get('/admin')).toMatchObject({
      status: 404,
      json: {
        error: expect.stringMatching(
          /^no such page: \/admin; allowed: GET \/health\/live, GET \/health\/ready, GET \/metrics, /,
        ),
      },
    });
    expect(await get('/metrics', { method: 'DELETE' })).toMatchObject({
      status: 405,
      json: { error: 'DELETE is not allowed on /metrics; allowed: GET, HEAD' },
    });
    const big = await get('/health/live', { method: 'POST', body: 'x'.repeat(70 * 1024) });
    expect(big).toMatchObject({
      status: 413,
      json: { error: 'the request body is over 64 KiB; allowed: at most 64 KiB' },
    });
  });

  it('says in one line that HTTP_PORT is taken, and does not start', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => taken.close(() => r())));
    const { port } = taken.address() as AddressInfo;
    await expect(startTestBot({ HTTP_PORT: String(port) })).rejects.toThrow(
      `HTTP_PORT ${port} is in use on 127.0.0.1; allowed: a free port, or 0 for any`,
    );
  });
});

describe('the heartbeat', () => {
  it(
    'pings HEARTBEAT_URL while healthy, and never writes the URL in the log',
    { timeout: 15_000 },
    async () => {
      const m = await monitor();
      // The first beat goes once start-up is over: after the shortest interval allowed, 5 s.
      await bot({ HEARTBEAT_URL: m.url, HEARTBEAT_INTERVAL: '5s' });
      const deadline = Date.now() + 8000;
      while (m.hits() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(m.hits()).toBeGreaterThan(0);
      expect(t!.logText()).not.toContain('2f0c6b1e-secret-check');
    },
  );

  it('holds back while a check fails, and goes on when it is well again', async () => {
    const m = await monitor();
    let status: 'ok' | 'failing' = 'failing';
    const health = { readiness: () => ({ status, at: Date.now(), checks: [] }) };
    const beat = startHeartbeat({
      url: m.url,
      intervalMs: 30,
      health: health as never,
      logger: quietLogger(),
    });
    closers.push(() => beat.stop());
    await new Promise((r) => setTimeout(r, 150));
    expect(m.hits()).toBe(0);
    status = 'ok';
    await new Promise((r) => setTimeout(r, 150));
    expect(m.hits()).toBeGreaterThan(0);
  });
});
