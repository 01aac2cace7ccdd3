/**
 * bosun's configuration: one zod schema over the environment (with `.env` read through dotenv) and an
 * optional JSON config file. It is parsed once, at start-up, by `loadConfig`; nothing else reads
 * `process.env`.
 *
 * Every setting has one entry in {@link CONFIG_KEYS}: its environment name, where it lives in the
 * config file, its schema and a one-line description of what is allowed. The type {@link Config} is
 * read from that table, and the RISK_* keys from the risk manager's own schema. Secrets (API keys,
 * tokens) are accepted only from the environment. A bad or unknown key stops start-up with one line
 * that names the key and says what is allowed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { RISK_HELP, RiskSettings } from './engine/risk.js';
import { redactor, urlPassword } from './redact.js';

const scrub = redactor();
import { AppError } from './errors.js';
import { isTimeframe } from './market/timeframe.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Chat roles, least to most powerful. */
export const ROLES = ['viewer', 'trader', 'admin'] as const;

/** `123:admin,456:viewer` -> { '123': 'admin', '456': 'viewer' } */
const roleList = (idPattern: RegExp) =>
  z
    .string()
    .refine((text) =>
      text
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .every((pair) => {
          const [id, role, extra] = pair.split(':');
          return (
            extra === undefined &&
            idPattern.test(id ?? '') &&
            (ROLES as readonly string[]).includes(role ?? '')
          );
        }),
    )
    .transform((text) => {
      const out: Record<string, (typeof ROLES)[number]> = {};
      for (const pair of text
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const [id, role] = pair.split(':') as [string, (typeof ROLES)[number]];
        out[id] = role;
      }
      return out;
    });

const durationText = z
  .string()
  .regex(/^[1-9][0-9]*[smhd]$/)
  .transform(
    (t) => Number(t.slice(0, -1)) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[t.slice(-1) as 's'],
  );

/** The longest wait a Node timer keeps (2^31-1 ms); past it, setTimeout/setInterval fire after 1 ms. */
const TIMER_MAX_MS = 2 ** 31 - 1;
/** A duration bosun waits on with a timer: at most 24d, so the timer does not fire at once. */
const timerDuration = durationText.refine((ms) => ms <= TIMER_MAX_MS);
/** A timeframe the market code reads (src/market/timeframe.ts): 1m, 37m, 4h, 1d, 1w... */
const timeframeText = z.string().refine(isTimeframe);

/** `keep`, or a number of days (`90d`): how long a history kind is kept. */
const retention = z.union([
  z.literal('keep'),
  z
    .string()
    .regex(/^[1-9][0-9]{0,4}d$/)
    .transform((t) => Number(t.slice(0, -1))),
]);
const numberIn = (min: number, max: number) => z.coerce.number().pipe(z.number().min(min).max(max));

interface KeySpec {
  /** Environment variable name. */
  env: string;
  /** Dotted path in the config file and in the parsed Config, e.g. `backtest.fee`. */
  path: string;
  /** Checks the value and gives its type in {@link Config}; its output is `undefined` when unset. */
  schema: z.ZodType;
  /** What is allowed, for error messages and `.env.example`. */
  allowed: string;
  /** Accepted only from the environment, redacted from logs. */
  secret?: boolean;
}

/** The config key of risk setting K; its value is that setting's, or absent when unset. */
type RiskKey<K extends keyof RiskSettings> = KeySpec & {
  path: `risk.${K}`;
  schema: z.ZodType<RiskSettings[K] | undefined>;
};

const RISK_DEFAULTS = RiskSettings.parse({});

/**
 * A risk setting's config key, checked with the engine's own schema (src/engine/risk.ts) and told
 * with its help, so a value start-up takes is one every candle's risk step takes too. Unset keys
 * take the engine's defaults.
 */
function riskKey<K extends keyof RiskSettings>(key: K, env: string): RiskKey<K> {
  const field: z.ZodType = RiskSettings.shape[key].unwrap();
  // Numbers arrive as text from the environment; the engine's bounds (ints, ranges) decide.
  const schema = key === 'sizing' ? field : z.coerce.number().pipe(field as z.ZodType<unknown, number>);
  return {
    env,
    path: `risk.${key}`,
    // The engine's field for K, so its output is RiskSettings[K] (TypeScript cannot follow K through).
    schema: schema.optional() as z.ZodType<RiskSettings[K] | undefined>,
    allowed: `${RISK_HELP[key]} (default ${RISK_DEFAULTS[key]})`,
  };
}

