/**
 * bosun's composition root: config -> logger -> state store -> market data -> commands -> chat
 * adapters. `npm start` runs it.
 *
 * It starts every chat whose token is set, and the console chat when stdin is a terminal, or when
 * nothing else is set up (so a fresh clone runs offline: console chat, paper trading, bundled data).
 * Chats connect in the background. SIGINT and SIGTERM stop it cleanly within 10 s: no new commands,
 * replies in flight finished (4 s at most), connections closed; a second signal ends it at once.
 */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ChatAdapter, keepConnected, pause } from './chat/adapter.js';
import { Dispatcher } from './chat/dispatch.js';
import { loadCommands } from './chat/registry.js';
import type { Services } from './chat/command.js';
import type { DiscordOptions } from './chat/discord/index.js';
import type { TelegramOptions } from './chat/telegram/index.js';
import { type Config, loadConfig, secretValues } from './config.js';
import { toAppError } from './errors.js';
import { Notifier } from './chat/notifier.js';
import { tokenize } from './chat/args.js';
import { engineSettings, type RegimeGate, type RunSpec } from './engine/context.js';
import { Engine } from './engine/engine.js';
import { MarketWatch } from './engine/market-watch.js';
import type { Feed, ReplayFeed } from './engine/feed.js';
import { regimeClock, watchSchedule } from './engine/watch-schedule.js';
import { Trading } from './engine/trading.js';
import { AppError } from './errors.js';
import { createLogger, type Logger, redactor } from './logger.js';
import { MarketData } from './market/provider.js';
import { exchangeFromFileName } from './market/symbol.js';
import { PACKAGE_ROOT, SAMPLES_DIR } from './paths.js';
import { parseParamList } from './strategy/params.js';
import { StateStore, storeOptions } from './store/state.js';
import { recordStartConfig } from './engine/settings-history.js';
import { pruneHistory } from './store/retention.js';
import { lockDataDir } from './store/lock.js';
import { ensureDir } from './store/atomic.js';
import { Health } from './health.js';

export interface Bot {
  services: Services;
  dispatcher: Dispatcher;
  adapters: ChatAdapter[];
  /**
   * Resolves when the bot should stop on its own: the console's input ended after commands (a pipe
   * of commands, or Ctrl-D on a terminal). Input that ends without a line (stdin is /dev/null, as
   * under `docker run` without -i) does not stop it.
   */
  finished: Promise<void>;
  /**
   * Resolves once every chat has connected (start-up does not wait for them); rejects when one is
   * refused for good (a wrong token).
   */
  connected(): Promise<void>;
  /** Where the HTTP server listens (HTTP_PORT set), e.g. http://127.0.0.1:8080. */
  httpUrl?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  config?: Readonly<Config>;
  logger?: Logger;
  /** The file the given `logger` writes to (named in the console's greeting); see `botLogger`. */
  logFile?: string;
  /** Console streams (tests); default process.stdin/stdout. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Whether stdin is a terminal (default: process.stdin.isTTY). */
  interactive?: boolean;
  /** How long replies in flight may take to finish at shutdown (default 4 s: all of a stop fits in 10). */
  graceMs?: number;
  /** How long between attempts to connect a chat that could not connect (default 15 s). */
  chatRetryMs?: number;
  /** How often the notifier looks at health for the alert chat (default 15 s). */
  healthEveryMs?: number;
  /** Abandons start-up (a signal arrived): what was started stops, and startBot rejects. */
  signal?: AbortSignal;
  /** Telegram tuning (tests): outgoing limits and the long-polling timeout. */
  telegram?: Pick<TelegramOptions, 'throttle' | 'pollTimeout'>;
  /** Discord tuning (tests): how long to wait for the gateway's READY. */
  discord?: Pick<DiscordOptions, 'readyTimeoutMs'>;
}

/** How long the engine waits for the chats' first connection attempts before it starts. */
const CHAT_HEAD_START_MS = 10_000;
/** The grace for replies in flight at shutdown: with the rest of a stop, within Docker's 10 s. */
const STOP_GRACE_MS = 4_000;

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/**
 * bosun's logger for this config. When the console chat runs on the terminal, the log goes to
 * `DATA_DIR/bosun.log` and the terminal shows only warnings and errors, one line each.
 */
export function botLogger(config: Readonly<Config>, interactive = Boolean(process.stdin.isTTY)): Logger {
  const file = logFile(config, interactive);
  return createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: secretValues(config),
    ...(file ? { file } : {}),
  });
}

