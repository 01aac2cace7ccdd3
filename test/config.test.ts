import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  CONFIG_KEYS,
  type Config,
  configSnapshot,
  type LiveConfig,
  loadConfig,
  type PrunableKind,
  type Role,
  secretValues,
} from '../src/config.js';
import { RISK_HELP, RiskSettings } from '../src/engine/risk.js';
import { AppError } from '../src/errors.js';
import { ROOT } from './helpers/fixtures.js';

function dir(files: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'bosun-config-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(d, name), content);
  return d;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('BAD_CONFIG');
    return (err as AppError).message;
  }
  throw new Error('expected a config error');
}

describe('loadConfig', () => {
  it('runs on embedded defaults with nothing set: paper trading, offline', () => {
    const c = loadConfig({ env: {}, cwd: dir() });
    expect(c.tradingMode).toBe('paper');
    expect(c.logLevel).toBe('info');
    expect(c.dataDir).toBe('data');
    expect(c.backtest).toEqual({ capital: 10_000, fee: 0.001, slippageBps: 0, chatSweepMax: 100 });
    expect(c.exchange.id).toBe('binance');
    expect(c.exchange.apiKey).toBeUndefined();
    expect(Object.isFrozen(c.backtest)).toBe(true);
  });

  it('reads the environment and .env, the environment winning', () => {
    const cwd = dir({ '.env': 'LOG_LEVEL=debug\nBACKTEST_FEE=0.00075\nEXCHANGE_API_KEY=from-dotenv\n' });
    const c = loadConfig({ env: { LOG_LEVEL: 'warn', PATH: '/bin' }, cwd });
    expect(c.logLevel).toBe('warn');
    expect(c.backtest.fee).toBe(0.00075);
    expect(c.exchange.apiKey).toBe('from-dotenv');
  });

  it('reads a JSON config file by dotted sections, under the environment', () => {
    const cwd = dir({
      'bosun.config.json': JSON.stringify({
        logLevel: 'error',
        backtest: { capital: 5000 },
        timezone: 'Europe/Berlin',
      }),
    });
    const c = loadConfig({ env: { BACKTEST_CAPITAL: '7000' }, cwd });
    expect(c.logLevel).toBe('error');
    expect(c.timezone).toBe('Europe/Berlin');
    expect(c.backtest.capital).toBe(7000);
  });

  it('stops on a bad value with one line naming the key and what is allowed', () => {
    expect(configError(() => loadConfig({ env: { LOG_LEVEL: 'verbose' }, cwd: dir() }))).toBe(
      'LOG_LEVEL is "verbose"; allowed: one of trace, debug, info, warn, error, fatal, silent',
    );
    expect(configError(() => loadConfig({ env: { BACKTEST_FEE: 'lots' }, cwd: dir() }))).toBe(
      'BACKTEST_FEE is "lots"; allowed: a fee per side as a fraction, from 0 to 0.1 (0.001 = 0.1%)',
    );
    expect(configError(() => loadConfig({ env: { TIMEZONE: 'Mars/Olympus' }, cwd: dir() }))).toMatch(
      /^TIMEZONE is "Mars\/Olympus"; allowed: an IANA time zone/,
    );
    const cwd = dir({ 'bosun.config.json': JSON.stringify({ backtest: { fee: 5 } }) });
    expect(configError(() => loadConfig({ env: {}, cwd }))).toBe(
      'config file bosun.config.json: backtest.fee is 5; allowed: a fee per side as a fraction, from 0 to 0.1 (0.001 = 0.1%)',
    );
  });

  it('stops on an unknown key in .env, in our own part of the environment, or in the file, suggesting the near one', () => {
    expect(configError(() => loadConfig({ env: {}, cwd: dir({ '.env': 'LOG_LEVL=debug\n' }) }))).toMatch(
      /^unknown setting LOG_LEVL in \.env; did you mean LOG_LEVEL\?/,
    );
    expect(configError(() => loadConfig({ env: { EXCHANGE_APIKEY: 'x' }, cwd: dir() }))).toMatch(
      /^unknown setting EXCHANGE_APIKEY in the environment; did you mean EXCHANGE_API_KEY\?/,
    );
    const cwd = dir({ 'bosun.config.json': JSON.stringify({ backtest: { capitol: 1 } }) });
    expect(configError(() => loadConfig({ env: {}, cwd }))).toMatch(
      /^unknown setting backtest\.capitol in config file bosun\.config\.json; did you mean backtest\.capital\?/,
    );
    // Other programs' variables are none of our business.
    expect(() => loadConfig({ env: { HOME: '/root', NODE_OPTIONS: '' }, cwd: dir() })).not.toThrow();
  });

  it('refuses secrets in the config file and hides secret values in errors', () => {
    const cwd = dir({ 'bosun.config.json': JSON.stringify({ exchange: { apiKey: 'abc' } }) });
    expect(configError(() => loadConfig({ env: {}, cwd }))).toBe(
      'config file bosun.config.json: exchange.apiKey is a secret; set it in the environment as EXCHANGE_API_KEY, never in a file',
    );
    expect(
      configError(() => loadConfig({ env: { EXCHANGE_SECRET: 'pasted with a space' }, cwd: dir() })),
    ).toBe(
      'EXCHANGE_SECRET is (hidden); allowed: the exchange API secret, without spaces (environment only)',
    );
  });

  it('says so when the config file is not JSON, or CONFIG_FILE points nowhere', () => {
    expect(configError(() => loadConfig({ env: {}, cwd: dir({ 'bosun.config.json': '{ nope' }) }))).toMatch(
      /^config file bosun\.config\.json is not valid JSON/,
    );
    expect(configError(() => loadConfig({ env: { CONFIG_FILE: 'missing.json' }, cwd: dir() }))).toMatch(
      /^config file missing\.json cannot be read/,
    );
  });

  it('lists the secrets for redaction', () => {
    const c = loadConfig({ env: { EXCHANGE_API_KEY: 'key-123', EXCHANGE_SECRET: 'sec-456' }, cwd: dir() });
    expect(secretValues(c).sort()).toEqual(['key-123', 'sec-456']);
  });

  it('.env.example lists every setting, and nothing else', () => {
    const text = readFileSync(join(ROOT, '.env.example'), 'utf8');
    // A setting is listed as KEY=value, or commented out (# KEY=value) where an empty value would
    // mean something else than leaving it out (HTTP_PORT: the Docker image sets one).
    const names = text
      .split('\n')
      .filter((l) => /^(# )?[A-Z_]+=/.test(l))
      .map((l) => l.replace(/^# /, '').split('=')[0]);
    expect(names.sort()).toEqual(CONFIG_KEYS.map((k) => k.env).sort());
    // and the example, copied to .env as it is, is a valid configuration (empty means unset)
    const c = loadConfig({ env: {}, cwd: dir({ '.env': text }) });
    expect(c.exchange.apiKey).toBeUndefined();
    expect(c.tradingMode).toBe('paper');
  });
});

describe('settings are checked once, at start, with the bounds the engine uses', () => {
  const bad = (env: Record<string, string>) => configError(() => loadConfig({ env, cwd: dir() }));

  it('refuses fractional counts the risk step would refuse on every candle', () => {
    expect(bad({ RISK_COOLDOWN_MINUTES: '1.5' })).toBe(
      'RISK_COOLDOWN_MINUTES is "1.5"; allowed: minutes without entries on a symbol after a losing trade, a whole number 0 to 100000 (default 60)',
    );
    expect(bad({ RISK_MAX_OPEN: '2.5' })).toBe(
      'RISK_MAX_OPEN is "2.5"; allowed: open positions at most, a whole number 1 to 1000 (default 5)',
    );
    const cwd = dir({ 'bosun.config.json': JSON.stringify({ risk: { maxOpenPositions: 2.5 } }) });
    expect(configError(() => loadConfig({ env: {}, cwd }))).toBe(
      'config file bosun.config.json: risk.maxOpenPositions is 2.5; allowed: open positions at most, a whole number 1 to 1000 (default 5)',
    );
  });

  it('has a key for every /risk setting, maxPositionSize included, and the engine takes what start-up took', () => {
    const riskPaths = CONFIG_KEYS.filter((k) => k.path.startsWith('risk.')).map((k) => k.path.slice(5));
    expect(riskPaths.sort()).toEqual(Object.keys(RiskSettings.shape).sort());
    const c = loadConfig({ env: { RISK_MAX_POSITION_SIZE: '0.25', RISK_MAX_OPEN: '3' }, cwd: dir() });
    expect(c.risk).toEqual({ maxPositionSize: 0.25, maxOpenPositions: 3 });
    expect(RiskSettings.parse(c.risk).maxPositionSize).toBe(0.25);
    expect(bad({ RISK_MAX_POSITION_SIZE: '1.5' })).toBe(
      'RISK_MAX_POSITION_SIZE is "1.5"; allowed: largest position as a share of equity, above 0 up to 1 (1: no cap) (default 1)',
    );
  });

  it('takes a risk count at each end of its bounds, and refuses one past either end', () => {
    // RISK_COOLDOWN_MINUTES: a whole number 0 to 100000; RISK_MAX_OPEN: a whole number 1 to 1000.
    const risk = (env: Record<string, string>) => loadConfig({ env, cwd: dir() }).risk;
    expect(risk({ RISK_COOLDOWN_MINUTES: '0', RISK_MAX_OPEN: '1' })).toEqual({
      cooldownMinutes: 0,
      maxOpenPositions: 1,
    });
    expect(risk({ RISK_COOLDOWN_MINUTES: '100000', RISK_MAX_OPEN: '1000' })).toEqual({
      cooldownMinutes: 100_000,
      maxOpenPositions: 1000,
    });
    expect(bad({ RISK_COOLDOWN_MINUTES: '-1' })).toMatch(/^RISK_COOLDOWN_MINUTES is "-1"; allowed: /);
    expect(bad({ RISK_COOLDOWN_MINUTES: '100001' })).toMatch(/^RISK_COOLDOWN_MINUTES is "100001"; /);
    expect(bad({ RISK_MAX_OPEN: '0' })).toMatch(/^RISK_MAX_OPEN is "0"; allowed: /);
    expect(bad({ RISK_MAX_OPEN: '1001' })).toMatch(/^RISK_MAX_OPEN is "1001"; allowed: /);
  });

  it('makes each risk key from its risk setting: one key per field, said with its help and default', () => {
    const riskKeys = CONFIG_KEYS.filter((k) => k.path.startsWith('risk.'));
    // In the schema's order, so /risk and .env.example list them alike.
    expect(riskKeys.map((k) => k.path)).toEqual(Object.keys(RiskSettings.shape).map((f) => `risk.${f}`));
    const defaults = RiskSettings.parse({});
    for (const k of riskKeys) {
      const field = k.path.slice(5) as keyof RiskSettings;
      expect(k.env).toMatch(/^RISK_[A-Z_]+$/);
      expect(k.allowed).toBe(`${RISK_HELP[field]} (default ${defaults[field]})`);
    }
  });

  it('accepts a risk value exactly when the engine does', () => {
    const probes = ['-1', '0', '0.00005', '0.5', '0.99', '1', '1.5', '3', '100', '1000', '1001', '100001'];
    for (const spec of CONFIG_KEYS.filter((k) => k.path.startsWith('risk.') && k.env !== 'RISK_SIZING')) {
      const key = spec.path.slice(5);
      for (const value of probes) {
        const engine = RiskSettings.safeParse({ [key]: Number(value) }).success;
        let config = true;
        try {
          loadConfig({ env: { [spec.env]: value }, cwd: dir() });
        } catch {
          config = false;
        }
        expect({ key: spec.env, value, accepted: config }).toEqual({
          key: spec.env,
          value,
          accepted: engine,
        });
      }
    }
  });

  it('refuses timeframes the market code cannot read', () => {
    expect(bad({ REGIME_TIMEFRAME: '0h' })).toBe(
      'REGIME_TIMEFRAME is "0h"; allowed: the candles the regime is measured on, a number from 1 and m, h, d or w, e.g. 4h',
    );
    expect(bad({ SCAN_TIMEFRAME: '015m' })).toMatch(/^SCAN_TIMEFRAME is "015m"; allowed: /);
  });

  it('takes the HTTP settings: a port written as digits, a host, a heartbeat URL kept secret', () => {
    for (const port of [' ', '0x50', '1e3', '-1', '1.5', '70000', 'abc'])
      expect(bad({ HTTP_PORT: port })).toMatch(
        /^HTTP_PORT is ".*"; allowed: the TCP port of the HTTP server/,
      );
    const c = loadConfig({
      env: { HTTP_PORT: '8080', HEARTBEAT_URL: 'https://hc-ping.com/uuid-1' },
      cwd: dir(),
    });
    expect(c.http).toEqual({
      port: 8080,
      host: '127.0.0.1',
      heartbeatUrl: 'https://hc-ping.com/uuid-1',
      heartbeatInterval: 60_000,
    });
    expect(loadConfig({ env: {}, cwd: dir() }).http.port).toBeUndefined();
    expect(bad({ HEARTBEAT_URL: 'ftp://x/secret-1' })).not.toContain('secret-1');
    expect(bad({ HEARTBEAT_INTERVAL: '1s' })).toMatch(/^HEARTBEAT_INTERVAL is "1s"; allowed: .*at least 5s/);
  });

  it('takes API tokens as NAME:ROLE:TOKEN, refusing short tokens, unknown roles and a name twice, never echoing a token', () => {
    const token = 'abcdefghijklmnopqrstuvwx1234';
    const c = loadConfig({ env: { API_TOKENS: `ci:viewer:${token}, ops:admin:${token}z` }, cwd: dir() });
    expect(c.http.apiTokens).toEqual([
      { name: 'ci', role: 'viewer', token },
      { name: 'ops', role: 'admin', token: `${token}z` },
    ]);
    expect(secretValues(c)).toEqual(expect.arrayContaining([token, `${token}z`]));
    for (const value of [
      'ci:viewer:short-secret-1',
      `ci:owner:${token}`,
      `ci:viewer:${token},ci:admin:${token}`,
    ]) {
      const line = bad({ API_TOKENS: value });
      expect(line).toMatch(/^API_TOKENS is .*; allowed: comma-separated NAME:ROLE:TOKEN/);
      expect(line).not.toContain(token);
      expect(line).not.toContain('short-secret-1');
    }
  });

  it('refuses timer periods longer than a Node timer can wait (24 days)', () => {
    // setInterval/setTimeout fire after 1 ms for anything over 2^31-1 ms: a 30d period would spin.
    for (const env of ['APPROVAL_TIMEOUT', 'LIVE_RECONCILE_INTERVAL', 'PAIRLIST_REFRESH', 'SCAN_INTERVAL'])
      expect(bad({ [env]: '30d' })).toMatch(new RegExp(`^${env} is "30d"; allowed: .*at most 24d`));
    expect(loadConfig({ env: { PAIRLIST_REFRESH: '24d' }, cwd: dir() }).pairlist.refresh).toBe(
      24 * 86_400_000,
    );
  });

  it('takes the journal settings: a PostgreSQL URL (hidden in errors), an instance name, retention in days', () => {
    const line = bad({ DATABASE_URL: 'mysql://bosun:hunter2@db/bosun' });
    expect(line).toMatch(/^DATABASE_URL is \(hidden\); allowed: a PostgreSQL URL/);
    expect(line).not.toContain('hunter2');
    expect(bad({ INSTANCE: 'two words' })).toMatch(/^INSTANCE is "two words"; allowed: .*letters, digits/);
    expect(bad({ RETENTION_CANDLES: 'forever' })).toMatch(
      /^RETENTION_CANDLES is "forever"; allowed: .*keep .* 90d/,
    );
    const c = loadConfig({
      env: {
        DATABASE_URL: 'postgres://bosun:pw@db:5432/bosun',
        INSTANCE: 'acct-2',
        RETENTION_CANDLES: '90d',
      },
      cwd: dir(),
    });
    expect(c.store).toEqual({
      url: 'postgres://bosun:pw@db:5432/bosun',
      instance: 'acct-2',
      retention: {
        decisions: 'keep',
        equity: 'keep',
        notifications: 'keep',
        regime_changes: 'keep',
        snapshots: 'keep',
        candles: 90,
      },
    });
    // Its secret is the password: the rest of the URL says where, and is shown.
    expect(secretValues(c)).toEqual(['pw']);
  });

  it('records settings for the history without secrets, or credentials inside URLs', () => {
    const c = loadConfig({
      env: {
        EXCHANGE_API_URL: 'https://user:hunter2pass@ex.example.com/api',
        REGIME_NEWS_URL: 'https://news.example.com/v2?apiKey=SEKRET123&lang=en',
        EXCHANGE_API_KEY: 'key-123456',
        LOG_LEVEL: 'warn',
      },
      cwd: dir(),
    });
    const snap = configSnapshot(c);
    expect(snap.LOG_LEVEL).toBe('warn');
    expect(snap.EXCHANGE_API_KEY).toBe('set');
    expect(snap.EXCHANGE_SECRET).toBeNull();
    const text = JSON.stringify(snap);
    for (const secret of ['hunter2pass', 'SEKRET123', 'key-123456']) expect(text).not.toContain(secret);
    expect(snap.EXCHANGE_API_URL).toContain('ex.example.com/api');
  });
});

describe('the Config type is read from the key table', () => {
  it('gives each key its schema output at its path, optional where it may be unset', () => {
    // Type checks (tsc --noEmit covers test/): each fails to compile when the derivation drifts.
    expectTypeOf<Config['exchange']>().toEqualTypeOf<{
      id: string;
      apiUrl?: string;
      apiKey?: string;
      secret?: string;
      password?: string;
    }>();
    expectTypeOf<Config['scanner']['interval']>().toEqualTypeOf<'off' | number>();
    expectTypeOf<Config['store']['retention']>().toEqualTypeOf<Record<PrunableKind, 'keep' | number>>();
    expectTypeOf<Config['telegram']['allowedUsers']>().toEqualTypeOf<Record<string, Role>>();
    expectTypeOf<LiveConfig['entryOrder']>().toEqualTypeOf<'market' | 'limit'>();
    // Every risk key may be unset, so the whole section may be absent; its fields are the engine's.
    expectTypeOf<Config['risk']>().toEqualTypeOf<Partial<RiskSettings> | undefined>();

    const c = loadConfig({ env: {}, cwd: dir() });
    expect(c.risk).toBeUndefined();
    expect(c.engine).toEqual({
      feed: 'replay',
      stream: 'on',
      streamHeartbeat: 30_000,
      approvalTimeout: 15 * 60_000,
      reportTime: '00:00',
    });
  });
});