/** A key for every risk setting (the type requires each), with its environment name. */
const RISK_KEYS: { [K in keyof RiskSettings]: RiskKey<K> } = {
  sizing: riskKey('sizing', 'RISK_SIZING'),
  riskPerTrade: riskKey('riskPerTrade', 'RISK_PER_TRADE'),
  fraction: riskKey('fraction', 'RISK_FRACTION'),
  defaultStop: riskKey('defaultStop', 'RISK_DEFAULT_STOP'),
  maxOpenPositions: riskKey('maxOpenPositions', 'RISK_MAX_OPEN'),
  maxPositionSize: riskKey('maxPositionSize', 'RISK_MAX_POSITION_SIZE'),
  maxSymbolExposure: riskKey('maxSymbolExposure', 'RISK_MAX_SYMBOL_EXPOSURE'),
  dailyLossLimit: riskKey('dailyLossLimit', 'RISK_DAILY_LOSS'),
  maxDrawdown: riskKey('maxDrawdown', 'RISK_MAX_DRAWDOWN'),
  minRewardRisk: riskKey('minRewardRisk', 'RISK_MIN_REWARD_RISK'),
  cooldownMinutes: riskKey('cooldownMinutes', 'RISK_COOLDOWN_MINUTES'),
};

/**
 * Every setting bosun reads; {@link Config} is read from this table, so a setting is declared once.
 * `.env.example` lists each of them (a test checks it).
 */