/**
 * Where `botLogger` sends the log: `DATA_DIR/bosun.log` while the console chat has the terminal
 * (see `startBot`'s choice of chats), else nowhere but stderr.
 */
export function logFile(config: Readonly<Config>, interactive: boolean): string | undefined {
  const console = interactive && (config.chat.console === 'on' || config.chat.console === 'auto');
  return console ? join(config.dataDir, 'bosun.log') : undefined;
}

/**
 * Prune what the retention settings allow, now and every 6 hours (nothing when all is kept): the
 * paper book, and the live one while it trades; ages by the engine's clock (a replay's time).
 */
function scheduleRetention(
  store: StateStore,
  trading: Trading,
  config: Readonly<Config>,
  logger: Logger,
): NodeJS.Timeout {
  if (Object.values(config.store.retention).every((keep) => keep === 'keep')) return setTimeout(() => {}, 0);
  const prune = async () => {
    const clocks = { engine: trading.engine.feed.now(), wall: Date.now() };
    for (const book of new Set([store, trading.engine.store]))
      await pruneHistory(book, config.store.retention, clocks, logger).catch((err: unknown) =>
        logger.warn(
          { err: toAppError(err).message, book: book.book },
          'retention: pruning stopped; what it pruned before is recorded in /status, the rest is kept',
        ),
      );
  };
  void prune();
  const timer = setInterval(() => void prune(), 6 * 3_600_000);
  timer.unref();
  return timer;
}

/**
 * Build and start the bot. Chats connect in the background: one that cannot connect is reported and
 * retried without holding up the engine or the other chats. A failure that stops start-up stops
 * whatever was started before it rejects.
 */
export async function startBot(options: StartOptions = {}): Promise<Bot> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? botLogger(config, options.interactive);
  // What has been started, undone in reverse when start-up fails.
  const undo: Array<() => unknown> = [];
  const unwind = async () => {
    for (const step of undo.splice(0).reverse()) await Promise.resolve(step()).catch(() => undefined);
  };
  const check = () => {
    if (options.signal?.aborted) throw new AppError('INTERNAL', 'start-up abandoned: stopping');
  };
  try {
    return await assemble(config, logger, options, undo, check);
  } catch (err) {
    await unwind();
    throw err;
  }
}

