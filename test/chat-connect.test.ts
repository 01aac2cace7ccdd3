/**
 * Start-up never waits on a chat: a chat whose server is down is reported once and retried in the
 * background while the engine and the console run, and connects when its server comes up.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type DcUser, DiscordEmulator } from './emulators/discord/server.js';
import { type TgUser, TelegramEmulator } from './emulators/telegram/server.js';
import { ROOT } from './helpers/fixtures.js';
import { closedPort } from './helpers/process.js';
import { loadConfig, secretValues } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { type Bot, startBot } from '../src/main.js';

const TG_ADMIN: TgUser = { id: 5001, first_name: 'Ada', username: 'ada' };
const DC_ADMIN: DcUser = { id: '100000000000000501', username: 'ada' };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The bot with a console on a pipe and every log line kept; start-up is not told to wait for chats. */
async function boot(env: Record<string, string>, readyTimeoutMs?: number) {
  const config = loadConfig({
    env: {
      DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-connect-')),
      CHAT_CONSOLE: 'on',
      MARKET_DATA: 'samples',
      LOG_LEVEL: 'debug',
      REPLAY_RUNS: 'none',
      REGIME_GATE: 'off',
      ...env,
    },
    dotenv: false,
    cwd: ROOT,
  });
  const raw: string[] = [];
  const logger = createLogger({
    level: 'debug',
    format: 'json',
    secrets: secretValues(config),
    destination: { write: (line: string) => void raw.push(line) },
  });
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (d) => (printed += d));
  const bot: Bot = await startBot({
    config,
    logger,
    input,
    output,
    interactive: false,
    chatRetryMs: 200,
    telegram: { pollTimeout: 1 },
    ...(readyTimeoutMs ? { discord: { readyTimeoutMs } } : {}),
  });
  cleanups.push(() => bot.stop());
  const logs = () => raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
    if (!ok()) throw new Error(`timed out waiting for ${what}:\n${raw.join('')}\n${printed}`);
  };
  return { bot, input, printed: () => printed, logs, until };
}

describe('a chat that cannot connect at start', () => {
  it('Telegram: the engine and console run, it is reported once, and it connects when its server comes up', async () => {
    const port = await closedPort();
    const tg = new TelegramEmulator();
    const b = await boot({ TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` });
    expect(b.logs().some((l) => l.msg === 'bosun started')).toBe(true);
    await b.until('a few attempts', () => b.logs().filter((l) => l.msg === 'still unreachable').length >= 2);
    const reported = b.logs().filter((l) => /unreachable; retrying/.test(String(l.msg)));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({
      platform: 'telegram',
      where: `http://127.0.0.1:${port}`,
      retryEverySeconds: 0.2,
    });
    expect(String(reported[0]!.error)).toMatch(/cannot reach .* \(ECONNREFUSED\)/);
    // The console answers meanwhile, and says the chat is not there.
    b.input.write('/status\n');
    await b.until('the console’s status', () => /telegram failed/.test(b.printed()));
    // Its server comes up where the bot looks: it connects and answers there.
    await tg.start(port);
    cleanups.push(() => tg.stop());
    await b.until('telegram connected', () =>
      b.logs().some((l) => l.msg === 'chat connected' && l.platform === 'telegram'),
    );
    await b.bot.connected();
    tg.userSends(TG_ADMIN, '/status');
    await tg.waitFor(() => tg.chatMessages(TG_ADMIN.id).length > 0, 'a reply on Telegram');
  });

  it('Discord: the same', async () => {
    const port = await closedPort();
    const dc = new DiscordEmulator({ heartbeatMs: 500 });
    const b = await boot({
      DISCORD_BOT_TOKEN: dc.token,
      DISCORD_API_ROOT: `http://127.0.0.1:${port}/api`,
      DISCORD_GUILD_ID: dc.guildId,
      DISCORD_ALLOWED_USERS: `${DC_ADMIN.id}:admin`,
    });
    await b.until('a few attempts', () => b.logs().filter((l) => l.msg === 'still unreachable').length >= 2);
    expect(b.logs().filter((l) => /unreachable; retrying/.test(String(l.msg)))).toHaveLength(1);
    b.input.write('/status\n');
    await b.until('the console’s status', () => /discord failed/.test(b.printed()));
    await dc.start(port);
    cleanups.push(() => dc.stop());
    await b.bot.connected();
    const ix = dc.slash(DC_ADMIN, 'status');
    await dc.waitFor(() => ix.messages.some((m) => m.content !== ''), 'a reply on Discord');
  });

  it('a Discord token refused: reported once without the token, not retried, and the console runs on', async () => {
    const dc = await new DiscordEmulator({ heartbeatMs: 500 }).start();
    cleanups.push(() => dc.stop());
    const wrong = dc.token.replace(/x{5}$/, 'yyyyy');
    const b = await boot({ DISCORD_BOT_TOKEN: wrong, DISCORD_API_ROOT: dc.apiRoot });
    await expect(b.bot.connected()).rejects.toThrow(/refused: discord/);
    const refused = b.logs().filter((l) => /discord refused bosun/.test(String(l.msg)));
    expect(refused).toHaveLength(1);
    expect(String(refused[0]!.error)).toMatch(/Discord refused DISCORD_BOT_TOKEN \(invalid token\)/);
    b.input.write('/status\n');
    await b.until('the console’s status', () => /discord failed \(Discord refused/.test(b.printed()));
    // connected() settled: the connecting ended with that one attempt, nothing retries it.
    expect(dc.restCalls.filter((c) => c.path === '/gateway/bot')).toHaveLength(1);
    expect(b.logs().filter((l) => /unreachable/.test(String(l.msg)))).toHaveLength(0);
    expect(JSON.stringify(b.logs()) + b.printed()).not.toContain(wrong.split('.')[2]!);
  });

  it.each([
    ['down', /cannot reach .*Unexpected server response: 503/],
    ['mute', /no READY from the Discord gateway within 1 s/],
  ] as const)(
    'Discord with its REST up and its gateway %s: each failed attempt is handled, reported once, and it connects when the gateway is back',
    async (state, why) => {
      const dc = new DiscordEmulator({ heartbeatMs: 500 });
      dc.gateway = state;
      await dc.start();
      cleanups.push(() => dc.stop());
      const b = await boot(
        {
          DISCORD_BOT_TOKEN: dc.token,
          DISCORD_API_ROOT: dc.apiRoot,
          DISCORD_GUILD_ID: dc.guildId,
          DISCORD_ALLOWED_USERS: `${DC_ADMIN.id}:admin`,
        },
        1_000,
      );
      await b.until('a second attempt', () => b.logs().some((l) => l.msg === 'still unreachable'));
      const reported = b.logs().filter((l) => /unreachable; retrying/.test(String(l.msg)));
      expect(reported).toHaveLength(1);
      expect(reported[0]!.error).toMatch(why);
      dc.gateway = 'up';
      await b.bot.connected();
      const ix = dc.slash(DC_ADMIN, 'status');
      await dc.waitFor(() => ix.messages.some((m) => m.content !== ''), 'a reply on Discord');
    },
  );
});
