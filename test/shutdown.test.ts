/**
 * Starting and stopping the built bot as a process: a start-up error ends it after its one line; a
 * chat that cannot connect holds nothing up; SIGTERM ends it within 10 s whatever it is doing, and a
 * second signal at once; no token reaches what it prints.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type TgUser, TelegramEmulator } from './emulators/telegram/server.js';
import { closedPort, MAIN, type Spawned, spawnNode } from './helpers/process.js';

const ADMIN: TgUser = { id: 4001, first_name: 'Ada', username: 'ada' };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function startBot(env: Record<string, string>, stdin: 'ignore' | 'pipe' = 'ignore'): Spawned {
  const bot = spawnNode([MAIN], {
    env: {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-stop-')),
      MARKET_DATA: 'samples',
      LOG_FORMAT: 'json',
      REGIME_GATE: 'off',
      ...env,
    },
    stdin,
  });
  cleanups.push(() => bot.child.kill('SIGKILL'));
  return bot;
}

async function telegram(): Promise<TelegramEmulator> {
  const tg = await new TelegramEmulator().start();
  cleanups.push(() => tg.stop());
  return tg;
}

/** A server that takes connections and never answers: a chat API that hangs. */
async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');
const count = (text: string, pattern: RegExp) => lines(text).filter((l) => pattern.test(l)).length;

describe('a start-up error', () => {
  it('ends the process with a non-zero code right after its one line, with what it started stopped', async () => {
    const tg = await telegram();
    const started = Date.now();
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      // An exchange that takes connections and never answers: a request to it hangs.
      MARKET_DATA: 'auto',
      EXCHANGE_API_URL: await silentServer(),
      // 2h candles cannot make the default runs' 15m.
      REPLAY_FILE: 'data/samples/binance_BTC-USDT_2h.csv',
    });
    const end = await bot.exited;
    expect(end.code, bot.stderr()).toBe(2);
    expect(end.at - started).toBeLessThan(10_000);
    const err = lines(bot.stderr());
    expect(err.at(-1)).toBe(
      'error: REPLAY_RUNS has ema-cross BTC/USDT 15m, which REPLAY_FILE binance_BTC-USDT_2h.csv cannot play (the replay file is 2h candles, which cannot make 15m); allowed: runs on a multiple of 2h in REPLAY_RUNS, or REPLAY_RUNS=none',
    );
    // Checked before any chat starts: that line is all it printed.
    expect(err).toHaveLength(1);
    // Telegram is not polled any more: the process is gone, and it said nothing after its error.
    const polls = tg.calls.filter((c) => c.method === 'getUpdates').length;
    expect(polls).toBeLessThanOrEqual(1);
  });

  it('never prints a token in its error line', async () => {
    const tg = await telegram();
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      // A path that carries the token is echoed by the error: the line must not show it.
      REPLAY_FILE: `/nonexistent/bot${tg.token}/candles.csv`,
    });
    const end = await bot.exited;
    expect(end.code, bot.stderr()).toBe(2);
    expect(lines(bot.stderr()).at(-1)).toMatch(/^error: REPLAY_FILE .*\[REDACTED\]/);
    expect(bot.stdout() + bot.stderr()).not.toContain(tg.token.split(':')[1]!);
  });
});

