import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { rewriteApiUrls } from '../src/market/exchange.js';
import { loadConfig } from '../src/config.js';
import { toAppError } from '../src/errors.js';
import { createLogger, redactor } from '../src/logger.js';
import { startBot } from '../src/main.js';
import { type DcUser, DiscordEmulator } from './emulators/discord/server.js';
import { ExchangeEmulator } from './emulators/exchange/server.js';
import { TelegramEmulator, type TgUser } from './emulators/telegram/server.js';
import { startTestBot } from './helpers/bot.js';
import { closedPort } from './helpers/process.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  const CANARY_KEY = 'CANARY-KEY-7f3a9b';
  const CANARY_TOKEN = '123456:CANARY-bot-token';

  it('redacts secret fields and configured secret values wherever they appear', () => {
    const { lines, stream } = capture();
    const log = createLogger({
      level: 'info',
      format: 'json',
      secrets: [CANARY_KEY, CANARY_TOKEN],
      destination: stream,
    });
    log.info({ exchange: { apiKey: 'field-value', secret: 'other' }, token: 'tok' }, 'connecting');
    log.error(
      { err: new Error(`request to https://api.telegram.org/bot${CANARY_TOKEN}/getMe failed`) },
      `key ${CANARY_KEY} refused`,
    );
    const out = lines.join('');
    expect(out).not.toContain(CANARY_KEY);
    expect(out).not.toContain(CANARY_TOKEN);
    expect(out).not.toContain('field-value');
    expect(out).toContain('[REDACTED]');
    expect(JSON.parse(lines[0]!).exchange.apiKey).toBe('[REDACTED]');
  });

  it('writes JSON lines when not on a terminal, pretty text when asked', () => {
    const json = capture();
    createLogger({ level: 'info', format: 'auto', isTTY: false, destination: json.stream }).info('hello');
    expect(JSON.parse(json.lines[0]!).msg).toBe('hello');
    const pretty = capture();
    createLogger({ level: 'info', format: 'pretty', isTTY: false, destination: pretty.stream }).info(
      { apiKey: 'zzz-secret' },
      'hello',
    );
    const text = pretty.lines.join('');
    expect(text).toMatch(/INFO.*hello/);
    expect(text).not.toContain('zzz-secret');
  });

  it('respects the level', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', format: 'json', destination: stream });
    log.info('quiet');
    log.warn('loud');
    expect(lines).toHaveLength(1);
  });
});

/**
 * The canary: secrets of every kind, through every error path we can provoke with the real client
 * libraries against the emulators, never reach a log line. Tokens bosun was never configured with
 * (a Discord interaction's, a webhook's) are caught by their place in the URL.
 */
