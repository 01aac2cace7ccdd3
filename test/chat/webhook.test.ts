/**
 * Outbound webhooks: the chats' notices as JSON to WEBHOOK_URL, in order, tried again on a 5xx or a
 * dropped connection, not on a refusal, and the URL (a secret) never in the log.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BotEvent } from '../../src/chat/categories.js';
import { type WebhookBody, WebhookOut } from '../../src/chat/webhook.js';
import { Emitter } from '../../src/engine/events.js';
import { createLogger } from '../../src/logger.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

const closers: Array<() => Promise<void> | void> = [];
let t: TestBot | undefined;
afterEach(async () => {
  await t?.bot.stop();
  t = undefined;
  for (const c of closers.splice(0).reverse()) await c();
});

/** A receiver that answers each POST with the next status of `answers` (then 200), keeping the bodies it took. */
async function receiver(
  answers: number[] = [],
): Promise<{ url: string; got: WebhookBody[]; tries: () => number }> {
  const got: WebhookBody[] = [];
  let tries = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      tries++;
      const status = answers.shift() ?? 200;
      if (status === 200) got.push(JSON.parse(text) as WebhookBody);
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/T0KEN-s3cret`, got, tries: () => tries };
}

function feed(): Emitter<BotEvent> {
  return new Emitter<BotEvent>(() => undefined);
}

function logLines() {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: { write: (l: string) => void lines.push(l) },
  });
  return { logger, lines };
}

const exchangeDown = (detail: string): BotEvent => ({ type: 'exchange', up: false, detail });

describe('outbound webhooks', () => {
  it('posts the notices of a replay with the words the chats read, in order', async () => {
    const r = await receiver();
    t = await startTestBot({
      WEBHOOK_URL: r.url,
      REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto',
      REPLAY_SPEED: '5000',
    });
    const deadline = Date.now() + 15_000;
    while (!r.got.some((b) => b.type === 'exit') && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
    const entry = r.got.find((b) => b.type === 'entry')!;
    expect(entry).toMatchObject({ type: 'entry', category: expect.any(String) });
    const position = (entry.event as { position: { id: string } }).position;
    expect(entry.text).toContain('Opened');
    expect(entry.text).toContain(position.id);
    // In the order they happened: this position's entry before its exit.
    const exit = r.got.findIndex(
      (b) => b.type === 'exit' && (b.event as { position: { id: string } }).position.id === position.id,
    );
    expect(exit).toBeGreaterThan(r.got.indexOf(entry));
    expect(t.logText()).not.toContain('T0KEN-s3cret');
  }, 30_000);

  it('tries a 5xx again and delivers once; a refusal (4xx) is not tried again; later notices still go', async () => {
    const r = await receiver([503, 502, 200, 400]);
    const source = feed();
    const { logger, lines } = logLines();
    const out = new WebhookOut({
      url: r.url,
      sources: [source],
      timezone: 'UTC',
      logger,
      backoffMs: [10, 10, 10],
    });
    out.start();
    closers.push(() => out.stop(0));
    source.emit([exchangeDown('first'), exchangeDown('second'), exchangeDown('third')]);
    await out.idle();
    // first: 503, 502, then taken; second: 400, dropped; third: taken.
    expect(r.got.map((b) => (b.event as { detail: string }).detail)).toEqual(['first', 'third']);
    expect(r.tries()).toBe(5);
    expect(out.counts).toEqual({ sent: 2, failed: 1, dropped: 0 });
    expect(r.got[0]!.text).toMatch(/first/);
    const warned = lines.filter((l) => l.includes('webhook notice not delivered'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('HTTP 400');
    expect(lines.join('')).not.toContain('T0KEN-s3cret');
  });

  it('gives up on a receiver that is gone after its tries, saying so once, and goes on', async () => {
    const r = await receiver();
    const dead = r.url.replace(/:\d+\//, ':9/');
    const source = feed();
    const { logger, lines } = logLines();
    const out = new WebhookOut({ url: dead, sources: [source], timezone: 'UTC', logger, backoffMs: [5, 5] });
    out.start();
    closers.push(() => out.stop(0));
    source.emit([exchangeDown('a'), exchangeDown('b')]);
    await out.idle();
    expect(out.counts.failed).toBe(2);
    expect(lines.filter((l) => l.includes('webhook notice not delivered'))).toHaveLength(1);
  });
});
