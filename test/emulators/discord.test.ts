/** The Discord emulator speaks the gateway and REST protocols as Discord does, checked with ws and fetch. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DiscordEmulator } from './discord/server.js';

let dc: DiscordEmulator;
const rest = async (method: string, path: string, body?: unknown, auth = true) => {
  const res = await fetch(`${dc.apiRoot}/v10${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bot ${dc.token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
};

/** Poll until a condition holds (for what the test's own socket receives). */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Connect to the gateway and collect its messages. */
async function gateway(
  token: string,
): Promise<{ ws: WebSocket; got: Array<{ op: number; t?: string; d: unknown }>; closed: Promise<number> }> {
  const { body } = await rest('GET', '/gateway/bot');
  const ws = new WebSocket(`${body!.url as string}?v=10&encoding=json`);
  const got: Array<{ op: number; t?: string; d: unknown }> = [];
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  ws.on('message', (raw) => {
    const msg = JSON.parse(String(raw)) as { op: number; t?: string; d: unknown };
    got.push(msg);
    if (msg.op === 10) ws.send(JSON.stringify({ op: 2, d: { token, intents: 1, properties: {} } }));
  });
  return { ws, got, closed };
}

describe('Discord emulator', () => {
  beforeEach(async () => {
    dc = await new DiscordEmulator({ routeLimit: { burst: 2, perSecond: 1 } }).start();
  });
  afterEach(() => dc.stop());

  it('says HELLO, then READY and GUILD_CREATE after IDENTIFY, and ACKs heartbeats', async () => {
    const { ws, got } = await gateway(dc.token);
    await until(() => got.some((m) => m.t === 'GUILD_CREATE'), 'GUILD_CREATE');
    expect(got.map((m) => m.t ?? `op${m.op}`)).toEqual(['op10', 'READY', 'GUILD_CREATE']);
    ws.send(JSON.stringify({ op: 1, d: 2 }));
    await until(() => got.some((m) => m.op === 11), 'heartbeat ACK');
    ws.close();
  });

  it('closes the gateway with 4004 on a wrong token', async () => {
    const { closed } = await gateway('wrong');
    expect(await closed).toBe(4004);
  });

  it('validates command registration as Discord does', async () => {
    const path = `/applications/${dc.applicationId}/commands`;
    const ok = await rest('PUT', path, [
      {
        name: 'x',
        description: 'X',
        type: 1,
        options: [{ type: 3, name: 'a', description: 'A', required: true }],
      },
    ]);
    expect(ok.status).toBe(200);
    const bad = await rest('PUT', path, [
      {
        name: 'x',
        description: 'X',
        type: 1,
        options: [
          { type: 3, name: 'a', description: 'A' },
          { type: 3, name: 'b', description: 'B', required: true },
        ],
      },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body!.message).toMatch(/required option b after an optional one/);
    expect((await rest('GET', path, undefined, false)).status).toBe(401);
  });

  it('takes one callback per interaction, within 3 s', async () => {
    const { ws } = await gateway(dc.token);
    await dc.waitFor(() => dc.identifies === 1, 'identify');
    await rest('PUT', `/applications/${dc.applicationId}/commands`, [
      { name: 'ping', description: 'Ping', type: 1 },
    ]);
    const ix = dc.slash({ id: '5', username: 'u' }, 'ping');
    const cb = `/interactions/${ix.id}/${ix.token}/callback`;
    expect((await rest('POST', cb, { type: 4, data: { content: 'pong' } }, false)).status).toBe(204);
    const again = await rest('POST', cb, { type: 4, data: { content: 'pong' } }, false);
    expect(again.body).toMatchObject({ code: 40060 });
    const late = dc.slash({ id: '5', username: 'u' }, 'ping');
    late.createdAt -= 3500;
    expect(
      (await rest('POST', `/interactions/${late.id}/${late.token}/callback`, { type: 5 }, false)).body,
    ).toMatchObject({ code: 10062 });
    const tooLong = dc.slash({ id: '5', username: 'u' }, 'ping');
    expect(
      (
        await rest(
          'POST',
          `/interactions/${tooLong.id}/${tooLong.token}/callback`,
          { type: 4, data: { content: 'x'.repeat(2001) } },
          false,
        )
      ).status,
    ).toBe(400);
    ws.close();
  });

  it('sends rate-limit headers, and 429 with retry_after past the bucket', async () => {
    const first = await rest('GET', '/applications/@me');
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await rest('GET', '/applications/@me');
    const third = await rest('GET', '/applications/@me');
    expect(third.status).toBe(429);
    expect(third.body!.retry_after).toBeGreaterThan(0);
    expect(dc.rateLimited).toBe(1);
  });
});