async function assemble(
  config: Readonly<Config>,
  logger: Logger,
  options: StartOptions,
  undo: Array<() => unknown>,
  check: () => void,
): Promise<Bot> {
  // One bosun per SQLite journal (a shared PostgreSQL one is locked per INSTANCE by the store).
  let releaseLock: (() => void) | undefined;
  if (!config.store.url) {
    ensureDir(config.dataDir, { elsewhere: 'set DATA_DIR to a writable directory' });
    releaseLock = lockDataDir(config.dataDir);
    undo.push(releaseLock);
  }
  const store = await StateStore.open(config.dataDir, Date.now(), 'paper', storeOptions(config));
  undo.push(() => store.close());
  if (store.imported) logger.info({ book: 'paper' }, `upgraded from v0.1: ${store.imported}`);
  const fresh = Object.keys(store.data.runs).length === 0 && (await store.journal.tradeCounts()).trades === 0;
  const configChanges = await recordStartConfig(store, config);
  if (configChanges > 0 && !fresh)
    logger.info({ changed: configChanges }, 'settings changed since the last start: /settings history');
  const registry = await loadCommands();
  const feed = await createFeed(config, logger, store);
  // The runs a fresh replay starts must be playable from its file: checked before any chat starts.
  if (feed.kind === 'replay' && fresh) await checkReplayRuns(feed, config);
  check();
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
  const clocked = (f: Feed): Feed => regimeClock(f, watch, logger.child({ module: 'watch' }));
  const regimeGate: RegimeGate = (side, confidence) => watch.gate(side, confidence);
  const rulesExchange =
    feed.kind === 'replay'
      ? exchangeFromFileName(config.replay.file ?? DEFAULT_REPLAY_FILE)
      : config.exchange.id;
  const paper = new Engine({
    store,
    feed: clocked(feed),
    settings: engineSettings(config),
    logger: logger.child({ module: 'engine' }),
    scheduleReports: !feed.accelerated,
    regimeGate,
    source: feed.kind === 'exchange' ? config.exchange.id : 'replay',
    // Paper fills obey the exchange's amount step, minimums and price tick, as live orders must: a
    // replay's are those of the exchange its file names (as a backtest of that file takes them).
    marketRules: (symbol) => (rulesExchange ? market.rules(symbol, rulesExchange) : undefined),
  });
  const trading = new Trading({
    config,
    logger,
    paper,
    regimeGate,
    liveFeed: async () => {
      const { createExchangeFeed } = await import('./engine/stream-feed.js');
      return clocked(await createExchangeFeed(config, logger.child({ module: 'feed' })));
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
    health: () => health.readiness(),
  };
  const health = new Health({ trading, store, chats: services.chats });
  undo.push(() => health.stop());
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
        ...options.discord,
      }),
    );
  }
  const interactive = options.interactive ?? Boolean(process.stdin.isTTY);
  const logTo = options.logger ? options.logFile : logFile(config, interactive);
  const remote = adapters.length;
  const wantConsole =
    config.chat.console === 'on' || (config.chat.console === 'auto' && (interactive || remote === 0));
  let finished: Promise<void> = new Promise(() => {});
  let stopping: Promise<void> | undefined;
  if (wantConsole) {
    const { ConsoleChat } = await import('./chat/console/index.js');
    const chat = new ConsoleChat(dispatcher, {
      input: (options.input ?? process.stdin) as never,
      output: (options.output ?? process.stdout) as never,
      outDir: join(config.dataDir, 'out'),
      interactive,
      // The log went to a file to keep the terminal for the chat (see botLogger).
      ...(logTo ? { logFile: logTo } : {}),
    });
    adapters.push(chat);
    finished = chat.closed.then(() => {
      // Ctrl-D on a terminal, or the end of piped commands: the person is done.
      if (interactive || chat.linesRead > 0 || stopping) return;
      // Nothing was ever read (stdin is /dev/null or closed): no one asked to stop.
      logger.warn(
        remote > 0 ? {} : { reach: HOW_TO_REACH },
        'console input ended without a command; bosun keeps running (SIGTERM or SIGINT stops it)',
      );
      return new Promise<void>(() => {});
    });
  }
  if (adapters.length === 0) logger.warn({ reach: HOW_TO_REACH }, 'no chat to serve');
  else if (remote === 0 && !interactive)
    logger.warn({ reach: HOW_TO_REACH }, 'no chat token set and no terminal: only piped input reaches bosun');
  check();

  const connectedAdapters = () => adapters.filter((a) => a.status().state === 'connected');
  const notifier = new Notifier(trading, services, connectedAdapters, logger.child({ module: 'notify' }), {
    health: () => health.readiness(),
    ...(options.healthEveryMs !== undefined ? { healthEveryMs: options.healthEveryMs } : {}),
  });
  notifier.start();
  undo.push(() => notifier.stop());
  const { PriceAlerts } = await import('./chat/price-alerts.js');
  const alerts = new PriceAlerts({
    services,
    tell: (chat, build) => notifier.tell(chat, build),
    logger: logger.child({ module: 'alerts' }),
  });
  await alerts.start();
  services.alerts = alerts;
  undo.push(() => alerts.stop());
  const served = await serveHttp(config, { trading, notifier, health, dispatcher }, logger);
  undo.push(() => served.stop());
  let webhook: { stop(withinMs?: number): Promise<void> } | undefined;
  if (config.http.webhookUrl) {
    const { WebhookOut } = await import('./chat/webhook.js');
    const out = new WebhookOut({
      url: config.http.webhookUrl,
      sources: [trading, watch],
      timezone: config.timezone,
      logger: logger.child({ module: 'webhook' }),
    });
    out.start();
    webhook = out;
    undo.push(() => out.stop(0));
  }
  // Chats connect in the background, each retried on its own until it connects or is refused.
  const connecting = new AbortController();
  // A signal during start-up abandons the attempts under way.
  options.signal?.addEventListener('abort', () => connecting.abort(), { once: true });
  const connections = adapters.map((adapter) =>
    keepConnected(adapter, {
      logger,
      retryMs: options.chatRetryMs ?? 15_000,
      signal: connecting.signal,
    }),
  );
  const stopChats = () =>
    Promise.all(
      adapters.map((a) =>
        a
          .stop()
          .catch((err: unknown) =>
            logger.warn({ platform: a.platform, err: toAppError(err).message }, 'chat did not stop cleanly'),
          ),
      ),
    );
  const outcomes = Promise.all(connections.map((c) => c.outcome));
  undo.push(async () => {
    connecting.abort();
    await outcomes;
    await stopChats();
  });
  // The engine gives the chats a head start, so its first notices reach those that connect at once;
  // one that has not answered within it goes on connecting in the background.
  await Promise.race([
    Promise.all(connections.map((c) => c.firstAttempt)),
    pause(CHAT_HEAD_START_MS, connecting.signal),
  ]);
  // The console is the person at the terminal: on a fresh state it hears everything.
  if (wantConsole && fresh && !('console:local' in store.data.subscriptions))
    await store.update((s) => {
      s.subscriptions['console:local'] = { since: Date.now(), muted: [] };
    });
  check();
  undo.push(() => trading.stop());
  // A live mode an admin confirmed before a restart resumes; otherwise paper.
  const resumedLive = await trading.resumeLive();
  check();
  if (resumedLive) logger.warn({ confirmed: resumedLive }, 'live trading resumed');
  else {
    if (feed.kind === 'replay' && fresh) await startReplayRuns(paper, config.replay.runs, logger);
    check();
    await paper.start();
  }
  check();
  const timers = watchSchedule(
    watch,
    (): Engine => trading.engine,
    config,
    logger.child({ module: 'watch' }),
  );
  timers.push(scheduleRetention(store, trading, config, logger.child({ module: 'retention' })));
  // A bot runs until it is stopped: not only while something (a replay, a chat) has work in hand.
  timers.push(setInterval(() => undefined, 2 ** 30));
  logger.info(
    {
      mode: trading.mode,
      feed: feed.describe(),
      chats: adapters.map((a) => a.platform),
      dataDir: config.dataDir,
    },
    'bosun started',
  );

  return {
    services,
    dispatcher,
    adapters,
    finished,
    ...(served.url ? { httpUrl: served.url } : {}),
    connected: async () => {
      const ended = await outcomes;
      const refused = adapters.filter((_, i) => ended[i] === 'refused').map((a) => a.platform);
      if (refused.length > 0) throw new AppError('BAD_CONFIG', `refused: ${refused.join(', ')}`);
    },
    stop() {
      stopping ??= (async () => {
        logger.info('bosun stopping');
        // No new candles; what the engine announced reaches the chats; then the chats close.
        connecting.abort();
        for (const t of timers) clearInterval(t);
        await trading.stop();
        await served.stop();
        health.stop();
        // A chat that stopped answering does not hold the stop up.
        await Promise.all([notifier.idle(2_000), webhook?.stop(2_000)]);
        notifier.stop();
        await outcomes;
        await Promise.all([dispatcher.close(options.graceMs ?? STOP_GRACE_MS), stopChats()]);
        await Promise.all([trading.close(), store.close()]).catch((err: unknown) =>
          logger.warn({ err: toAppError(err).message }, 'the journal did not close cleanly'),
        );
        releaseLock?.();
        logger.info('bosun stopped');
      })();
      return stopping;
    },
  };
}