const SETTINGS = [
  {
    env: 'CONFIG_FILE',
    path: 'configFile',
    schema: z.string().optional(),
    allowed: 'a path to a JSON config file (default: bosun.config.json when it exists)',
  },
  {
    env: 'LOG_LEVEL',
    path: 'logLevel',
    schema: z.enum(LOG_LEVELS).default('info'),
    allowed: `one of ${LOG_LEVELS.join(', ')}`,
  },
  {
    env: 'LOG_FORMAT',
    path: 'logFormat',
    schema: z.enum(['auto', 'json', 'pretty']).default('auto'),
    allowed: 'one of auto (pretty on a terminal, else JSON), json, pretty',
  },
  {
    env: 'DATA_DIR',
    path: 'dataDir',
    schema: z.string().min(1).default('data'),
    allowed: 'a directory path for state and caches',
  },
  {
    env: 'DATABASE_URL',
    path: 'store.url',
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/)
      .optional(),
    allowed:
      'a PostgreSQL URL, postgres://user:password@host:5432/database, with @ # / : in the password percent-encoded (unset: the journal is SQLite in DATA_DIR)',
    secret: true,
  },
  {
    env: 'INSTANCE',
    path: 'store.instance',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/)
      .default('main'),
    allowed: "this bosun's name in a shared database: letters, digits, - and _, at most 40 (default main)",
  },
  {
    env: 'RETENTION_DECISIONS',
    path: 'store.retention.decisions',
    schema: retention.default('keep'),
    allowed:
      'how long decisions and their indicator values are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'RETENTION_EQUITY',
    path: 'store.retention.equity',
    schema: retention.default('keep'),
    allowed:
      'how long equity points are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'RETENTION_NOTIFICATIONS',
    path: 'store.retention.notifications',
    schema: retention.default('keep'),
    allowed:
      'how long chat notifications sent are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'RETENTION_REGIME_CHANGES',
    path: 'store.retention.regime_changes',
    schema: retention.default('keep'),
    allowed:
      'how long regime changes are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'RETENTION_SNAPSHOTS',
    path: 'store.retention.snapshots',
    schema: retention.default('keep'),
    allowed:
      'how long scanner snapshots are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'RETENTION_CANDLES',
    path: 'store.retention.candles',
    schema: retention.default('keep'),
    allowed:
      'how long collected candles are kept: keep (the default), or a number of days from 1d to 99999d, e.g. 90d',
  },
  {
    env: 'TIMEZONE',
    path: 'timezone',
    schema: z.string().refine(isTimeZone).default('UTC'),
    allowed: 'an IANA time zone such as UTC or Europe/Berlin',
  },
  {
    env: 'TRADING_MODE',
    path: 'tradingMode',
    schema: z.enum(['paper', 'live']).default('paper'),
    allowed: 'one of paper, live',
  },
  {
    env: 'EXCHANGE',
    path: 'exchange.id',
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9]*$/)
      .default('binance'),
    allowed: 'a ccxt exchange id in lower case, such as binance or kraken',
  },
  {
    env: 'EXCHANGE_API_URL',
    path: 'exchange.apiUrl',
    schema: z.url().optional(),
    allowed: 'an http(s) URL that replaces the exchange API host (a proxy or a local emulator)',
  },
  {
    env: 'EXCHANGE_API_KEY',
    path: 'exchange.apiKey',
    schema: z.string().regex(/^\S+$/).optional(),
    allowed: 'the exchange API key, without spaces (environment only)',
    secret: true,
  },
  {
    env: 'EXCHANGE_SECRET',
    path: 'exchange.secret',
    schema: z.string().regex(/^\S+$/).optional(),
    allowed: 'the exchange API secret, without spaces (environment only)',
    secret: true,
  },
  {
    env: 'EXCHANGE_PASSWORD',
    path: 'exchange.password',
    schema: z.string().regex(/^\S+$/).optional(),
    allowed: 'the exchange API passphrase, without spaces, for exchanges that use one (environment only)',
    secret: true,
  },
  {
    env: 'BACKTEST_CAPITAL',
    path: 'backtest.capital',
    schema: numberIn(1, 1e12).default(10_000),
    allowed: 'a starting capital in quote currency, from 1 to 1e12',
  },
  {
    env: 'BACKTEST_FEE',
    path: 'backtest.fee',
    schema: numberIn(0, 0.1).default(0.001),
    allowed: 'a fee per side as a fraction, from 0 to 0.1 (0.001 = 0.1%)',
  },
  {
    env: 'BACKTEST_MAKER_FEE',
    path: 'backtest.makerFee',
    schema: numberIn(0, 0.1).optional(),
    allowed: 'the maker fee (take-profits, limit entries) as a fraction, from 0 to 0.1; unset: BACKTEST_FEE',
  },
  {
    env: 'BACKTEST_SLIPPAGE_BPS',
    path: 'backtest.slippageBps',
    schema: numberIn(0, 1000).default(0),
    allowed: 'slippage in basis points, from 0 to 1000',
  },
  {
    env: 'BACKTEST_CHAT_SWEEP_MAX',
    path: 'backtest.chatSweepMax',
    schema: z.coerce.number().pipe(z.number().int().min(1).max(1000)).default(100),
    allowed: 'the most parameter sets one /backtest sweep in chat may run, a whole number from 1 to 1000',
  },
  {
    env: 'CHART_RENDERER',
    path: 'charts.renderer',
    schema: z.enum(['local', 'quickchart']).default('local'),
    allowed: 'one of local (drawn here, no network), quickchart (a QuickChart server)',
  },
  {
    env: 'QUICKCHART_URL',
    path: 'charts.quickchartUrl',
    schema: z.url().default('https://quickchart.io'),
    allowed: 'the base URL of a QuickChart server (hosted or self-hosted)',
  },
  {
    env: 'QUICKCHART_API_KEY',
    path: 'charts.quickchartKey',
    schema: z.string().regex(/^\S+$/).optional(),
    allowed: 'a QuickChart API key, without spaces (environment only)',
    secret: true,
  },
  {
    env: 'CHART_THEME',
    path: 'charts.theme',
    schema: z.enum(['dark', 'light']).default('dark'),
    allowed: 'one of dark, light',
  },
  {
    env: 'CHART_WIDTH',
    path: 'charts.width',
    schema: z.coerce.number().pipe(z.number().int().min(320).max(4096)).default(1280),
    allowed: 'chart width in pixels, a whole number from 320 to 4096',
  },
  {
    env: 'CHART_HEIGHT',
    path: 'charts.height',
    schema: z.coerce.number().pipe(z.number().int().min(240).max(4096)).default(720),
    allowed: 'chart height in pixels, a whole number from 240 to 4096',
  },
  {
    env: 'MARKET_DATA',
    path: 'marketData',
    schema: z.enum(['auto', 'exchange', 'samples']).default('auto'),
    allowed:
      'one of auto (the exchange, or the bundled samples while it is unreachable), exchange (only the exchange), samples (only the bundled samples)',
  },
  {
    env: 'MARKET_FEED',
    path: 'engine.feed',
    schema: z.enum(['replay', 'exchange']).default('replay'),
    allowed:
      'one of replay (play REPLAY_FILE as if live, offline), exchange (closed candles from the exchange: streamed, or polled)',
  },
  {
    env: 'MARKET_STREAM',
    path: 'engine.stream',
    schema: z.enum(['on', 'off']).default('on'),
    allowed:
      'on (closed candles over the exchange WebSocket stream where ccxt has one, polling when it is down) or off (poll at each close)',
  },
  {
    env: 'MARKET_STREAM_HEARTBEAT',
    path: 'engine.streamHeartbeat',
    schema: timerDuration.refine((ms) => ms >= 5000).default(30_000),
    allowed:
      'how often the market stream must say something: silent for two of these, it is down (a number and s, m, h or d, at least 5s, e.g. 30s)',
  },
  {
    env: 'REPLAY_FILE',
    path: 'replay.file',
    schema: z.string().min(1).optional(),
    allowed: 'a candle CSV named like binance_BTC-USDT_1m.csv (default: the bundled BTC/USDT 1m March 2023)',
  },
  {
    env: 'REPLAY_SPEED',
    path: 'replay.speed',
    schema: numberIn(0.1, 1_000_000).default(30),
    allowed: 'source candles played per second, from 0.1 to 1000000',
  },
  {
    env: 'REPLAY_RUNS',
    path: 'replay.runs',
    schema: z
      .string()
      .default('ema-cross BTC/USDT 15m approve=auto; rsi-reversion BTC/USDT 15m approve=manual'),
    allowed:
      'runs a fresh replay starts, separated by ";", each like /start takes them: STRATEGY SYMBOL TIMEFRAME [param=value ...] [approve=auto|manual]; or none',
  },
  {
    env: 'PAPER_BALANCE',
    path: 'paper.balance',
    schema: z
      .string()
      .regex(/^\s*[A-Z0-9]{2,10}:\d+(\.\d+)?\s*(,\s*[A-Z0-9]{2,10}:\d+(\.\d+)?\s*)*$/)
      .transform((t) =>
        Object.fromEntries(
          t.split(',').map((pair) => {
            const [q, v] = pair.trim().split(':');
            return [q!, Number(v)];
          }),
        ),
      )
      .default({ USDT: 10_000 }),
    allowed: 'starting paper cash per quote currency, e.g. USDT:10000 or USDT:10000,BTC:0.5',
  },
  {
    env: 'LIVE_ENTRY_ORDER',
    path: 'live.entryOrder',
    schema: z.enum(['market', 'limit']).default('market'),
    allowed: 'how live entries are sent: market, or limit (LIVE_LIMIT_OFFSET_BPS better than the price)',
  },
  {
    env: 'LIVE_LIMIT_OFFSET_BPS',
    path: 'live.limitOffsetBps',
    schema: numberIn(0, 500).default(5),
    allowed: 'how far below (buys) the price a limit entry sits, in basis points, from 0 to 500',
  },
  {
    env: 'LIVE_LIMIT_TIMEOUT',
    path: 'live.limitTimeout',
    schema: durationText.default(60_000),
    allowed: 'how long a limit entry may wait unfilled: a number and s, m, h or d, e.g. 60s',
  },
  {
    env: 'LIVE_LIMIT_FALLBACK',
    path: 'live.limitFallback',
    schema: z.enum(['market', 'cancel']).default('market'),
    allowed: 'what happens to the unfilled rest of a limit entry at its timeout: market, or cancel',
  },
  {
    env: 'LIVE_STOPS',
    path: 'live.stops',
    schema: z.enum(['exchange', 'bot']).default('exchange'),
    allowed:
      'where stop-losses live: exchange (a stop order on the exchange, where supported) or bot (bosun sells when a candle reaches the stop)',
  },
  {
    env: 'LIVE_MAX_NOTIONAL_RUN',
    path: 'live.maxNotionalRun',
    schema: numberIn(0, 1e12).default(0),
    allowed: 'the largest position value one run may hold, in quote currency; 0 for no limit',
  },
  {
    env: 'LIVE_MAX_NOTIONAL_TOTAL',
    path: 'live.maxNotionalTotal',
    schema: numberIn(0, 1e12).default(0),
    allowed: 'the largest value all live positions together may have, in quote currency; 0 for no limit',
  },
  {
    env: 'LIVE_RECONCILE_INTERVAL',
    path: 'live.reconcileInterval',
    schema: timerDuration.default(5 * 60_000),
    allowed:
      'how often live orders, fills and balances are checked against the exchange, e.g. 5m; at most 24d',
  },
  {
    env: 'LIVE_BREAKER_FAILURES',
    path: 'live.breakerFailures',
    schema: numberIn(1, 100).pipe(z.number().int()).default(3),
    allowed:
      'exchange failures in a row after which live trading pauses until it answers again, a whole number 1 to 100',
  },
  {
    env: 'APPROVAL_TIMEOUT',
    path: 'engine.approvalTimeout',
    schema: timerDuration.default(15 * 60_000),
    allowed:
      'how long a signal waits for approval (wall clock): a number and s, m, h or d, e.g. 15m; at most 24d',
  },
  {
    env: 'REPORT_TIME',
    path: 'engine.reportTime',
    schema: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/)
      .default('00:00'),
    allowed: 'the daily report time as HH:MM in TIMEZONE, e.g. 08:00',
  },
  ...Object.values(RISK_KEYS),
  {
    env: 'REGIME_SYMBOL',
    path: 'regime.symbol',
    schema: z
      .string()
      .regex(/^[A-Z0-9]+\/[A-Z0-9]+$/)
      .default('BTC/USDT'),
    allowed: 'the market whose trend and volatility set the regime, e.g. BTC/USDT',
  },
  {
    env: 'REGIME_TIMEFRAME',
    path: 'regime.timeframe',
    schema: timeframeText.default('4h'),
    allowed: 'the candles the regime is measured on, a number from 1 and m, h, d or w, e.g. 4h',
  },
  {
    env: 'REGIME_GATE',
    path: 'regime.gate',
    schema: z.enum(['on', 'off']).default('on'),
    allowed: 'on (runs obey the regime: no longs in RISK_OFF, nothing in CHOP, sized by it) or off',
  },
  {
    env: 'REGIME_MIN_DWELL',
    path: 'regime.minDwell',
    schema: durationText.default(12 * 3_600_000),
    allowed: 'least time in a regime before it may change, e.g. 12h',
  },
  {
    env: 'REGIME_DXY_URL',
    path: 'regime.dxyUrl',
    schema: z.url().optional(),
    allowed: 'a URL answering DXY closes as JSON [{"time":ms,"value":n},...] (off when unset)',
  },
  {
    env: 'REGIME_DOMINANCE_URL',
    path: 'regime.dominanceUrl',
    schema: z.url().optional(),
    allowed: 'a URL answering BTC dominance % as JSON [{"time":ms,"value":n},...] (off when unset)',
  },
  {
    env: 'REGIME_NEWS_URL',
    path: 'regime.newsUrl',
    schema: z.url().optional(),
    allowed: 'a URL answering headlines as JSON [{"time":ms,"title":"..."},...] (off when unset)',
  },
  {
    env: 'PAIRLIST_QUOTES',
    path: 'pairlist.quotes',
    schema: z
      .string()
      .regex(/^[A-Z0-9]+(,[A-Z0-9]+)*$/)
      .default('USDT'),
    allowed: 'quote currencies markets may trade against, comma-separated, e.g. USDT,USDC',
  },
  {
    env: 'PAIRLIST_MIN_VOLUME',
    path: 'pairlist.minVolume',
    schema: numberIn(0, 1e13).default(1_000_000),
    allowed: 'least 24h volume in the quote currency, e.g. 1000000',
  },
  {
    env: 'PAIRLIST_MAX_SPREAD',
    path: 'pairlist.maxSpread',
    schema: numberIn(0, 1).default(0.005),
    allowed: 'largest bid/ask spread as a share of the mid price, 0 to 1 (0.005 = 0.5%)',
  },
  {
    env: 'PAIRLIST_MAX_VOLATILITY',
    path: 'pairlist.maxVolatility',
    schema: numberIn(0, 10).default(0.25),
    allowed: 'largest 24h range (high - low) / low, 0 to 10 (0.25 = 25%)',
  },
  {
    env: 'PAIRLIST_MIN_HISTORY',
    path: 'pairlist.minHistory',
    schema: numberIn(0, 100_000).pipe(z.number().int()).default(200),
    allowed: 'least candles of history a market needs to be scanned, a whole number 0 to 100000',
  },
  {
    env: 'PAIRLIST_DENY',
    path: 'pairlist.deny',
    schema: z.string().default(''),
    allowed: 'markets never traded, comma-separated, e.g. LUNA/USDT,UST/USDT',
  },
  {
    env: 'PAIRLIST_MAX',
    path: 'pairlist.max',
    schema: numberIn(1, 500).pipe(z.number().int()).default(30),
    allowed: 'most markets kept, by 24h quote volume, a whole number 1 to 500',
  },
  {
    env: 'PAIRLIST_REFRESH',
    path: 'pairlist.refresh',
    schema: timerDuration.default(3_600_000),
    allowed: 'how often the market list is refreshed (one tickers call), e.g. 1h; at most 24d',
  },
  {
    env: 'SCAN_TIMEFRAME',
    path: 'scanner.timeframe',
    schema: timeframeText.default('15m'),
    allowed: 'the candles the scanner ranks markets on, a number from 1 and m, h, d or w, e.g. 15m',
  },
  {
    env: 'SCAN_INTERVAL',
    path: 'scanner.interval',
    schema: z.union([z.literal('off'), timerDuration]).default('off'),
    allowed: 'how often the scanner runs and pushes its top markets, e.g. 1h (at most 24d), or off',
  },
  {
    env: 'SCAN_TOP',
    path: 'scanner.top',
    schema: numberIn(1, 50).pipe(z.number().int()).default(5),
    allowed: 'markets a scheduled scan pushes, a whole number 1 to 50',
  },
  {
    env: 'HTTP_PORT',
    path: 'http.port',
    schema: z
      .string()
      .regex(/^[0-9]{1,5}$/)
      .transform(Number)
      .pipe(z.number().max(65_535))
      .optional(),
    allowed:
      'the TCP port of the HTTP server (health, metrics), from 1 to 65535, or 0 for any free port; unset: no server',
  },
  {
    env: 'HTTP_HOST',
    path: 'http.host',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9.:-]+$/)
      .default('127.0.0.1'),
    allowed:
      'the address the HTTP server listens on: 127.0.0.1 (the default, this machine only), or 0.0.0.0 behind a proxy or firewall',
  },
  {
    env: 'WEB_URL',
    path: 'http.webUrl',
    schema: z.url({ protocol: /^https?$/ }).optional(),
    allowed:
      'the address a browser reaches the HTTP server at, for /web links, e.g. https://bosun.example.com (unset: http://HTTP_HOST:HTTP_PORT)',
  },
  {
    env: 'HEARTBEAT_URL',
    path: 'http.heartbeatUrl',
    schema: z.url({ protocol: /^https?$/ }).optional(),
    allowed:
      'an http(s) URL bosun requests every HEARTBEAT_INTERVAL while it is healthy, for a dead-man monitor such as healthchecks.io (environment only)',
    secret: true,
  },
  {
    env: 'HEARTBEAT_INTERVAL',
    path: 'http.heartbeatInterval',
    schema: timerDuration.refine((ms) => ms >= 5000).default(60_000),
    allowed:
      'how often the heartbeat goes out while healthy: a number and s, m, h or d, at least 5s, e.g. 60s',
  },
  {
    env: 'API_TOKENS',
    path: 'http.apiTokens',
    schema: z
      .string()
      .transform((t) =>
        t
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(/^[a-z0-9_-]{1,32}:(viewer|trader|admin):[A-Za-z0-9_-]{24,}$/)
            .transform((x) => {
              const [name, role, token] = x.split(':') as [string, Role, string];
              return { name, role, token };
            }),
        ),
      )
      .refine(
        (list) =>
          new Set(list.map((t) => t.name)).size === list.length &&
          new Set(list.map((t) => t.token)).size === list.length,
      )
      .optional(),
    allowed:
      'comma-separated NAME:ROLE:TOKEN for scripts using the JSON API (/api), ROLE viewer, trader or admin, TOKEN at least 24 letters, digits, - or _, each NAME and each TOKEN once (environment only)',
    secret: true,
  },
  {
    env: 'HOOK_SECRET',
    path: 'http.hookSecret',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{24,}$/)
      .optional(),
    allowed:
      'the secret in the inbound alert URL /hooks/signal/SECRET: at least 24 letters, digits, - or _ (environment only; unset: no inbound hooks)',
    secret: true,
  },
  {
    env: 'WEBHOOK_URL',
    path: 'http.webhookUrl',
    schema: z.url({ protocol: /^https?$/ }).optional(),
    allowed:
      'an http(s) URL that receives every notice the chats get, as JSON (POST), e.g. a Slack or n8n webhook (environment only)',
    secret: true,
  },
  {
    env: 'ALERT_CHAT',
    path: 'chat.alertChat',
    schema: z
      .string()
      .regex(/^(telegram:-?[1-9][0-9]{0,19}|discord:[1-9][0-9]{0,19})$/)
      .optional(),
    allowed:
      'a second chat for when a chat cannot be reached or bosun is unwell: telegram:CHAT_ID (a number, negative for groups) or discord:CHANNEL_ID, on a platform whose token is set (unset: none)',
  },
  {
    env: 'CHAT_CONSOLE',
    path: 'chat.console',
    schema: z.enum(['auto', 'on', 'off']).default('auto'),
    allowed:
      'one of auto (a console chat when stdin is a terminal, or when no other chat is set up), on, off',
  },
  {
    env: 'CHAT_BUTTON_TTL',
    path: 'chat.buttonTtl',
    schema: durationText.default(86_400_000),
    allowed: 'how long chat buttons stay valid: a number and s, m, h or d (e.g. 30m, 24h)',
  },
  {
    env: 'TELEGRAM_BOT_TOKEN',
    path: 'telegram.token',
    schema: z
      .string()
      .regex(/^\d+:[\w-]{20,}$/)
      .optional(),
    allowed: 'the token @BotFather gave, like 123456:ABC-DEF... (environment only)',
    secret: true,
  },
  {
    env: 'TELEGRAM_API_ROOT',
    path: 'telegram.apiRoot',
    schema: z.url().default('https://api.telegram.org'),
    allowed: 'the base URL of a Telegram Bot API server (default https://api.telegram.org)',
  },
  {
    env: 'TELEGRAM_ALLOWED_USERS',
    path: 'telegram.allowedUsers',
    schema: roleList(/^\d{1,20}$/).default({}),
    allowed:
      'comma-separated Telegram user ids with a role each, e.g. 123:admin,456:viewer (roles: viewer, trader, admin)',
  },
  {
    env: 'DISCORD_BOT_TOKEN',
    path: 'discord.token',
    schema: z
      .string()
      .regex(/^[\w.-]{30,}$/)
      .optional(),
    allowed: 'the bot token from the Discord developer portal (environment only)',
    secret: true,
  },
  {
    env: 'DISCORD_API_ROOT',
    path: 'discord.apiRoot',
    schema: z.url().default('https://discord.com/api'),
    allowed: 'the base URL of the Discord REST API (default https://discord.com/api), e.g. a REST proxy',
  },
  {
    env: 'DISCORD_GUILD_ID',
    path: 'discord.guildId',
    schema: z
      .string()
      .regex(/^\d{5,20}$/)
      .optional(),
    allowed: 'a server (guild) id: slash commands are registered there only, at once; unset: globally',
  },
  {
    env: 'DISCORD_ALLOWED_USERS',
    path: 'discord.allowedUsers',
    schema: roleList(/^\d{5,20}$/).default({}),
    allowed: 'comma-separated Discord user ids with a role each, e.g. 1234567:admin,7654321:viewer',
  },
  {
    env: 'DISCORD_ALLOWED_ROLES',
    path: 'discord.allowedRoles',
    schema: roleList(/^\d{5,20}$/).default({}),
    allowed: 'comma-separated Discord server role ids with a bosun role each, e.g. 1112223:trader',
  },
] as const satisfies readonly KeySpec[];

