/**
 * The mode bosun trades in, as /status shows it and as start-up logs it: the running mode (never
 * only the configured one), and, with TRADING_MODE=live while trading paper, what live still waits
 * for. Through the real dispatcher of a started bot, live against the exchange emulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRef } from '../../src/chat/command.js';
import type { Person } from '../../src/chat/dispatch.js';
import { type Reply, renderMessages } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

const HOUR = 3_600_000;
const KEY = 'CANARYKEY0123456789abcdef';
const SECRET = 'CANARYSECRET0123456789abcdef';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function boot(env: Record<string, string>): Promise<TestBot> {
  const t = await startTestBot(env);
  cleanups.push(() => t.bot.stop());
  return t;
}

/** Hourly candles around the real clock, for the exchange feed. */
function hoursAroundNow(): EmulatorCandle[] {
  const h0 = Math.floor(Date.now() / HOUR) * HOUR;
  return Array.from({ length: 124 }, (_, k) => {
    const p = 100 + (k % 7);
    return { time: h0 + (k - 100) * HOUR, open: p, high: p + 2, low: p - 1, close: p + 1, volume: 10 };
  });
}

/** /status as an admin on Telegram would read it: the messages' text, tags removed. */
async function status(t: TestBot): Promise<string> {
  const said: string[] = [];
  const chat: ChatRef = { platform: 'telegram', id: '1', private: true };
  const person: Person = { platform: 'telegram', id: '1', name: 'ada', role: 'admin' };
  await t.bot.dispatcher.run({
    command: 'status',
    words: [],
    person,
    chat,
    transport: {
      send: async (r: Reply) => {
        said.push(...renderMessages(r.blocks, TELEGRAM_HTML));
        return { edit: async () => undefined };
      },
    },
  });
  const text = said.join('\n').replace(/<[^>]+>/g, '');
  // Monospace lines (the table) fit a phone: 40 characters at most, the exchange URL aside.
  const pre = /<pre>([\s\S]*?)<\/pre>/.exec(said.join('\n'))?.[1] ?? '';
  for (const line of pre.split('\n').filter((l) => !l.includes('http')))
    expect(line.length, line).toBeLessThanOrEqual(40);
  return text;
}

const modeWarnings = (t: TestBot) =>
  t.logs.filter((l) => l.level === 40 && /TRADING_MODE=live/.test(String(l.msg))).map((l) => l.msg);

describe('the trading mode shown and logged', () => {
  it('paper by configuration: paper, and no word about live', async () => {
    const t = await boot({});
    const text = await status(t);
    expect(text).toMatch(/Mode\s+paper \(simulated\)/);
    expect(text).not.toMatch(/live/i);
    expect(modeWarnings(t)).toEqual([]);
  });

  it('TRADING_MODE=live without keys: paper, what live waits for, and one warning at start', async () => {
    const t = await boot({ TRADING_MODE: 'live' });
    expect(t.bot.services.trading.mode).toBe('paper');
    const text = await status(t);
    expect(text).toMatch(/Mode\s+paper \(simulated\)/);
    expect(text).not.toMatch(/real orders/);
    expect(text).toMatch(/Live waits\s+API keys\s+MARKET_FEED=exchange\s+an admin's \/mode live/);
    expect(text).toMatch(/TRADING_MODE=live, but trading paper: no API keys/);
    expect(modeWarnings(t)).toEqual([
      'TRADING_MODE=live, but trading paper: no API keys (set EXCHANGE_API_KEY and EXCHANGE_SECRET) and MARKET_FEED=replay (set MARKET_FEED=exchange); restart after, then an admin confirms /mode live in chat',
    ]);
  });

  it('TRADING_MODE=live with everything set: paper until an admin confirms, then live', async () => {
    const emu = await new ExchangeEmulator(
      [{ symbol: 'BTC/USDT', candles: hoursAroundNow(), intervalMs: HOUR }],
      { apiKey: KEY, secret: SECRET, balances: { USDT: 5000 } },
    ).start();
    cleanups.push(() => emu.stop());
    const t = await boot({
      TRADING_MODE: 'live',
      EXCHANGE_API_KEY: KEY,
      EXCHANGE_SECRET: SECRET,
      MARKET_FEED: 'exchange',
      EXCHANGE_API_URL: emu.url,
    });
    let text = await status(t);
    expect(text).toMatch(/Mode\s+paper \(simulated\)/);
    expect(text).toMatch(/Live waits\s+an admin's \/mode live/);
    expect(text).not.toMatch(/API keys/);
    expect(modeWarnings(t)).toEqual([
      'TRADING_MODE=live: trading paper until an admin sends /mode live in chat and confirms it',
    ]);
    await t.bot.services.trading.goLive('ada');
    text = await status(t);
    expect(text).toMatch(/Mode\s+live \(real orders\)/);
    expect(text).not.toMatch(/Live waits/);
  });
});