describe('logger canary: errors of the chat and exchange libraries', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const DC_ADMIN: DcUser = { id: '100000000000000701', username: 'ada' };
  const TG_ADMIN: TgUser = { id: 7001, first_name: 'Ada', username: 'ada' };

  async function discordBot() {
    const dc = await new DiscordEmulator({ heartbeatMs: 500 }).start();
    cleanups.push(() => dc.stop());
    const t = await startTestBot({
      DISCORD_BOT_TOKEN: dc.token,
      DISCORD_API_ROOT: dc.apiRoot,
      DISCORD_GUILD_ID: dc.guildId,
      DISCORD_ALLOWED_USERS: `${DC_ADMIN.id}:admin`,
    });
    cleanups.push(() => t.bot.stop());
    return { dc, t };
  }

  it('a failed interaction callback: the interaction token is not logged, nor the request body', async () => {
    const { dc, t } = await discordBot();
    dc.failNext(/^POST \/interactions\/\d+\/[^/]+\/callback$/, 404, 10062, 'Unknown interaction');
    const ix = dc.slash(DC_ADMIN, 'strategies');
    await dc.waitFor(
      () => dc.restCalls.some((c) => c.path.includes('/callback') && c.status === 404),
      'the failed callback',
    );
    await t.bot.dispatcher.close(5_000);
    const log = t.logText();
    const failed = t.logs.find((l) => l.msg === 'command failed');
    expect(failed, log).toBeDefined();
    expect(JSON.stringify(failed)).toContain(`/interactions/${ix.id}/[REDACTED]/callback`);
    expect(log).not.toContain(ix.token);
    expect(log).not.toContain(dc.token);
    // The reply that could not be sent (the body of the request) is not in the log either.
    expect(log).not.toContain('ema-cross');
    expect(log).not.toMatch(/requestBody|rawError|headers/);
  });

  it('a failed follow-up on the interaction webhook: the webhook URL’s token is not logged', async () => {
    const { dc, t } = await discordBot();
    // /backtest is deferred at once, then its reply edits the deferral through the webhook.
    dc.failNext(/^PATCH \/webhooks\/\d+\/[^/]+\/messages\/@original$/, 404, 10015, 'Unknown Webhook');
    const ix = dc.slash(DC_ADMIN, 'backtest', {
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '4h',
      period: '90d',
    });
    await dc.waitFor(
      () => dc.restCalls.some((c) => c.path.startsWith('/webhooks/') && c.status === 404),
      'the failed webhook call',
    );
    await t.bot.dispatcher.close(10_000);
    const log = t.logText();
    expect(log).toMatch(/\/webhooks\/\d+\/\[REDACTED\]/);
    expect(log).not.toContain(ix.token);
    expect(log).not.toContain(dc.token);
  });

  it('a Bot API error whose text echoes the URL: the bot token is not logged', async () => {
    const tg = await new TelegramEmulator().start();
    cleanups.push(() => tg.stop());
    const t = await startTestBot({
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: `${TG_ADMIN.id}:admin`,
    });
    cleanups.push(() => t.bot.stop());
    tg.failNext('sendMessage', 400, `Bad Request: POST /bot${tg.token}/sendMessage refused`);
    tg.userSends(TG_ADMIN, '/strategies');
    await tg.waitFor(
      () => tg.calls.some((c) => c.method === 'sendMessage' && c.status === 400),
      'the failure',
    );
    await t.bot.dispatcher.close(5_000);
    const log = t.logText();
    expect(log).toMatch(/sendMessage/);
    expect(log).not.toContain(tg.token.split(':')[1]!);
    // The message that could not be sent (grammY keeps it on the error as its payload) stays out.
    expect(log).not.toMatch(/"payload"/);
  });

  it('exchange errors from ccxt: the signed query and the key stay out, for keys the logger was not told of', async () => {
    const KEY = 'CANARYexchangeKEY0123456789abcdef';
    const SECRET = 'CANARYexchangeSECRET0123456789abcdef';
    const emu = await new ExchangeEmulator([], {
      apiKey: 'another-key',
      secret: 'another-secret',
      balances: { USDT: 1 },
    }).start();
    cleanups.push(() => emu.stop());
    const ccxt = (await import('ccxt')).default;
    const refused = new ccxt.binance({ apiKey: KEY, secret: SECRET, timeout: 2_000 });
    rewriteApiUrls(refused, emu.url);
    const down = new ccxt.binance({ apiKey: KEY, secret: SECRET, timeout: 2_000 });
    rewriteApiUrls(down, `http://127.0.0.1:${await closedPort()}`);
    const errors: unknown[] = [];
    for (const ex of [refused, down])
      await ex.privateGetAccount({ timestamp: Date.now() }).catch((err: unknown) => errors.push(err));
    expect(errors).toHaveLength(2);
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', format: 'json', destination: stream });
    for (const err of errors) {
      log.error({ err }, 'exchange call failed');
      log.warn({ error: err }, 'exchange call failed');
    }
    const out = lines.join('');
    expect(out).toMatch(/Invalid API-key/);
    expect(out).toMatch(/signature=\[REDACTED\]/);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain(SECRET);
    expect(out).not.toMatch(/signature=[0-9a-f]{16}/);
  });

  it('scrubs token-shaped text it was not configured with, in log lines and in printed lines alike', () => {
    const text = [
      'POST https://api.telegram.org/bot7777777:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe',
      'https://discord.com/api/webhooks/123456789012345678/aBcD-eFgH_ijklMNOP1234567890qrstUVWXyz',
      'https://discord.com/api/v10/interactions/1/aW50ZXJhY3Rpb246MTIzNDU2Nzg5/callback',
      'Authorization: Bot MTAwMDAwMDAwMDAwMDAwMDAx.GabcDe.0123456789abcdefghijklmnopqrstu',
      'GET https://x.test/api/v3/account?timestamp=1&apiKey=abcdef123456&signature=0a1b2c3d4e5f',
      'wss://user:hunter2@stream.test/ws',
    ].join('\n');
    const scrubbed = redactor()(text);
    for (const secret of [
      'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
      'aBcD-eFgH_ijklMNOP1234567890qrstUVWXyz',
      'aW50ZXJhY3Rpb246MTIzNDU2Nzg5',
      'MTAwMDAwMDAwMDAwMDAwMDAx.GabcDe',
      'abcdef123456',
      '0a1b2c3d4e5f',
      'hunter2',
    ])
      expect(scrubbed).not.toContain(secret);
    // What is not a secret stays readable.
    expect(scrubbed).toContain('https://discord.com/api/webhooks/123456789012345678/[REDACTED]');
    expect(scrubbed).toContain('timestamp=1');
    const { lines, stream } = capture();
    createLogger({ level: 'info', format: 'json', destination: stream }).warn({ err: new Error(text) }, 'x');
    expect(lines.join('')).not.toContain('hunter2');
    expect(lines.join('')).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
  });

  it('a library’s error message made into bosun’s error (what a person may be shown) carries no token', () => {
    const token = '7777777:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
    const e = toAppError(
      new Error(`request to http://127.0.0.1:1/bot${token}/getMe failed, reason: refused`),
    );
    expect(e.message).toBe('request to http://127.0.0.1:1/bot[REDACTED]/getMe failed, reason: refused');
    expect(toAppError(`GET /webhooks/1/${'t'.repeat(40)}`).message).toBe('GET /webhooks/1/[REDACTED]');
  });
});