/**
 * The HTTP server (health, metrics) when HTTP_PORT is set, and the heartbeat when HEARTBEAT_URL is;
 * both loaded only then.
 */
async function serveHttp(
  config: Readonly<Config>,
  parts: { trading: Trading; notifier: Notifier; health: Health; dispatcher: Dispatcher },
  logger: Logger,
): Promise<{ url?: string; stop(): Promise<void> }> {
  const stops: Array<() => unknown> = [];
  let url: string | undefined;
  const log = logger.child({ module: 'http' });
  if (config.http.port !== undefined) {
    const [{ Metrics }, { startHttp }] = await Promise.all([
      import('./http/metrics.js'),
      import('./http/server.js'),
    ]);
    const metrics = new Metrics(parts);
    stops.push(() => metrics.stop());
    const { WebAccess } = await import('./http/web.js');
    let bound = '';
    const access = new WebAccess(() => config.http.webUrl ?? bound);
    parts.dispatcher.services.web = access;
    try {
      const server = await startHttp({
        port: config.http.port,
        host: config.http.host,
        health: parts.health,
        metrics,
        logger: log,
        api: {
          dispatcher: parts.dispatcher,
          tokens: config.http.apiTokens ?? [],
          version: parts.dispatcher.services.version,
        },
        ...(config.http.hookSecret
          ? { hooks: { secret: config.http.hookSecret, engine: () => parts.trading.engine } }
          : {}),
        web: { access, dispatcher: parts.dispatcher },
      });
      url = server.url;
      // Listening on every interface: a browser on this machine reaches it at 127.0.0.1.
      bound = url.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//127.0.0.1');
      stops.push(() => server.stop());
    } catch (err) {
      delete parts.dispatcher.services.web;
      metrics.stop();
      throw new AppError('BAD_CONFIG', (err as Error).message);
    }
  }
  if (config.http.heartbeatUrl) {
    const { startHeartbeat } = await import('./http/heartbeat.js');
    const beat = startHeartbeat({
      url: config.http.heartbeatUrl,
      intervalMs: config.http.heartbeatInterval,
      health: parts.health,
      logger: log,
    });
    stops.push(() => beat.stop());
  }
  return {
    ...(url ? { url } : {}),
    stop: async () => {
      for (const s of stops.splice(0).reverse()) await s();
    },
  };
}