describe('chats that cannot connect', () => {
  it('are reported once each and retried in the background while the engine runs; SIGTERM ends the bot within 10 s', async () => {
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: '7000000001:AAEmulatorTokenForTestsOnly_0123456789',
      TELEGRAM_API_ROOT: `http://127.0.0.1:${await closedPort()}`,
      DISCORD_BOT_TOKEN: `${Buffer.from('900000000000000001').toString('base64')}.emulator.${'x'.repeat(27)}`,
      DISCORD_API_ROOT: `http://127.0.0.1:${await closedPort()}/api`,
    });
    // The engine runs without either chat.
    await bot.waitFor(/"msg":"bosun started"/);
    await bot.waitFor(/"msg":"discord unreachable; retrying every 15 s in the background"/);
    await bot.waitFor(/"msg":"telegram unreachable; retrying every 15 s in the background"/);
    const err = bot.stderr();
    expect(count(err, /discord unreachable/)).toBe(1);
    expect(count(err, /telegram unreachable/)).toBe(1);
    expect(err).toMatch(/"where":"http:\/\/127\.0\.0\.1:\d+\/api"/);
    expect(err).toMatch(/cannot reach .*ECONNREFUSED/);
    const signalled = Date.now();
    bot.child.kill('SIGTERM');
    const end = await bot.exited;
    expect(end.code, bot.stderr()).toBe(0);
    expect(end.at - signalled).toBeLessThan(10_000);
    expect(bot.stderr()).toMatch(/"msg":"bosun stopped"/);
  });

  it('SIGTERM during start-up, while a chat API takes the connection and never answers, ends the bot within 10 s', async () => {
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: '7000000001:AAEmulatorTokenForTestsOnly_0123456789',
      TELEGRAM_API_ROOT: await silentServer(),
      DISCORD_BOT_TOKEN: `${Buffer.from('900000000000000001').toString('base64')}.emulator.${'x'.repeat(27)}`,
      DISCORD_API_ROOT: `http://127.0.0.1:${await closedPort()}/api`,
    });
    // Discord has failed its first attempt; Telegram's is still waiting for an answer.
    await bot.waitFor(/"msg":"discord unreachable/);
    expect(bot.stderr()).not.toMatch(/bosun started/);
    const signalled = Date.now();
    bot.child.kill('SIGTERM');
    const end = await bot.exited;
    expect(end.code, bot.stderr()).toBe(0);
    expect(end.at - signalled).toBeLessThan(10_000);
  });

  it('a token Telegram refuses (401, its text echoing the URL) is reported once without the token, and the bot runs on', async () => {
    const tg = await telegram();
    tg.failNext('getMe', 401, `Unauthorized: POST /bot${tg.token}/getMe refused`);
    const bot = startBot({ TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot });
    await bot.waitFor(/telegram refused bosun/);
    await bot.waitFor(/"msg":"bosun started"/);
    expect(bot.stderr()).toMatch(/Telegram refused TELEGRAM_BOT_TOKEN \(401 on getMe\)/);
    // Not retried: a wrong token stays wrong.
    expect(tg.calls.filter((c) => c.method === 'getMe')).toHaveLength(1);
    bot.child.kill('SIGTERM');
    expect((await bot.exited).code).toBe(0);
    const printed = bot.stdout() + bot.stderr();
    expect(printed).not.toContain(tg.token.split(':')[1]!);
    expect(printed).not.toMatch(/at .+\.js:\d+:\d+/); // no stack trace
  });
});

describe('signals', () => {
  /** A bot whose reply is held by Telegram's 429 retry_after: stopping waits for it. */
  async function busyBot() {
    const tg = await telegram();
    const bot = startBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin`,
      REPLAY_RUNS: 'none',
    });
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'setMyCommands'), 'the bot connected');
    tg.failNext('sendMessage', 429, 'Too Many Requests: retry after 60', 60);
    tg.userSends(ADMIN, '/status');
    await tg.waitFor(
      () => tg.calls.some((c) => c.method === 'sendMessage' && c.status === 429),
      'the reply held back',
    );
    return bot;
  }

  it('SIGTERM ends the bot within 10 s while a reply is held up', async () => {
    const bot = await busyBot();
    const signalled = Date.now();
    bot.child.kill('SIGTERM');
    const end = await bot.exited;
    expect(end.at - signalled).toBeLessThan(10_000);
    expect(end.code, bot.stderr()).toBe(0);
  });

  it('a second signal ends it at once', async () => {
    const bot = await busyBot();
    bot.child.kill('SIGTERM');
    await bot.waitFor(/"msg":"bosun stopping"/);
    const second = Date.now();
    bot.child.kill('SIGINT');
    const end = await bot.exited;
    expect(end.at - second).toBeLessThan(2_000);
    expect(end.code).toBe(130);
    expect(bot.stderr()).toMatch(/second signal: exiting now/);
  });
});

describe('the console', () => {
  it('answers piped commands and stops at the end of the pipe (the README’s promise)', async () => {
    const bot = startBot({ REPLAY_RUNS: 'none' }, 'pipe');
    bot.child.stdin!.end('/strategies\n');
    const end = await bot.exited;
    expect(end.code, bot.stderr()).toBe(0);
    expect(bot.stdout()).toMatch(/ema-cross/);
    expect(bot.stderr()).toMatch(/"msg":"bosun stopped"/);
  });
});
