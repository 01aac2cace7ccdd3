/**
 * Odd input through the dispatcher, as any chat delivers it: each bad command is answered with one
 * line saying what was wrong and what is allowed (then the usage line), anything echoed back is cut
 * to 40 characters and shows control characters escaped, and nothing changes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleChat } from '../../src/chat/console/index.js';
import type { Person } from '../../src/chat/dispatch.js';
import { plainLine } from '../../src/chat/reply.js';
import { echo } from '../../src/echo.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN: Person = { platform: 'telegram', id: '42', name: 'Ada', role: 'admin' };
const CHAT = { platform: 'telegram' as const, id: '42', private: true };
const LONG = 'x'.repeat(10_000);
const CUT = `"${'x'.repeat(39)}…"`;
const ESC = '\x1b[2J\x1b[31mred';

let t: TestBot;

/** The text lines of every reply to one command line. */
async function answer(line: string, person: Person = ADMIN): Promise<string[]> {
  const replies = await sendLine(t, line, person, CHAT);
  return replies.flatMap((r) =>
    r.blocks.flatMap((b) =>
      b.kind === 'text' ? b.lines.map(plainLine) : b.kind === 'image' ? [] : [`<${b.kind}>`],
    ),
  );
}

const RISK_KEYS =
  'sizing, riskPerTrade, fraction, defaultStop, maxOpenPositions, maxPositionSize, maxSymbolExposure, dailyLossLimit, maxDrawdown, minRewardRisk, cooldownMinutes';

const TABLE: Array<[string, string]> = [
  [
    `/backtest ema-cross BTC/USDT 1h ${'9'.repeat(400)}d`,
    `PERIOD is "${'9'.repeat(39)}…"; allowed: how far back, like 90d, 12w or 1y (at most 100y)`,
  ],
  [
    '/backtest ema-cross BTC/USDT 1h 101y',
    'PERIOD is "101y"; allowed: how far back, like 90d, 12w or 1y (at most 100y)',
  ],
  [
    '/risk riskPerTrade=NaN',
    'risk setting riskPerTrade is "NaN"; allowed: share of equity risked per trade, above 0 up to 0.2 (0.01 = 1%)',
  ],
  [
    '/risk riskPerTrade=Infinity',
    'risk setting riskPerTrade is "Infinity"; allowed: share of equity risked per trade, above 0 up to 0.2 (0.01 = 1%)',
  ],
  [
    '/risk maxDrawdown=1e309',
    'risk setting maxDrawdown is "1e309"; allowed: fall from the peak that trips the kill-switch, above 0 up to 1',
  ],
  ['/risk __proto__=1', '"__proto__" is not a name I take; allowed: the names in /help risk'],
  ['/risk __proto__=', '"__proto__" is not a name I take; allowed: the names in /help risk'],
  [
    '/start ema-cross BTC/USDT 15m __proto__=',
    '"__proto__" is not a name I take; allowed: the names in /help start',
  ],
  ['/pairlist constructor=1', '"constructor" is not a name I take; allowed: the names in /help pairlist'],
  ['/start ema-cross BTC/USDT 15m fast=9 fast=12', 'fast is given twice; give each once'],
  ['/risk riskPerTrade=0.01 riskPerTrade=0.02', 'riskPerTrade is given twice; give each once'],
  ['/backtest ema-cross BTC/USDT 1h fast=5..9 fast=12', 'fast is given twice; give each once'],
  [
    `/backtest ${LONG} BTC/USDT 1h`,
    `unknown strategy ${CUT}; available: bb-breakout, ema-cross, ict-confluence, ma-accumulation, ma-trend, macd-momentum, momentum, rsi-reversion`,
  ],
  [
    `/backtest ema-cross BTC/USDT 1h sweep=${LONG}`,
    `sweep ${CUT} is not name=FROM..TO:STEP or name=a|b|c (e.g. fast=5..20:5)`,
  ],
  [
    `/pairlist ${LONG}=1`,
    `unknown filter ${CUT}; allowed: quotes, minVolume, maxSpread, maxVolatility, minHistory, deny, max`,
  ],
  [`/chart BTC/USDT 4h ema20 bars=${LONG}`, `bars is ${CUT}; allowed: a whole number from 20 to 1000`],
  [
    `/start ema-cross BTC/USDT 15m fast=${LONG}`,
    `ema-cross: fast is ${CUT}; allowed: a whole number from 2 to 500`,
  ],
  [`/risk ${LONG}=1`, `unknown risk setting ${CUT}; allowed: ${RISK_KEYS}`],
  [`/status ${LONG}`, `too many arguments: ${CUT} is one more than /status takes`],
  [`/help ${LONG}`, `there is no /${'x'.repeat(39)}… for you; send /help for the list`],
  [
    `/strategies ${LONG}`,
    `unknown strategy ${CUT}; available: bb-breakout, ema-cross, ict-confluence, ma-accumulation, ma-trend, macd-momentum, momentum, rsi-reversion`,
  ],
  [`/approve ${LONG}`, `ID is ${CUT}; allowed: a signal id like S12`],
  [`/close ${LONG}`, `ID is ${CUT}; allowed: a position id like P12 (see /positions), or all`],
  [`/stop ${LONG}`, `ID is ${CUT}; allowed: a run id like R3 (see /runs), or all`],
  [
    `/subscribe ${LONG}`,
    `${CUT} is not a notification category; allowed: signals, approvals, fills, exits, alerts, reports or all`,
  ],
  [`/scan ${LONG}`, `TIMEFRAME is ${CUT}; allowed: a timeframe like 15m, 1h, 4h or 1d`],
  [`/trades ${LONG}`, `N is ${CUT}; allowed: a whole number from 1 to 50`],
  [`/pnl ${LONG}`, `PERIOD is ${CUT}; allowed: one of day, week, month, all`],
  [
    `/chart BTC/USDT 4h ${LONG}`,
    `INDICATORS is ${CUT}; allowed: ema<N>, sma<N>, bb or bb<N>, vwap, rsi or rsi<N>, macd, smc or smc<N> (e.g. ema20,bb,rsi,smc)`,
  ],
  [
    `/backtest ema-cross BTC/USDT 1h rank=${LONG}`,
    `rank is ${CUT}; allowed: one of sharpe, totalReturn, cagr, profitFactor, sortino, calmar, winRate, expectancy, maxDrawdown`,
  ],
  [`/mode ${LONG}`, `MODE is ${CUT}; allowed: one of show, paper, live`],
  [
    `/risk sizing=${LONG}`,
    `risk setting sizing is ${CUT}; allowed: risk (risk % over the stop), fraction (of equity) or kelly (half-Kelly, capped by fraction)`,
  ],
  [
    `/pairlist deny=${LONG}`,
    `deny ${CUT} is not valid; allowed: markets never traded, comma-separated, e.g. LUNA/USDT`,
  ],
  [`/start ema-cross BTC/USDT 1h approve=${LONG}`, `approve is ${CUT}; allowed: one of auto, manual`],
  [`/backtest ema-cross ${LONG} 1h`, `SYMBOL is ${CUT}; allowed: a market like BTC/USDT`],
  [`/regime ${LONG}`, `too many arguments: ${CUT} is one more than /regime takes`],
  [`/${LONG}`, `Unknown command /${'x'.repeat(39)}…. Send /help for the list.`],
  [
    `/chart BTC/USDT "${ESC}"`,
    'TIMEFRAME is "\\x1b[2J\\x1b[31mred"; allowed: a timeframe like 15m, 1h, 4h or 1d',
  ],
  [
    `/backtest ema-cross BTC/USDT 1h fast="${ESC}"`,
    'ema-cross: fast is "\\x1b[2J\\x1b[31mred"; allowed: a whole number from 2 to 500',
  ],
  [`/${ESC}`, 'Unknown command /\\x1b[2J\\x1b[31mred. Send /help for the list.'],
];

