/**
 * The second chat for alerts (ALERT_CHAT), through the real chat libraries and both emulators: a
 * Telegram group that cannot take bosun's messages has its fills and exits sent to a Discord
 * channel, once each and saying whom they were for; and bosun says there when a health check keeps
 * failing (its journal, here), once, and once more when it is well again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/chat/command.js';
import { Notifier } from '../../src/chat/notifier.js';
import { loadConfig } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { SQLITE_FILE } from '../../src/store/database.js';
import { StateStore } from '../../src/store/state.js';
import { DiscordEmulator } from '../emulators/discord/server.js';
import { TelegramEmulator } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot } from '../helpers/bot.js';
import { ROOT } from '../helpers/fixtures.js';

const GROUP = -100777;
const KICKED = 'Forbidden: bot was kicked from the group chat';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function boot() {
  const tg = await new TelegramEmulator({ limits: BUSY_TELEGRAM.limits }).start();
  cleanups.push(() => tg.stop());
  const dc = await new DiscordEmulator({ heartbeatMs: 500 }).start();
  cleanups.push(() => dc.stop());
  // The Telegram group hears everything; the Discord channel is only the alert chat.
  const dir = mkdtempSync(join(tmpdir(), 'bosun-alert-'));
  const store = await StateStore.open(dir);
  await store.update((s) => {
    s.subscriptions[`telegram:${GROUP}`] = { since: 0, muted: [] };
  });
  await store.close();
  // The group has removed the bot: every message to it is refused.
  for (let i = 0; i < 200; i++) tg.failNext('sendMessage', 403, KICKED);
  const t = await startTestBot(
    {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: '2001:admin',
      DISCORD_BOT_TOKEN: dc.token,
      DISCORD_API_ROOT: dc.apiRoot,
      DISCORD_GUILD_ID: dc.guildId,
      DISCORD_ALLOWED_USERS: '100000000000000001:admin',
      ALERT_CHAT: `discord:${dc.channelId}`,
      REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto',
      REPLAY_SPEED: '2000',
    },
    { ...BUSY_TELEGRAM.options, healthEveryMs: 100 },
    dir,
  );
  cleanups.push(() => t.bot.stop());
  return { tg, dc, t, dir };
}

const texts = (dc: DiscordEmulator) =>
  dc.channelMessages.filter((m) => m.channel_id === dc.channelId).map((m) => m.content);

describe('the alert chat', () => {
  it('takes the facts a chat could not, once each, and says when bosun is unwell', async () => {
    const { dc, t, dir } = await boot();
    const forwarded = () => texts(dc).filter((x) => x.includes(`Not delivered to telegram:${GROUP}: `));
    await dc.waitFor(() => forwarded().length >= 2, 'two facts for the Telegram group', 30_000);
    const got = forwarded();
    // Why, and what: the fill or exit itself.
    expect(got[0]).toContain(KICKED);
    expect(got.some((x) => /Opened|Exit|closed/i.test(x))).toBe(true);
    // Once each: no fact twice, no proposal (a signal is a question for the group, not a fact).
    expect(new Set(got).size).toBe(got.length);
    expect(got.some((x) => /Waiting for approval/.test(x))).toBe(false);

    // Someone holds the journal's database (a backup tool, say): the next write waits, then fails.
    const other = new Sqlite(join(dir, SQLITE_FILE), { timeout: 100 });
    other.exec('BEGIN EXCLUSIVE');
    const { store } = t.bot.services;
    await expect(store.update((s) => void (s.balances.USDT = 1))).rejects.toThrow();
    const unwell = () => texts(dc).filter((x) => /bosun is unwell/.test(x));
    await dc.waitFor(() => unwell().length > 0, 'the unwell message', 20_000);
    expect(unwell()[0]).toMatch(/bosun is unwell\*{0,2} \(journal\): the last write failed/);
    await new Promise((r) => setTimeout(r, 500));
    expect(unwell()).toHaveLength(1);
    // Let go: the next write is kept, and the alert chat hears that once too.
    other.exec('COMMIT');
    other.close();
    await store.update((s) => void (s.balances.USDT = 1));
    const well = () => texts(dc).filter((x) => /journal is well again/.test(x));
    await dc.waitFor(() => well().length > 0, 'the well-again message', 20_000);
    expect(well()[0]).toMatch(/journal is well again\*{0,2}: last write \d+s ago/);
  }, 60_000);

  it('refuses an alert chat on a platform bosun does not connect to, in one line', () => {
    expect(() =>
      loadConfig({ env: { ALERT_CHAT: 'discord:920000000000000001' }, dotenv: false, cwd: ROOT }),
    ).toThrow(
      'ALERT_CHAT is on discord, but DISCORD_BOT_TOKEN is not set; allowed: a chat on a platform bosun connects to',
    );
    expect(() => loadConfig({ env: { ALERT_CHAT: 'slack:123' }, dotenv: false, cwd: ROOT })).toThrow(
      /^ALERT_CHAT is "slack:123"; allowed: a second chat for when a chat cannot be reached/,
    );
  });
});

describe('health looks for the alert chat', () => {
  /** A notifier with no chat connected: what it would tell the alert chat shows in its log. */
  function looker() {
    const lines: Array<{ msg: string; check: string }> = [];
    const logger = {
      warn: (o: { check: string }, msg: string) => lines.push({ msg, check: o.check }),
      info: (o: { check: string }, msg: string) => lines.push({ msg, check: o.check }),
      error: () => undefined,
    } as unknown as Logger;
    const services = {
      config: { chat: { alertChat: 'discord:920000000000000001' }, timezone: 'UTC' },
      store: { data: { subscriptions: {} } },
      watch: { on: () => () => undefined },
    } as unknown as Services;
    const source = { engine: { store: {} as StateStore }, on: () => () => undefined };
    const n = new Notifier(source, services, () => [], logger);
    const look = (state: 'ok' | 'degraded' | 'failing') =>
      n.lookAtHealth({
        status: state,
        at: 0,
        checks: [{ name: 'feed', state, summary: state, detail: state }],
      });
    return { lines, look };
  }

  it('tells a failure at two looks in a row once, and its end once, whatever flaps between', () => {
    const { lines, look } = looker();
    // A blip, then a flapping check: nothing to tell.
    for (const s of ['failing', 'ok', 'failing', 'ok', 'failing', 'ok'] as const) look(s);
    expect(lines).toEqual([]);
    look('failing');
    look('failing');
    look('failing');
    expect(lines).toEqual([{ msg: 'bosun is unwell', check: 'feed' }]);
    // One good look is not yet well; a second is.
    look('ok');
    look('failing');
    look('degraded');
    look('ok');
    expect(lines).toEqual([
      { msg: 'bosun is unwell', check: 'feed' },
      { msg: 'well again', check: 'feed' },
    ]);
  });
});
