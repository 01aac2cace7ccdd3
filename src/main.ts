/**
 * bosun's composition root: config -> logger -> state store -> market data -> commands -> chat
 * adapters. `npm start` runs it.
 *
 * It starts every chat whose token is set, and the console chat when stdin is a terminal, or when
 * nothing else is set up (so a fresh clone runs offline: console chat, paper trading, bundled data).
 * SIGINT and SIGTERM stop it cleanly: no new commands, replies in flight finished, connections
 * closed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChatAdapter } from './chat/adapter.js';
import { Dispatcher } from './chat/dispatch.js';
import { loadCommands } from './chat/registry.js';
import type { Services } from './chat/services.js';
import type { TelegramOptions } from './chat/telegram/index.js';
import { type Config, loadConfig, secretValues } from './config.js';
import { toAppError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { MarketData } from './market/provider.js';
import { PACKAGE_ROOT } from './paths.js';
import { StateStore } from './store/state.js';

export interface Bot {
  services: Services;
  dispatcher: Dispatcher;
  adapters: ChatAdapter[];
  /** Resolves when the bot should stop on its own (the console's input ended). */
  finished: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  config?: Readonly<Config>;
  logger?: Logger;
  /** Console streams (tests); default process.stdin/stdout. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Whether stdin is a terminal (default: process.stdin.isTTY). */
  interactive?: boolean;
  /** How long replies in flight may take to finish at shutdown (default 10 s). */
  graceMs?: number;
  /** Telegram tuning (tests): outgoing limits and the long-polling timeout. */
  telegram?: Pick<TelegramOptions, 'throttle' | 'pollTimeout'>;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** Build and start the bot. */
export async function startBot(options: StartOptions = {}): Promise<Bot> {
  const config = options.config ?? loadConfig();
  const logger =
    options.logger ??
    createLogger({ level: config.logLevel, format: config.logFormat, secrets: secretValues(config) });
  const store = await StateStore.open(config.dataDir);
  const registry = await loadCommands();
  const adapters: ChatAdapter[] = [];
  let renderer: ReturnType<Services['charts']> | undefined;
  const services: Services = {
    config,
    version: packageVersion(),
    startedAt: Date.now(),
    registry,
    market: new MarketData(config, logger.child({ module: 'market' })),
    store,
    charts: () => {
      renderer ??= import('./charts/index.js').then((m) => m.chartRenderer(config));
      return renderer;
    },
    chats: () => adapters.map((a) => a.status()),
  };
  const dispatcher = new Dispatcher(services, logger.child({ module: 'chat' }));

  if (config.telegram.token) {
    const { TelegramChat } = await import('./chat/telegram/index.js');
    adapters.push(
      new TelegramChat(dispatcher, {
        token: config.telegram.token,
        apiRoot: config.telegram.apiRoot,
        allowedUsers: config.telegram.allowedUsers,
        logger: logger.child({ module: 'telegram' }),
        ...options.telegram,
      }),
    );
  }
  if (config.discord.token) {
    const { DiscordChat } = await import('./chat/discord/index.js');
    adapters.push(
      new DiscordChat(dispatcher, {
        token: config.discord.token,
        apiRoot: config.discord.apiRoot,
        ...(config.discord.guildId ? { guildId: config.discord.guildId } : {}),
        allowedUsers: config.discord.allowedUsers,
        allowedRoles: config.discord.allowedRoles,
        logger: logger.child({ module: 'discord' }),
      }),
    );
  }
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY);
  const wantConsole =
    config.chat.console === 'on' ||
    (config.chat.console === 'auto' && (interactive || adapters.length === 0));
  let finished: Promise<void> = new Promise(() => {});
  if (wantConsole) {
    const { ConsoleChat } = await import('./chat/console/index.js');
    const chat = new ConsoleChat(dispatcher, {
      input: (options.input ?? process.stdin) as never,
      output: (options.output ?? process.stdout) as never,
      outDir: join(config.dataDir, 'out'),
      interactive,
    });
    adapters.push(chat);
    finished = chat.closed;
  }
  if (adapters.length === 0)
    logger.warn('no chat to serve: set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN, or CHAT_CONSOLE=on');

  for (const adapter of adapters) {
    try {
      await adapter.start();
      logger.info({ platform: adapter.platform }, 'chat connected');
    } catch (err) {
      for (const a of adapters) await a.stop().catch(() => undefined);
      throw err;
    }
  }
  logger.info(
    { mode: config.tradingMode, chats: adapters.map((a) => a.platform), dataDir: config.dataDir },
    'bosun started',
  );

  let stopping: Promise<void> | undefined;
  return {
    services,
    dispatcher,
    adapters,
    finished,
    stop() {
      stopping ??= (async () => {
        logger.info('bosun stopping');
        // Stop taking messages and finish what is in flight, then disconnect.
        await Promise.all([
          dispatcher.close(options.graceMs ?? 10_000),
          ...adapters.map((a) =>
            a
              .stop()
              .catch((err: unknown) =>
                logger.warn(
                  { platform: a.platform, err: toAppError(err).message },
                  'chat did not stop cleanly',
                ),
              ),
          ),
        ]);
        logger.info('bosun stopped');
      })();
      return stopping;
    },
  };
}

export async function main(): Promise<number> {
  const bot = await startBot();
  const stopOn = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await Promise.race([bot.finished, stopOn]);
  await bot.stop();
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
      // Timers of libraries (keep-alive sockets) must not hold a stopped bot up.
      setTimeout(() => process.exit(code), 3000).unref();
    },
    (err) => {
      const e = toAppError(err);
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = e.isUserError ? 2 : 1;
    },
  );
}
