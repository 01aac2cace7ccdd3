/**
 * The approval flow through the real chat libraries and the emulators: a manual run's signal reaches a
 * subscribed group with Approve / Half size / Reject; traders and admins decide, viewers and strangers
 * are refused, the first valid press wins, and every outcome edits the message.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TELEGRAM_LIMITS } from '../../src/chat/throttle.js';
import { StateStore } from '../../src/store/state.js';
import { type DcMessage, type DcUser, DiscordEmulator } from '../emulators/discord/server.js';
import { type BotMessage, TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot, type TestBot } from '../helpers/bot.js';
import { floorToStep } from '../../src/market/rules.js';
import { sampleSlice } from '../helpers/engine.js';
import { sliceEndingOnSignal } from '../helpers/signals.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let file: string;
beforeAll(async () => {
  file = await sliceEndingOnSignal('rsi-reversion');
});

const engineEnv = (timeout = '10m') => ({
  REPLAY_FILE: file,
  REPLAY_SPEED: '1000000',
  REPLAY_RUNS: 'rsi-reversion BTC/USDT 2h approve=manual',
  APPROVAL_TIMEOUT: timeout,
});

/** A data directory whose state already subscribes `chat` to everything. */
async function subscribed(chat: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-approve-'));
  const store = await StateStore.open(dir);
  await store.update((s) => {
    s.subscriptions[chat] = { since: 0, muted: [] };
  });
  return dir;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('approvals on Telegram', () => {
  const ADMIN: TgUser = { id: 2001, first_name: 'Ada', username: 'ada' };
  const TRADER: TgUser = { id: 2002, first_name: 'Tom', username: 'tom' };
  const VIEWER: TgUser = { id: 2003, first_name: 'Vic' };
  const STRANGER: TgUser = { id: 2666, first_name: 'Eve' };
  const GROUP = -100777;

  async function boot(timeout?: string): Promise<{ tg: TelegramEmulator; t: TestBot; signal: BotMessage }> {
    // Fast limits on both sides (a little under the emulator's on the bot's), so tests run quickly.
    const tg = await new TelegramEmulator({
      limits: BUSY_TELEGRAM.limits,
    }).start();
    const dir = await subscribed(`telegram:${GROUP}`);
    const t = await startTestBot(
      {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin,${TRADER.id}:trader,${VIEWER.id}:viewer`,
        ...engineEnv(timeout),
      },
      BUSY_TELEGRAM.options,
      dir,
    );
    cleanups.push(async () => {
      await t.bot.stop();
      await tg.stop();
    });
    const signal = await tg.waitFor(
      () => tg.chatMessages(GROUP).find((m) => /Signal S\d+/.test(m.text ?? '') && buttons(m).length === 3),
      'the signal message',
    );
    return { tg, t, signal };
  }
  const buttons = (m: BotMessage) => TelegramEmulator.buttons(m);
  const press = async (tg: TelegramEmulator, who: TgUser, m: BotMessage, label: string, data?: string) => {
    const q = tg.userPresses(who, m, data ?? buttons(m).find((b) => b.text === label)!.data);
    return (await tg.waitFor(() => tg.answers.get(q), `the answer to ${who.first_name}'s press`))!;
  };

  it('shows entry, stop, size, risk and R:R, refuses a viewer and a stranger, and takes the first valid press', async () => {
    const { tg, t, signal } = await boot();
    const text = signal.text!;
    for (const part of [
      'LONG',
      'BTC/USDT',
      'Entry',
      'Stop',
      'Targets',
      'Size',
      'Risk',
      'R:R',
      'Waiting for approval',
    ])
      expect(text).toContain(part);
    expect(buttons(signal).map((b) => b.text)).toEqual(['Approve', 'Half size', 'Reject']);
    const store = t.bot.services.store;
    const sigId = /Signal (S\d+)/.exec(text)![1]!;
    const approve = buttons(signal)[0]!.data;
    const reject = buttons(signal)[2]!.data;

    expect((await press(tg, VIEWER, signal, 'Approve')).text).toBe(
      '/approve needs the trader role; you are a viewer.',
    );
    expect((await press(tg, STRANGER, signal, 'Approve')).text).toContain(
      'I only take commands from my allowed users',
    );
    expect(store.data.signals[sigId]!.status).toBe('pending');

    expect((await press(tg, TRADER, signal, 'Approve')).text).toBe('/approve...');
    await tg.waitFor(() => Object.keys(store.data.positions).length === 1, 'the position');
    await tg.waitFor(
      () => /Filled, approved by @tom/.test(signal.text ?? ''),
      'the message to show who decided',
    );
    expect(buttons(signal)).toEqual([]);
    await tg.waitFor(
      () => tg.chatMessages(GROUP).some((m) => /^<b>Opened <\/b>P\d+ long/.test(m.text ?? '')),
      'the fill notice',
    );
    const position = Object.values(store.data.positions)[0]!;
    expect(position.qty).toBeCloseTo(store.data.signals[sigId]!.quantity, 12);

    // The same button again (a stale client), then the other one: answered, nothing changes.
    expect((await press(tg, ADMIN, signal, '', approve)).text).toBe(
      'This button was already used by @tom; nothing was done.',
    );
    expect((await press(tg, ADMIN, signal, '', reject)).text).toBe('/reject...');
    await tg.waitFor(
      () => tg.chatMessages(GROUP).some((m) => /already approved by @tom/.test(m.text ?? '')),
      'the reply',
    );
    expect(store.data.signals[sigId]!.status).toBe('filled');
    expect(Object.keys(store.data.positions)).toHaveLength(1);
    expect(tg.rateLimited).toBe(0);
  });

  it('takes half size', async () => {
    const { tg, t, signal } = await boot();
    await press(tg, ADMIN, signal, 'Half size');
    const store = t.bot.services.store;
    await tg.waitFor(() => Object.keys(store.data.positions).length === 1, 'the position');
    const sig = Object.values(store.data.signals).find((s) => s.status === 'filled')!;
    // Half the announced size, down to the exchange's amount step (Binance BTC/USDT: 0.00001).
    expect(Object.values(store.data.positions)[0]!.qty).toBe(floorToStep(sig.quantity * 0.5, 0.00001));
    await tg.waitFor(() => /\(half size\)/.test(signal.text ?? ''), 'the edit');
  });

  it('rejects', async () => {
    const { tg, t, signal } = await boot();
    await press(tg, TRADER, signal, 'Reject');
    await tg.waitFor(() => /Rejected by @tom/.test(signal.text ?? ''), 'the edit');
    expect(buttons(signal)).toEqual([]);
    expect(Object.keys(t.bot.services.store.data.positions)).toHaveLength(0);
  });

  it('expires on the wall clock, edits the message, and answers a later press without acting', async () => {
    const { tg, t, signal } = await boot('2s');
    const data = buttons(signal)[0]!.data;
    await tg.waitFor(() => /Expired at/.test(signal.text ?? ''), 'the expiry edit', 6000);
    expect(buttons(signal)).toEqual([]);
    await press(tg, ADMIN, signal, '', data);
    await tg.waitFor(
      () => tg.chatMessages(GROUP).some((m) => /already expired; nothing was done/.test(m.text ?? '')),
      'the answer',
    );
    expect(Object.keys(t.bot.services.store.data.positions)).toHaveLength(0);
  });
});

describe('approvals on Discord', () => {
  const ADMIN: DcUser = { id: '300000000000000001', username: 'ada' };
  const TRADER: DcUser = { id: '300000000000000002', username: 'tom' };
  const VIEWER: DcUser = { id: '300000000000000003', username: 'vic' };
  const STRANGER: DcUser = { id: '300000000000000666', username: 'eve' };

  async function boot(timeout?: string): Promise<{ dc: DiscordEmulator; t: TestBot; signal: DcMessage }> {
    const dc = await new DiscordEmulator().start();
    const dir = await subscribed(`discord:${dc.channelId}`);
    const t = await startTestBot(
      {
        DISCORD_BOT_TOKEN: dc.token,
        DISCORD_API_ROOT: dc.apiRoot,
        DISCORD_GUILD_ID: dc.guildId,
        DISCORD_ALLOWED_USERS: `${ADMIN.id}:admin,${TRADER.id}:trader,${VIEWER.id}:viewer`,
        ...engineEnv(timeout),
      },
      {},
      dir,
    );
    cleanups.push(async () => {
      await t.bot.stop();
      await dc.stop();
    });
    const signal = await dc.waitFor(
      () =>
        dc.channelMessages.find(
          (m) => /Signal S\d+/.test(m.content) && DiscordEmulator.buttons(m).length === 3,
        ),
      'the signal message',
    );
    return { dc, t, signal };
  }
  /** Press a button; the refusal (if any) comes back as an ephemeral reply. */
  const press = async (dc: DiscordEmulator, who: DcUser, m: DcMessage, customId: string) => {
    const ix = dc.press(who, m, customId);
    await dc.waitFor(() => ix.callback !== undefined, 'the press to be answered');
    return ix;
  };

  it('refuses a viewer and a stranger, takes the first valid press, and edits the message', async () => {
    const { dc, t, signal } = await boot();
    const [approve, half, reject] = DiscordEmulator.buttons(signal).map((b) => b.customId) as [
      string,
      string,
      string,
    ];
    expect(DiscordEmulator.buttons(signal).map((b) => b.label)).toEqual(['Approve', 'Half size', 'Reject']);
    expect(signal.content).toContain('R:R');
    const store = t.bot.services.store;

    const byViewer = await press(dc, VIEWER, signal, approve);
    await dc.waitFor(() => byViewer.messages.length === 1, 'the refusal');
    expect(byViewer.messages[0]!.content).toContain('/approve needs the trader role');
    expect(byViewer.messages[0]!.flags & 64).toBe(64); // ephemeral
    const byStranger = await press(dc, STRANGER, signal, half);
    await dc.waitFor(() => byStranger.messages.length === 1, 'the refusal');
    expect(byStranger.messages[0]!.content).toContain('I only take commands from my allowed users');

    await press(dc, TRADER, signal, half);
    await dc.waitFor(() => Object.keys(store.data.positions).length === 1, 'the position');
    await dc.waitFor(() => /approved by tom \(half size\)/.test(signal.content), 'the edit');
    expect(DiscordEmulator.buttons(signal)).toEqual([]);

    const late = await press(dc, ADMIN, signal, reject);
    await dc.waitFor(
      () => late.messages.some((m) => /already approved by tom/.test(m.content)),
      'the answer',
    );
    const again = await press(dc, ADMIN, signal, half);
    await dc.waitFor(() => again.messages.length === 1, 'the answer');
    expect(again.messages[0]!.content).toBe('This button was already used by tom; nothing was done.');
    expect(Object.keys(store.data.positions)).toHaveLength(1);
  });

  it('rejects, and expires', async () => {
    const a = await boot();
    const [, , reject] = DiscordEmulator.buttons(a.signal).map((b) => b.customId);
    await press(a.dc, ADMIN, a.signal, reject!);
    await a.dc.waitFor(() => /Rejected by ada/.test(a.signal.content), 'the edit');
    expect(Object.keys(a.t.bot.services.store.data.positions)).toHaveLength(0);

    const b = await boot('2s');
    await b.dc.waitFor(() => /Expired at/.test(b.signal.content), 'the expiry edit', 6000);
    expect(DiscordEmulator.buttons(b.signal)).toEqual([]);
  });
});

describe('a burst of notifications on Telegram', () => {
  it("keeps to the chat's rate: every exit arrives or is counted as skipped, none meets a 429", async () => {
    const USER: TgUser = { id: 2101, first_name: 'Bo' };
    // The emulator allows a burst of 5, then 10 a second per chat; the bot keeps a little under it.
    const tg = await new TelegramEmulator({
      limits: { perChat: { burst: 5, perSecond: 10 }, global: { burst: 30, perSecond: 30 } },
    }).start();
    const dir = await subscribed(`telegram:${USER.id}`);
    const t = await startTestBot(
      {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_ALLOWED_USERS: `${USER.id}:admin`,
        REPLAY_FILE: sampleSlice('binance_BTC-USDT_2h.csv', 300),
        REPLAY_SPEED: '1000000',
        REPLAY_RUNS: 'ema-cross BTC/USDT 2h fast=5 slow=12 approve=auto',
        RISK_COOLDOWN_MINUTES: '0',
        RISK_MAX_DRAWDOWN: '1',
        RISK_DAILY_LOSS: '1',
      },
      { telegram: { pollTimeout: 1, throttle: { ...TELEGRAM_LIMITS, private: { max: 4, windowMs: 450 } } } },
      dir,
    );
    cleanups.push(async () => {
      await t.bot.stop();
      await tg.stop();
    });
    let lastTrade: string | undefined;
    t.bot.services.trading.on((e) => {
      if (e.type === 'exit' && e.trade) lastTrade = e.trade.id;
    });
    // Trades booked so far: each run counts its own.
    const trades = () => Object.values(t.bot.services.store.data.runs).reduce((n, r) => n + r.trades, 0);
    await tg.waitFor(() => trades() >= 5, 'some trades');
    // A full-speed replay makes notices faster than a chat takes them; the outbox stays short, and
    // what it drops is counted in the next message. Every closed trade is told, or counted.
    const text = () => tg.chatMessages(USER.id).map((m) => m.text ?? '');
    const told = () => text().filter((m) => /Position closed/.test(m)).length;
    const skipped = () =>
      text().reduce((n, m) => n + Number(/\((\d+) older notices? (?:was|were) skipped/.exec(m)?.[1] ?? 0), 0);
    // The newest notices are never the ones dropped: the last trade's exit arrives.
    const lastTold = () =>
      lastTrade !== undefined &&
      text().some((m) => m.includes(`on ${lastTrade} `) && /Position closed/.test(m));
    await tg.waitFor(() => lastTold() && told() + skipped() >= trades(), 'the notices', 30_000);
    const sends = tg.calls.filter((c) => c.chatId === String(USER.id) && /^send/.test(c.method));
    expect(sends.length).toBeGreaterThanOrEqual(5);
    expect(tg.rateLimited).toBe(0);
    expect(sends.every((c) => c.status === 200)).toBe(true);
    // n messages through a bucket of 4 refilled at 9/s take at least (n - 4) / 9 s.
    const span = sends.at(-1)!.at - sends[0]!.at;
    expect(span).toBeGreaterThanOrEqual(((sends.length - 4) / 9) * 1000 - 50);
  }, 60_000);
});