/** How to reach a bot that has no chat: said in the log when that is so. */
const HOW_TO_REACH =
  'set TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN for a chat, or run it in a terminal (docker run -it) for the console';

/** The market feed the config asks for; a replay resumes where the state says it stood. */
async function createFeed(config: Readonly<Config>, logger: Logger, store: StateStore): Promise<Feed> {
  if (config.engine.feed === 'exchange') {
    const { createExchangeFeed } = await import('./engine/stream-feed.js');
    return createExchangeFeed(config, logger.child({ module: 'feed' }));
  }
  const { ReplayFeed } = await import('./engine/feed.js');
  const file = config.replay.file ?? DEFAULT_REPLAY_FILE;
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

/** The bundled March 2023 1m candles a replay plays when REPLAY_FILE is not set. */
const DEFAULT_REPLAY_FILE = join(SAMPLES_DIR, 'binanceus_BTC-USDT_1m_2023-03.csv');

/** Each REPLAY_RUNS run can be played from REPLAY_FILE; else one line naming both settings. */
async function checkReplayRuns(feed: Feed, config: Readonly<Config>): Promise<void> {
  const file = basename(config.replay.file ?? DEFAULT_REPLAY_FILE);
  for (const spec of parseRunList(config.replay.runs)) {
    try {
      await feed.check(spec.symbol, spec.timeframe);
    } catch (err) {
      // The feed says what is wrong and what it allows ("...; allowed: a multiple of 2h").
      const [why, allowed = 'what this file can make'] = toAppError(err).message.split('; allowed: ');
      throw new AppError(
        'BAD_CONFIG',
        `REPLAY_RUNS has ${spec.strategy} ${spec.symbol} ${spec.timeframe}, which REPLAY_FILE ${file} cannot play (${why}); allowed: runs on ${allowed} in REPLAY_RUNS, or REPLAY_RUNS=none`,
      );
    }
  }
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

/** Exit codes of a process ended by a signal, as shells report them. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
/** A stop that takes longer than this (a hung library) ends the process anyway: Docker waits 10 s. */
const STOP_DEADLINE_MS = 9_000;

/**
 * Run the bot until a signal or the console's end. The signals are heard from the first moment: one
 * during start-up abandons it; the first stops the bot cleanly, within 10 s whatever it is doing; a
 * second ends the process at once. Every line printed goes through the log's redaction.
 */
export async function main(): Promise<number> {
  let config: Readonly<Config> | undefined;
  let logger: Logger | undefined;
  const abandon = new AbortController();
  let signalled: string | undefined;
  const onSignal = (name: string) => {
    if (signalled !== undefined) {
      logger?.warn({ signal: name }, 'second signal: exiting now');
      process.exit(SIGNAL_EXIT[name] ?? 1);
    }
    signalled = name;
    logger?.info({ signal: name }, 'stopping on a signal');
    abandon.abort();
    setTimeout(() => {
      logger?.error({ deadlineMs: STOP_DEADLINE_MS }, 'stop did not finish in time: exiting now');
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const stopOn = new Promise<void>((r) => abandon.signal.addEventListener('abort', () => r()));
  try {
    config = loadConfig();
    logger = botLogger(config);
    const logTo = logFile(config, Boolean(process.stdin.isTTY));
    const bot = await startBot({
      config,
      logger,
      signal: abandon.signal,
      ...(logTo ? { logFile: logTo } : {}),
    });
    await Promise.race([bot.finished, stopOn]);
    await bot.stop();
    return 0;
  } catch (err) {
    // Abandoned on a signal (what had started is stopped): as asked, not a failure.
    if (signalled !== undefined) {
      logger?.info({ during: 'start-up' }, 'bosun stopped');
      return 0;
    }
    const e = toAppError(err);
    const scrub = redactor(config ? secretValues(config) : []);
    process.stderr.write(`error: ${scrub(e.message)}\n`);
    return e.isUserError ? 2 : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void main().then((code) => {
    process.exitCode = code;
    // What the bot started has stopped, and the process ends by itself; a library's leftover timer
    // or socket must not hold it up (nor keep a half-started bot alive after its error line).
    setTimeout(() => process.exit(code), code === 0 ? 1000 : 500).unref();
  });
}