export const CONFIG_KEYS: readonly KeySpec[] = SETTINGS;

/** Prefixes that mark an environment variable as meant for bosun, so a typo there is caught. */
const OWN_PREFIXES = [
  'BOSUN_',
  'EXCHANGE_',
  'BACKTEST_',
  'TRADING_',
  'CHART_',
  'QUICKCHART_',
  'TELEGRAM_',
  'DISCORD_',
  'CHAT_',
  'MARKET_',
  'REPLAY_',
  'PAPER_',
  'APPROVAL_',
  'REPORT_',
  'RISK_',
  'LIVE_',
  'REGIME_',
  'PAIRLIST_',
  'SCAN_',
  'RETENTION_',
];

/**
 * The parsed configuration, derived from {@link CONFIG_KEYS}: each key's schema output is put at its
 * dotted path (`engine.reportTime` -> `{ engine: { reportTime: string } }`). A key whose value may be
 * unset is optional, and so is a section whose every key may be unset (`risk`): loadConfig places
 * only the values that are set.
 */
export type Config = Settings<(typeof SETTINGS)[number]>;

/** A setting as the type of Config sees it: where it goes and what its schema gives. */
type Entry = { readonly path: string; readonly schema: z.ZodType };
/** `store.retention.equity` -> `store` */
type Head<P extends string> = P extends `${infer H}.${string}` ? H : P;
/** The entries at name H or under it. */
type Within<E extends Entry, H extends string> = Extract<E, { path: H | `${H}.${string}` }>;
/** The entries under section H, their paths without `H.`. */
type Under<E extends Entry, H extends string> = E extends {
  path: `${H}.${infer Rest}`;
  schema: infer S extends z.ZodType;
}
  ? { path: Rest; schema: S }
  : never;
