/**
 * `/backtest` as a trader sends it, offline on the bundled samples: the fills obey the sample's
 * exchange rules (bundled with it) and the reply says so; `entry=` makes limit or stop entries; a
 * bad one, or one the engine rules cannot honour, is refused in one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntry, runBacktest } from '../../src/backtest/run.js';
import type { Person } from '../../src/chat/dispatch.js';
import { type Block, plainLine, type Reply } from '../../src/chat/reply.js';
import { describeRules } from '../../src/market/rules.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN: Person = { platform: 'telegram', id: '42', name: 'Ada', role: 'admin' };
const CHAT = { platform: 'telegram' as const, id: '42', private: true };
const YEAR = 365 * 86_400_000;

let t: TestBot;

const send = (line: string) => sendLine(t, line, ADMIN, CHAT);

const rowsOf = (r: Reply) =>
  r.blocks.find((b): b is Extract<Block, { kind: 'table' }> => b.kind === 'table')?.rows ?? [];
const row = (r: Reply, label: string) => rowsOf(r).find((x) => x[0] === label)?.[1];
const textOf = (r: Reply) =>
  r.blocks.flatMap((b) => (b.kind === 'text' ? b.lines.map(plainLine) : [])).join('\n');
const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

beforeAll(async () => {
  t = await startTestBot({ BACKTEST_MAKER_FEE: '0.0002' });
}, 60_000);
afterAll(async () => {
  await t?.bot.stop();
});

describe('/backtest fills under the exchange rules, with limit or stop entries', () => {
  it('uses the rules bundled with the sample and limit entries, and its figures are the backtest of those', async () => {
    const replies = await send('/backtest ema-cross BTC/USDT 4h 1y entry=limit:0.3%:2');
    const answer = replies[replies.length - 1]!;
    // The same candles the command got, and the same backtest run here.
    const data = await t.bot.services.market.candles({
      symbol: 'BTC/USDT',
      timeframe: '4h',
      period: YEAR,
      warmupBars: (await loadStrategy('ema-cross')).warmup({ fast: 12, slow: 26 }) + 1,
    });
    expect(data.rules).toMatchObject({ amountStep: 0.00001, minNotional: 5, priceStep: 0.01 });
    const expected = runBacktest(await loadStrategy('ema-cross'), {}, data.candles, {
      capital: 10_000,
      fee: 0.001,
      maker: 0.0002,
      slippageBps: 0,
      market: data.rules!,
      entry: parseEntry('limit:0.3%:2'),
      timeframeMs: data.timeframeMs,
      tradeFrom: data.from,
    });
    const sim = expected.simulation;
    expect(row(answer, 'Settings')).toBe(
      'capital 10,000.00, fee 0.1% (maker 0.02%), slippage 0 bps, all-in, long',
    );
    expect(row(answer, 'Exchange')).toBe(describeRules('BTC/USDT', data.rules));
    expect(row(answer, 'Exchange')).toBe('0.00001 BTC steps, min 5 USDT, tick 0.01 (binance, bundled)');
    const o = sim.entryOrders!;
    expect(o.placed).toBeGreaterThan(0);
    expect(row(answer, 'Entries')).toBe(
      `limit 0.3% better than the close, 2 bars; ${o.placed} placed, ${o.expired} expired, ${o.withdrawn} withdrawn${o.working ? `, ${o.working} working at the end` : ''}`,
    );
    expect(row(answer, 'Final equity')).toBe(money(expected.metrics.finalEquity));
    // Every entry is a whole number of 0.00001 BTC steps, and each limit fill is at a 0.01 tick.
    for (const tr of sim.trades) {
      expect(Math.abs(tr.quantity * 1e5 - Math.round(tr.quantity * 1e5))).toBeLessThan(1e-6);
      expect(Math.abs(tr.entryPrice * 100 - Math.round(tr.entryPrice * 100))).toBeLessThan(1e-6);
    }
  }, 60_000);

  it('backtests the runs of several strategies on one account, by run, and keeps them', async () => {
    const replies = await send('/backtest ema-cross,rsi-reversion BTC/USDT 4h 1y rules=engine');
    const answer = replies[replies.length - 1]!;
    expect(row(answer, 'Portfolio')).toBe('ema-cross BTC/USDT, rsi-reversion BTC/USDT on one account');
    expect(row(answer, 'Strategy')).toBe('ema-cross + rsi-reversion');
    const tables = answer.blocks.filter((b): b is Extract<Block, { kind: 'table' }> => b.kind === 'table');
    expect(tables).toHaveLength(2);
    expect(tables[1]!.rows.map((r) => r[0])).toEqual(['ema-cross BTC/USDT', 'rsi-reversion BTC/USDT']);
    // The runs' trades add up to the account's.
    const trades = Number(/^(\d+) /.exec(row(answer, 'Trades')!)![1]);
    expect(tables[1]!.rows.reduce((a, r) => a + Number(r[1]), 0)).toBe(trades);
    const id = /Kept as (B\w{5})/.exec(textOf(answer))![1]!;
    const [shown] = await send(`/backtest show ${id}`);
    const shownTables = shown!.blocks.filter(
      (b): b is Extract<Block, { kind: 'table' }> => b.kind === 'table',
    );
    expect(shownTables[1]!.rows).toEqual(tables[1]!.rows);
    const [plain] = await send('/backtest ema-cross,rsi-reversion BTC/USDT 4h 1y');
    expect(textOf(plain!)).toMatch(
      /^several strategies share one account under the engine rules: add rules=engine/,
    );
    const [withParams] = await send('/backtest ema-cross,rsi-reversion BTC/USDT 4h 1y rules=engine fast=9');
    expect(textOf(withParams!)).toMatch(/^several strategies run with their own defaults/);
  }, 60_000);

  it('refuses a bad entry=, and entry= with the engine rules, in one line', async () => {
    const [bad] = await send('/backtest ema-cross BTC/USDT 4h 1y entry=limit:1%');
    expect(textOf(bad!)).toMatch(/entry "limit:1%" is not valid; allowed: market, limit:OFFSET:BARS/);
    const [engine] = await send('/backtest ema-cross BTC/USDT 4h 1y entry=limit:1%:2 rules=engine');
    expect(textOf(engine!)).toMatch(
      /entry= applies to the plain rules only \(under the engine rules the paper broker enters at market\)/,
    );
  });
});
