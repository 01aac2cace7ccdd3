/**
 * The rails around live trading, through real grammY against the Telegram emulator and real ccxt
 * against the exchange emulator: who may switch, what it needs, the confirmation button, paper mode
 * never touching private endpoints, and secrets never leaving the environment.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';
import { type BotMessage, TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot } from '../helpers/bot.js';
import { journalRows } from '../helpers/journal.js';

const ADMIN: TgUser = { id: 3001, first_name: 'Ada', username: 'ada' };
const TRADER: TgUser = { id: 3002, first_name: 'Tom', username: 'tom' };
const HOUR = 3_600_000;
const CANARY_KEY = 'CANARYKEYd41d8cd98f00b204e9800998ecf8427e';
const CANARY_SECRET = 'CANARYSECRET9e107d9d372bb6826bd81d3542a419d6';

/** Hourly candles around the real clock: 100 hours before it, 24 after. */
function hoursAroundNow(): EmulatorCandle[] {
  const h0 = Math.floor(Date.now() / HOUR) * HOUR;
  return Array.from({ length: 124 }, (_, k) => {
    const p = 100 + (k % 7);
    return { time: h0 + (k - 100) * HOUR, open: p, high: p + 2, low: p - 1, close: p + 1, volume: 10 };
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function boot(env: Record<string, string>, secret = CANARY_SECRET) {
  const emu = await new ExchangeEmulator(
    [{ symbol: 'BTC/USDT', candles: hoursAroundNow(), intervalMs: HOUR }],
    {
      apiKey: CANARY_KEY,
      secret,
      balances: { USDT: 5000 },
    },
  ).start();
  cleanups.push(() => emu.stop());
  const tg = await new TelegramEmulator({
    limits: BUSY_TELEGRAM.limits,
  }).start();
  cleanups.push(() => tg.stop());
  const t = await startTestBot(
    {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin,${TRADER.id}:trader`,
      MARKET_FEED: 'exchange',
      EXCHANGE_API_URL: emu.url,
      ...env,
    },
    BUSY_TELEGRAM.options,
  );
  cleanups.push(() => t.bot.stop());
  return { emu, tg, t };
}

/** A message's text without its HTML tags. */
const plain = (m: BotMessage) => (m.text ?? '').replace(/<[^>]+>/g, '');

/** Send a command and wait for the reply that matches. */
async function ask(tg: TelegramEmulator, who: TgUser, text: string, expected: RegExp): Promise<BotMessage> {
  const before = tg.chatMessages(who.id).length;
  tg.userSends(who, text);
  return (await tg.waitFor(
    () =>
      tg
        .chatMessages(who.id)
        .slice(before)
        .find((m) => expected.test(plain(m))),
    `a reply to ${text} matching ${expected}`,
  ))!;
}

const LIVE_ENV = {
  TRADING_MODE: 'live',
  EXCHANGE_API_KEY: CANARY_KEY,
  EXCHANGE_SECRET: CANARY_SECRET,
};

describe('live mode', () => {
  it('is refused to a trader, and to an admin while keys or TRADING_MODE=live are missing', async () => {
    const a = await boot(LIVE_ENV);
    await ask(a.tg, TRADER, '/mode live', /needs the admin role; you are a trader/);
    const b = await boot({ TRADING_MODE: 'live' });
    await ask(
      b.tg,
      ADMIN,
      '/mode live',
      /live trading refused: no API keys: set EXCHANGE_API_KEY and EXCHANGE_SECRET/,
    );
    const c = await boot({ EXCHANGE_API_KEY: CANARY_KEY, EXCHANGE_SECRET: CANARY_SECRET });
    await ask(
      c.tg,
      ADMIN,
      '/mode live',
      /live trading refused: live trading is off in the configuration: set TRADING_MODE=live/,
    );
    // A confirmation code typed by hand, never handed out, is refused.
    await ask(a.tg, ADMIN, '/mode live 0123456789ab', /confirmation is not valid/);
    expect(a.t.bot.services.trading.mode).toBe('paper');
  });

  it('sends nothing to private endpoints while paper trading, even with keys set', async () => {
    const { emu, tg } = await boot(LIVE_ENV);
    await ask(tg, ADMIN, '/start ema-cross BTC/USDT 1h approve=auto', /Started R\d+|started/i);
    await ask(tg, ADMIN, '/balance', /USDT/);
    await ask(tg, ADMIN, '/positions', /position/i);
    await ask(tg, ADMIN, '/mode', /Trading mode: paper/);
    expect(emu.calls('/api/v3/klines').length).toBeGreaterThan(0);
    expect(emu.signedCalls()).toEqual([]);
  });

  it('leaves the /panic button to the admin when a trader presses it first', async () => {
    const { tg, t } = await boot({});
    await ask(tg, ADMIN, '/start ema-cross BTC/USDT 1h approve=auto', /Started R\d+|started/i);
    const p = await ask(tg, ADMIN, '/panic', /Panic \(paper\)\?/);
    const yes = TelegramEmulator.buttons(p).find((b) => /Yes/.test(b.text))!.data;
    const press = tg.userPresses(TRADER, p, yes);
    expect(await tg.waitFor(() => tg.answers.get(press), 'the trader refused')).toEqual({
      text: '/panic needs the admin role; you are a trader.',
      show_alert: true,
    });
    expect(Object.values(t.bot.services.engine.state.runs).filter((r) => r.state !== 'stopped')).toHaveLength(
      1,
    );
    tg.userPresses(ADMIN, p, yes);
    await tg.waitFor(() => tg.chatMessages(ADMIN.id).find((m) => /Panic done/.test(plain(m))), 'panic done');
    expect(Object.values(t.bot.services.engine.state.runs).filter((r) => r.state !== 'stopped')).toHaveLength(
      0,
    );
  });

  it('answers Cancel under /panic and /mode live with "nothing was done", and the code is spent', async () => {
    const { tg, t } = await boot(LIVE_ENV);
    await ask(tg, ADMIN, '/start ema-cross BTC/USDT 1h approve=auto', /Started R\d+|started/i);
    const p = await ask(tg, ADMIN, '/panic', /Panic \(paper\)\?/);
    const [yes, cancel] = ['Yes', 'Cancel'].map(
      (label) => TelegramEmulator.buttons(p).find((b) => b.text.startsWith(label))!.data,
    );
    const before = tg.chatMessages(ADMIN.id).length;
    tg.userPresses(ADMIN, p, cancel!);
    const answer = await tg.waitFor(
      () =>
        tg
          .chatMessages(ADMIN.id)
          .slice(before)
          .find((m) => /nothing was done/.test(plain(m))),
      'the cancel answer',
    );
    expect(plain(answer!)).toBe('Cancelled, nothing was done.');
    expect(Object.values(t.bot.services.engine.state.runs).filter((r) => r.state !== 'stopped')).toHaveLength(
      1,
    );
    // The withdrawn code no longer confirms, typed by hand either.
    const yesButton = Object.values(t.bot.services.store.data.buttons).find(
      (b) => b.command === 'panic' && b.args.length === 1 && !b.args[0]!.startsWith('cancel='),
    )!;
    expect(yes).toBeDefined();
    await ask(tg, ADMIN, `/panic ${yesButton.args[0]!}`, /confirmation is not valid/);
    expect(Object.values(t.bot.services.engine.state.runs).filter((r) => r.state !== 'stopped')).toHaveLength(
      1,
    );

    const m = await ask(tg, ADMIN, '/mode live', /Switch to LIVE trading\?/);
    const cancelLive = TelegramEmulator.buttons(m).find((b) => b.text === 'Cancel')!.data;
    const beforeMode = tg.chatMessages(ADMIN.id).length;
    tg.userPresses(ADMIN, m, cancelLive);
    const said = await tg.waitFor(
      () =>
        tg
          .chatMessages(ADMIN.id)
          .slice(beforeMode)
          .find((x) => /nothing was done/.test(plain(x))),
      'the mode cancel answer',
    );
    expect(plain(said!)).toBe('Cancelled, nothing was done: still paper trading.');
    expect(t.bot.services.trading.mode).toBe('paper');
  });

  it('switches to live only through the admin’s confirmation button; keys reach no log, chat or file', async () => {
    const { emu, tg, t } = await boot(LIVE_ENV);
    await ask(tg, ADMIN, '/subscribe', /This chat gets/);
    const confirmOf = (m: BotMessage) =>
      TelegramEmulator.buttons(m).find((b) => b.text === 'Confirm live trading')!.data;
    // The trader cannot use the admin's button, and their press does not spend it.
    const ask1 = await ask(tg, ADMIN, '/mode live', /Switch to LIVE trading\?/);
    const press = tg.userPresses(TRADER, ask1, confirmOf(ask1));
    const refusal = await tg.waitFor(() => tg.answers.get(press), 'the trader refused');
    expect(refusal).toEqual({
      text: 'Switching between paper and live needs the admin role; you are a trader.',
      show_alert: true,
    });
    expect(t.bot.services.trading.mode).toBe('paper');
    expect(TelegramEmulator.buttons(tg.chatMessages(ADMIN.id).find((m) => m === ask1)!)).toHaveLength(2);
    tg.userPresses(ADMIN, ask1, confirmOf(ask1));
    await tg.waitFor(
      () => tg.chatMessages(ADMIN.id).find((m) => /LIVE trading is on/.test(plain(m))),
      'live mode on',
    );
    expect(t.bot.services.trading.mode).toBe('live');
    expect(emu.signedCalls().length).toBeGreaterThan(0);
    await ask(tg, ADMIN, '/mode', /Trading mode: LIVE[\s\S]*Confirmed by/);
    await ask(tg, ADMIN, '/balance', /5[,.]?000/);
    // The live book is its own: the journal has its confirmation, and the paper book no live orders.
    expect(
      journalRows(t.dataDir, 'settings_changes', 'live').map((r) => [r.key, r.new_value, r.who]),
    ).toContainEqual(['mode', 'live', `@${ADMIN.username}`]);
    expect(journalRows(t.dataDir, 'orders', 'paper')).toEqual([]);
    // Errors that carry the exchange's words: a refused signature.
    const p = await ask(tg, ADMIN, '/panic', /Panic \(live\)\?/);
    emu.fault({
      status: 400,
      path: '/api/v3/account',
      body: { code: -1022, msg: 'Signature for this request is not valid.' },
    });
    tg.userPresses(ADMIN, p, TelegramEmulator.buttons(p).find((b) => /Yes/.test(b.text))!.data);
    await tg.waitFor(() => tg.chatMessages(ADMIN.id).find((m) => /Panic done/.test(plain(m))), 'panic done');
    await tg.waitFor(
      () => tg.chatMessages(ADMIN.id).find((m) => /Signature for this request is not valid/.test(plain(m))),
      'the refusal reported',
    );
    await ask(tg, ADMIN, '/mode paper', /Paper trading now/);

    const chats = [ADMIN, TRADER].flatMap((u) => tg.chatMessages(u.id).map((m) => m.text ?? '')).join('\n');
    // Every file bosun keeps (the journal and its WAL included), byte for byte.
    const stateText = readdirSync(t.dataDir)
      .filter((f) => statSync(join(t.dataDir, f)).isFile())
      .map((f) => readFileSync(join(t.dataDir, f), 'latin1'))
      .join('\n');
    for (const canary of [CANARY_KEY, CANARY_SECRET]) {
      expect(t.logText()).not.toContain(canary);
      expect(chats).not.toContain(canary);
      expect(stateText).not.toContain(canary);
    }
    expect(t.logText().length).toBeGreaterThan(1000);
  });
});