/** `true` when every entry may be unset: then loadConfig may leave their name out. */
type AllOptional<E extends Entry> = false extends (
  E extends Entry ? (undefined extends z.output<E['schema']> ? true : false) : never
)
  ? false
  : true;
/** A key's value, or the section of the keys under H. */
type Value<E extends Entry, H extends string> = [Extract<E, { path: H }>] extends [never]
  ? Settings<Under<E, H>>
  : Exclude<z.output<Extract<E, { path: H }>['schema']>, undefined>;
type Settings<E extends Entry> = Flat<
  { [H in Head<E['path']> as AllOptional<Within<E, H>> extends true ? never : H]: Value<E, H> } & {
    [H in Head<E['path']> as AllOptional<Within<E, H>> extends true ? H : never]?: Value<E, H>;
  }
>;
/** One object type instead of an intersection, for readable hovers and errors. */
type Flat<T> = { [K in keyof T]: T[K] };

export type Role = (typeof ROLES)[number];

/** History kinds a retention setting may prune; trades, fills and settings changes are always kept. */
export const PRUNABLE_KINDS = [
  'decisions',
  'equity',
  'notifications',
  'regime_changes',
  'snapshots',
  'candles',
] as const;
export type PrunableKind = (typeof PRUNABLE_KINDS)[number];