describe('log beside the console chat', () => {
  it('writes every line to the file and only warnings and worse to the terminal, one line each', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bosun-log-')), 'bosun.log');
    let terminal = '';
    const destination = new Writable({
      write(chunk, _enc, done) {
        terminal += String(chunk);
        done();
      },
    });
    const log = createLogger({
      level: 'info',
      format: 'pretty',
      isTTY: false,
      destination: destination as never,
      file,
      secrets: ['sekrit-value'],
    });
    log.info({ feed: 'replay', chats: ['console'] }, 'bosun started');
    log.warn({ platform: 'telegram', detail: { retryMs: 15_000 } }, 'chat cannot connect sekrit-value');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(['bosun started', 'chat cannot connect [REDACTED]']);
    expect(terminal).not.toContain('bosun started');
    expect(terminal).toContain('chat cannot connect [REDACTED]');
    expect(terminal.trimEnd().split('\n')).toHaveLength(1); // the object on the same line
  });

  it('is what startBot chooses when the console chat has the terminal, and the greeting says where', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bosun-logfile-'));
    const config = loadConfig({
      env: { DATA_DIR: dataDir, REPLAY_RUNS: 'none', MARKET_DATA: 'samples', LOG_FORMAT: 'json' },
      dotenv: false,
    });
    const output = new PassThrough();
    let printed = '';
    output.on('data', (d) => (printed += String(d)));
    const bot = await startBot({ config, interactive: true, input: new PassThrough(), output });
    await bot.stop();
    expect(printed).toContain(`The log is in ${join(dataDir, 'bosun.log')}`);
    expect(existsSync(join(dataDir, 'bosun.log'))).toBe(true);
    expect(readFileSync(join(dataDir, 'bosun.log'), 'utf8')).toContain('"msg":"bosun started"');

    // npm start makes its logger first (main) and says where it writes; a logger of a test's own, nothing.
    for (const logFile of [join(dataDir, 'bosun.log'), undefined]) {
      const out = new PassThrough();
      let greeting = '';
      out.on('data', (d) => (greeting += String(d)));
      const logger = createLogger({ level: 'silent', format: 'json' });
      const again = await startBot({
        config,
        logger,
        interactive: true,
        input: new PassThrough(),
        output: out,
        ...(logFile ? { logFile } : {}),
      });
      await again.stop();
      expect(greeting.includes('The log is in')).toBe(logFile !== undefined);
    }
  });
});