describe('bad commands through the dispatcher', () => {
  beforeAll(async () => {
    t = await startTestBot({});
  });
  afterAll(async () => {
    await t?.bot.stop();
  });

  // Test names show the line cut and escaped, as the bot would.
  it.each(TABLE.map(([line, expected]) => ({ name: echo(line, 60), line, expected })))(
    '$name',
    async ({ line, expected }) => {
      const before = JSON.stringify(t.bot.services.engine.state.settings);
      const lines = await answer(line);
      expect(lines[0]).toBe(expected);
      // One line for the mistake; the usage line after it, and nothing else.
      expect(lines.slice(1).every((l) => l.startsWith('Usage: /'))).toBe(true);
      expect(lines.length).toBeLessThanOrEqual(2);
      // eslint-disable-next-line no-control-regex
      for (const l of lines) expect(l).not.toMatch(/[\x00-\x1f]/);
      expect(JSON.stringify(t.bot.services.engine.state.settings)).toBe(before);
      expect(Object.keys(t.bot.services.engine.state.runs)).toEqual([]);
    },
  );

  it.each([
    ['/start ema-cross BTC/USDT 15m', 'Starting a run needs the trader role; you are a viewer.'],
    ['/risk riskPerTrade=0.5', 'Changing risk settings needs the admin role; you are a viewer.'],
    ['/mode live', 'Switching between paper and live needs the admin role; you are a viewer.'],
    ['/pairlist reset', 'Changing the market filters needs the admin role; you are a viewer.'],
  ])('answers a viewer’s %s with the role it needs, in one line', async (line, expected) => {
    const viewer: Person = { ...ADMIN, id: '43', role: 'viewer' };
    expect(await answer(line, viewer)).toEqual([expected]);
    expect(Object.keys(t.bot.services.engine.state.runs)).toEqual([]);
  });

  it('prints nothing typed to the console raw: terminal escapes show escaped', async () => {
    const input = new PassThrough();
    let out = '';
    const output = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString('utf8');
        done();
      },
    });
    const chat = new ConsoleChat(t.bot.dispatcher, {
      input,
      output,
      outDir: mkdtempSync(join(tmpdir(), 'bosun-out-')),
    });
    await chat.start();
    input.end(`/chart BTC/USDT "${ESC}"\n/${ESC}\n/risk sizing="${ESC}"\n`);
    await chat.closed;
    expect(out).toContain('TIMEFRAME is "\\x1b[2J\\x1b[31mred"');
    // The console takes command names in any case.
    expect(out).toContain('Unknown command /\\x1b[2j\\x1b[31mred.');
    expect(out).toContain('risk setting sizing is ');
    expect(out).not.toContain('\x1b');
  });
});