export type PairlistConfig = Config['pairlist'];
export type LiveConfig = Config['live'];

export interface LoadConfigOptions {
  /** The process environment (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Directory against which `.env` and relative paths are resolved (default: process.cwd()). */
  cwd?: string;
  /** Read `.env` from cwd (default true). */
  dotenv?: boolean;
}

type Source = { kind: 'env'; name: string } | { kind: 'file'; file: string; path: string };

/** Parse and validate the configuration. Throws AppError('BAD_CONFIG') with one clear line. */
export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const cwd = options.cwd ?? process.cwd();
  const processEnv = options.env ?? process.env;
  const byEnv = new Map(CONFIG_KEYS.map((k) => [k.env, k]));

  // .env values fill in what the real environment does not set (the environment wins, as with dotenv).
  const env: Record<string, string> = {};
  const dotenvPath = resolve(cwd, '.env');
  if (options.dotenv !== false && existsSync(dotenvPath)) {
    const parsed = parseDotenv(readFileSync(dotenvPath));
    for (const [name, value] of Object.entries(parsed)) {
      if (!byEnv.has(name)) throw unknownKey(name, '.env', [...byEnv.keys()]);
      if (value !== '') env[name] = value;
    }
  }
  for (const [name, value] of Object.entries(processEnv)) {
    // An empty variable counts as unset, so `.env.example` copied as it is works.
    if (value === undefined || value === '') continue;
    if (byEnv.has(name)) env[name] = value;
    else if (OWN_PREFIXES.some((p) => name.startsWith(p)))
      throw unknownKey(name, 'the environment', [...byEnv.keys()]);
  }

  const raw: Record<string, unknown> = {};
  const sources = new Map<string, Source>();

  const configFile =
    env.CONFIG_FILE ?? (existsSync(resolve(cwd, 'bosun.config.json')) ? 'bosun.config.json' : undefined);
  if (configFile !== undefined) {
    const file = readConfigFile(resolve(cwd, configFile), configFile);
    flattenInto(file, '', (path, value) => {
      const spec = CONFIG_KEYS.find((k) => k.path === path);
      if (!spec || spec.path === 'configFile') {
        throw unknownKey(
          path,
          `config file ${configFile}`,
          CONFIG_KEYS.map((k) => k.path).filter((p) => p !== 'configFile'),
        );
      }
      if (spec.secret) {
        throw new AppError(
          'BAD_CONFIG',
          `config file ${configFile}: ${path} is a secret; set it in the environment as ${spec.env}, never in a file`,
        );
      }
      setPath(raw, path, value);
      sources.set(path, { kind: 'file', file: configFile, path });
    });
  }
  for (const [name, value] of Object.entries(env)) {
    const spec = byEnv.get(name)!;
    setPath(raw, spec.path, value);
    sources.set(spec.path, { kind: 'env', name });
  }

  const result: Record<string, unknown> = {};
  for (const spec of CONFIG_KEYS) {
    const value = getPath(raw, spec.path);
    const parsed = spec.schema.safeParse(value);
    if (!parsed.success) {
      const source = sources.get(spec.path);
      const where = source?.kind === 'file' ? `config file ${source.file}: ${spec.path}` : spec.env;
      const shown = spec.secret ? '(hidden)' : JSON.stringify(value);
      throw new AppError('BAD_CONFIG', `${where} is ${shown}; allowed: ${spec.allowed}`);
    }
    if (parsed.data !== undefined) setPath(result, spec.path, parsed.data);
  }
  // Every key's schema output now sits at its path, which is how the type Config is read from the table.
  const config = result as Config;
  const alert = config.chat.alertChat?.split(':')[0] as 'telegram' | 'discord' | undefined;
  if (alert && !config[alert].token)
    throw new AppError(
      'BAD_CONFIG',
      `ALERT_CHAT is on ${alert}, but ${alert === 'telegram' ? 'TELEGRAM_BOT_TOKEN' : 'DISCORD_BOT_TOKEN'} is not set; allowed: a chat on a platform bosun connects to`,
    );
  return deepFreeze(config);
}

