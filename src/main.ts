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
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChatAdapter } from './chat/adapter.js';
import { Dispatcher } from './chat/dispatch.js';
import { loadCommands } from './chat/registry.js';
import type { Services } from './chat/services.js';
import type { TelegramOptions } from './chat/telegram/index.js';
import { type Config, loadConfig, secretValues } from './config.js';
import { toAppError } from './errors.js';
import { Notifier } from './chat/notifier.js';
import { tokenize } from './chat/args.js';
import { Engine, type EngineOptions, engineSettings, type RunSpec } from './engine/engine.js';
import { MarketWatch } from './engine/market-watch.js';
import type { Feed, ReplayFeed } from './engine/feed.js';
import { regimeClock, watchSchedule } from './engine/watch-schedule.js';
import { Trading } from './engine/trading.js';
import { AppError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { MarketData } from './market/provider.js';
import { PACKAGE_ROOT, SAMPLES_DIR } from './paths.js';
import { parseParamList } from './strategy/params.js';
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
  const fresh = Object.keys(store.data.runs).length === 0 && store.data.trades.length === 0;
  const registry = await loadCommands();
  const feed = await createFeed(config, logger, store);
  const market = new MarketData(config, logger.child({ module: 'market' }));
  // The market watch reads markets at the clock of the engine trading now (a replay's time, or now);
  // `trading` is built below, and the watch first reads the clock once the engines run.
  const watch = new MarketWatch({
    config,
    market,
    store,
    logger: logger.child({ module: 'watch' }),
    now: (): number => trading.engine.now(),
    // A replay's regime is read from the replay's own candles.
    ...(feed.kind === 'replay' ? { replay: feed as ReplayFeed } : {}),
  });
  const clocked = (f: Feed): Feed =>
    regimeClock(f, watch, (): Engine => trading.engine, logger.child({ module: 'watch' }));
  const regimeGate: EngineOptions['regimeGate'] = (side, confidence) => watch.gate(side, confidence);
  const paper = new Engine({
    store,
    feed: clocked(feed),
    settings: engineSettings(config),
    logger: logger.child({ module: 'engine' }),
    scheduleReports: !feed.accelerated,
    regimeGate,
  });
  const trading = new Trading({
    config,
    logger,
    paper,
    regimeGate,
    liveFeed: async () => {
      const { ExchangeFeed } = await import('./engine/exchange-feed.js');
      return clocked(new ExchangeFeed(config, logger.child({ module: 'feed' })));
    },
  });
  const adapters: ChatAdapter[] = [];
  let renderer: ReturnType<Services['charts']> | undefined;
  const services: Services = {
    config,
    version: packageVersion(),
    startedAt: Date.now(),
    registry,
    market,
    watch,
    store,
    get engine() {
      return trading.engine;
    },
    trading,
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
  const notifier = new Notifier(trading, services, () => adapters, logger.child({ module: 'notify' }));
  notifier.start();
  const timers = watchSchedule(
    watch,
    (): Engine => trading.engine,
    config,
    logger.child({ module: 'watch' }),
  );
  // The console is the person at the terminal: on a fresh state it hears everything.
  if (wantConsole && fresh && !('console:local' in store.data.subscriptions))
    await store.update((s) => {
      s.subscriptions['console:local'] = { since: Date.now(), muted: [] };
    });
  try {
    // A live mode an admin confirmed before a restart resumes; otherwise paper.
    const resumedLive = await trading.resumeLive();
    if (resumedLive) logger.warn({ confirmed: resumedLive }, 'live trading resumed');
    else {
      if (feed.kind === 'replay' && fresh) await startReplayRuns(paper, config.replay.runs, logger);
      await paper.start();
    }
  } catch (err) {
    for (const a of adapters) await a.stop().catch(() => undefined);
    throw err;
  }
  logger.info(
    {
      mode: trading.mode,
      feed: feed.describe(),
      chats: adapters.map((a) => a.platform),
      dataDir: config.dataDir,
    },
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
        // No new candles; what the engine announced reaches the chats; then the chats close.
        for (const t of timers) clearInterval(t);
        await trading.stop();
        await notifier.idle();
        notifier.stop();
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

/** The market feed the config asks for; a replay resumes where the state says it stood. */
async function createFeed(config: Readonly<Config>, logger: Logger, store: StateStore): Promise<Feed> {
  if (config.engine.feed === 'exchange') {
    const { ExchangeFeed } = await import('./engine/exchange-feed.js');
    return new ExchangeFeed(config, logger.child({ module: 'feed' }));
  }
  const { ReplayFeed } = await import('./engine/feed.js');
  const file = config.replay.file ?? join(SAMPLES_DIR, 'binanceus_BTC-USDT_1m_2023-03.csv');
  const saved = store.data.engine.replay;
  const resume = saved && saved.file === basename(file) ? saved.cursor : undefined;
  try {
    return new ReplayFeed({
      file,
      speed: config.replay.speed,
      logger: logger.child({ module: 'feed' }),
      ...(resume !== undefined ? { cursor: resume } : {}),
    });
  } catch (err) {
    const e = toAppError(err);
    if (e.code === 'NOT_FOUND')
      throw new AppError('BAD_CONFIG', `REPLAY_FILE ${file} cannot be read; allowed: a candle CSV`);
    throw e;
  }
}

/** `ema-cross BTC/USDT 15m approve=auto; ...` -> the runs a fresh replay starts with. */
export function parseRunList(text: string): RunSpec[] {
  if (text.trim() === 'none') return [];
  return text
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const bad = () =>
        new AppError(
          'BAD_CONFIG',
          `REPLAY_RUNS has "${part}"; allowed: STRATEGY SYMBOL TIMEFRAME [param=value ...] [approve=auto|manual], separated by ";", or none`,
        );
      const words = tokenize(part);
      let params: Record<string, string>;
      try {
        params = parseParamList(words.filter((w) => w.includes('=')));
      } catch {
        throw bad();
      }
      const [strategy, symbol, timeframe, extra] = words.filter((w) => !w.includes('='));
      const approve = params.approve ?? 'manual';
      delete params.approve;
      if (
        !strategy ||
        !symbol ||
        !timeframe ||
        extra !== undefined ||
        (approve !== 'auto' && approve !== 'manual')
      )
        throw bad();
      return { strategy, symbol: symbol.toUpperCase(), timeframe, params, approve };
    });
}

async function startReplayRuns(engine: Engine, text: string, logger: Logger): Promise<void> {
  for (const spec of parseRunList(text)) {
    try {
      const run = await engine.startRun(spec, 'REPLAY_RUNS');
      logger.info(
        { run: run.id, strategy: spec.strategy, symbol: spec.symbol, timeframe: spec.timeframe },
        'replay run started',
      );
    } catch (err) {
      throw new AppError('BAD_CONFIG', `REPLAY_RUNS: ${toAppError(err).message}`);
    }
  }
}

export async function main(): Promise<number> {
  // Listen before starting: a signal during start-up stops the bot as soon as it is up.
  const stopOn = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const bot = await startBot();
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
