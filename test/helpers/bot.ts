/** Start the whole bot (startBot, as `npm start` does) against emulators, on a fresh data directory. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatRef } from '../../src/chat/command.js';
import type { Person } from '../../src/chat/dispatch.js';
import type { Reply } from '../../src/chat/reply.js';
import { TELEGRAM_LIMITS } from '../../src/chat/throttle.js';
import { loadConfig, secretValues } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { type Bot, type StartOptions, startBot } from '../../src/main.js';
import { ROOT } from './fixtures.js';
import { TelegramEmulator } from '../emulators/telegram/server.js';

/** The chat commands bosun has, sorted: what every platform must offer. */
export const COMMAND_NAMES = [
  'adjust',
  'alert',
  'alerts',
  'approve',
  'backtest',
  'backtests',
  'balance',
  'buy',
  'chart',
  'close',
  'compare',
  'daily',
  'exit',
  'help',
  'mode',
  'pairlist',
  'panic',
  'paste',
  'pnl',
  'positions',
  'regime',
  'reject',
  'risk',
  'runs',
  'scan',
  'sell',
  'settings',
  'start',
  'stats',
  'status',
  'stop',
  'strategies',
  'subscribe',
  'trades',
  'unsubscribe',
  'web',
];

export interface TestBot {
  bot: Bot;
  dataDir: string;
  /** Every log line, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text (for checking that something never appears). */
  logText(): string;
}

/**
 * For tests that push many Telegram messages: the emulator's limits, and the bot's own throttle a
 * little under them (as a client should stay under a server's), with a short poll.
 */
export const BUSY_TELEGRAM = {
  limits: { perChat: { burst: 20, perSecond: 20 }, global: { burst: 30, perSecond: 30 } },
  options: {
    telegram: {
      pollTimeout: 1,
      throttle: {
        ...TELEGRAM_LIMITS,
        private: { max: 18, windowMs: 1_000 },
        group: { max: 18, windowMs: 1_000 },
      },
    },
  } satisfies Partial<StartOptions>,
};

export async function startTestBot(
  env: Record<string, string>,
  options: Partial<StartOptions> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'bosun-chat-')),
): Promise<TestBot> {
  const config = loadConfig({
    env: {
      DATA_DIR: dataDir,
      CHAT_CONSOLE: 'off',
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
    level: config.logLevel,
    format: 'json',
    secrets: secretValues(config),
    destination: { write: (line: string) => void raw.push(line) },
  });
  const bot = await startBot({ config, logger, interactive: false, ...options });
  // Chats connect in the background; tests talk to them once they have.
  await bot.connected();
  return {
    bot,
    dataDir,
    get logs() {
      return raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => raw.join(''),
  };
}

/** Every reply to one command line (`/name args`), sent by `person` in `chat` through the dispatcher. */
export async function sendLine(t: TestBot, line: string, person: Person, chat: ChatRef): Promise<Reply[]> {
  const replies: Reply[] = [];
  const [, command = '', text = ''] = /^\/(\S*)\s*([\s\S]*)$/.exec(line)!;
  await t.bot.dispatcher.run({
    command,
    text,
    person,
    chat,
    transport: {
      send: async (r) => {
        replies.push(r);
        return { edit: async () => undefined };
      },
    },
  });
  return replies;
}

/**
 * A bot on the Telegram emulator (its limits fast on both sides), serving `users`
 * (`ID:ROLE,...`); `stop()` stops both.
 */
export async function telegramTestBot(
  users: string,
  env: Record<string, string> = {},
): Promise<{ tg: TelegramEmulator; t: TestBot; stop(): Promise<void> }> {
  const tg = await new TelegramEmulator({ limits: BUSY_TELEGRAM.limits }).start();
  const t = await startTestBot(
    { TELEGRAM_BOT_TOKEN: tg.token, TELEGRAM_API_ROOT: tg.apiRoot, TELEGRAM_ALLOWED_USERS: users, ...env },
    BUSY_TELEGRAM.options,
  );
  return {
    tg,
    t,
    stop: async () => {
      await t.bot.stop();
      await tg.stop();
    },
  };
}