/** The secret values in a config, for log and message redaction. */
export function secretValues(config: Config): string[] {
  return CONFIG_KEYS.filter((k) => k.secret).flatMap((k) => {
    const v = getPath(config, k.path);
    // API tokens: each token is the secret (their names and roles are what the log may say).
    if (Array.isArray(v)) return v.map((t: { token: string }) => t.token);
    if (typeof v !== 'string' || v.length === 0) return [];
    // A database URL's secret is its password: the rest (host, database) is what errors name.
    if (k.env === 'DATABASE_URL') return urlPasswords(v);
    return [v];
  });
}

/** The password of a URL as written and as decoded (none: nothing secret in it). */
function urlPasswords(url: string): string[] {
  const raw = urlPassword(url)?.password ?? '';
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Not percent-encoded: as written.
  }
  return [...new Set([raw, decoded].filter((p) => p.length > 0))];
}

function readConfigFile(path: string, shown: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AppError(
      'BAD_CONFIG',
      `config file ${shown} cannot be read; allowed: an existing JSON file (CONFIG_FILE)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('BAD_CONFIG', `config file ${shown} is not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('BAD_CONFIG', `config file ${shown} must hold a JSON object of settings`);
  }
  return value as Record<string, unknown>;
}

function flattenInto(
  obj: Record<string, unknown>,
  prefix: string,
  visit: (path: string, value: unknown) => void,
): void {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const isSection = CONFIG_KEYS.some((k) => k.path.startsWith(`${path}.`));
    if (isSection && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      flattenInto(value as Record<string, unknown>, path, visit);
    } else {
      visit(path, value);
    }
  }
}

/**
 * The settings as the settings history records them: every key by its environment name, values as
 * text. A secret is recorded only as `set` or unset, never its value.
 */
export function configSnapshot(config: Config): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const k of CONFIG_KEYS) {
    const v = getPath(config, k.path);
    if (k.secret) out[k.env] = v === undefined || v === '' ? null : 'set';
    // A URL may carry credentials of its own (user:password@, ?apiKey=): those never reach the journal.
    else out[k.env] = v === undefined ? null : scrub(typeof v === 'string' ? v : JSON.stringify(v));
  }
  return out;
}

function getPath(obj: object, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function unknownKey(name: string, where: string, known: string[]): AppError {
  const near = closest(name, known);
  const hint = near ? `; did you mean ${near}?` : '';
  return new AppError(
    'BAD_CONFIG',
    `unknown setting ${name} in ${where}${hint} (allowed: ${known.join(', ')})`,
  );
}

/** The known name within edit distance 3 of `name`, if any. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
