/**
 * `/backtest STRATEGY A,B TIMEFRAME PERIOD rules=engine` through the dispatcher, as any chat sends it:
 * several markets on one account under the engine rules, their candles from the exchange (an
 * emulator serving two markets), the reply's figures those of the same portfolio backtest run here
 * and worked by hand, kept in the journal, and every wrong list refused in one line.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refusedText } from '../../src/backtest/summary.js';
import type { Person } from '../../src/chat/dispatch.js';
import { type Block, plainLine, type Reply, renderMessages, tableLines } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { portfolioBacktest } from '../../src/engine/backtest.js';
import { knownRules } from '../../src/market/rules.js';
import { allocCandles, type Candles, candleAt } from '../../src/market/types.js';
import { SAMPLES_DIR } from '../../src/paths.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { type EmulatorCandle, ExchangeEmulator } from '../emulators/exchange/server.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';
import { quietLogger } from '../helpers/engine.js';
import { twoMarkets } from '../helpers/markets.js';

const H2 = 7_200_000;
const DAY = 86_400_000;
const ADMIN: Person = { platform: 'telegram', id: '42', name: 'Ada', role: 'admin' };
const CHAT = { platform: 'telegram' as const, id: '42', private: true };

/**
 * The candles moved to end five days ago (whole 2h steps), prices to the cent: a year asked for
 * gets every one of them from the exchange, whatever the minute the test runs.
 */
function recent(c: Candles, lastOpen: number): Candles {
  const shift = lastOpen - c.time[c.length - 1]!;
  const out = allocCandles(c.length);
  const cents = (v: number) => Math.round(v * 100) / 100;
  for (let i = 0; i < c.length; i++) {
    out.time[i] = c.time[i]! + shift;
    out.open[i] = cents(c.open[i]!);
    out.high[i] = cents(c.high[i]!);
    out.low[i] = cents(c.low[i]!);
    out.close[i] = cents(c.close[i]!);
    out.volume[i] = cents(c.volume[i]!);
  }
  return out;
}

const served = (c: Candles): EmulatorCandle[] => Array.from({ length: c.length }, (_, i) => candleAt(c, i));

let emu: ExchangeEmulator;
let t: TestBot;
let btc: Candles;
let eth: Candles;

const send = (line: string) => sendLine(t, line, ADMIN, CHAT);

const textLines = (r: Reply) => r.blocks.flatMap((b) => (b.kind === 'text' ? b.lines.map(plainLine) : []));
const tables = (r: Reply) =>
  r.blocks.filter((b): b is Extract<Block, { kind: 'table' }> => b.kind === 'table');
const imageOf = (r: Reply) =>
  r.blocks.find((b): b is Extract<Block, { kind: 'image' }> => b.kind === 'image');
const row = (rows: string[][], label: string) => rows.find((r) => r[0] === label)?.[1];
const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const signed = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}%`;

beforeAll(async () => {
  const lastOpen = Math.floor(Date.now() / H2) * H2 - 5 * DAY;
  const two = twoMarkets();
  btc = recent(two.btc, lastOpen);
  eth = recent(two.eth, lastOpen);
  emu = await new ExchangeEmulator([
    { symbol: 'BTC/USDT', candles: served(btc), intervalMs: H2 },
    { symbol: 'ETH/USDT', candles: served(eth), intervalMs: H2 },
  ]).start();
  // The exchange's clock stops where the data ends: its last candle has closed.
  emu.now = () => lastOpen + H2;
  t = await startTestBot(
    {
      MARKET_DATA: 'exchange',
      EXCHANGE_API_URL: emu.url,
      // One position at a time on the account: the markets' runs compete for it.
      RISK_MAX_OPEN: '1',
    },
    {},
    mkdtempSync(join(tmpdir(), 'bosun-chat-pf-')),
  );
}, 60_000);

afterAll(async () => {
  await t?.bot.stop();
  await emu?.stop();
});

describe('/backtest on several markets (a portfolio)', () => {
  it('answers with the account under the engine rules, the trades by market and the equity against the basket, and keeps it', async () => {
    const replies = await send('/backtest ema-cross BTC/USDT,ETH/USDT 2h 1y rules=engine');
    const answer = replies.find((r) => imageOf(r))!;
    expect(answer).toBeDefined();

    // The same portfolio run here on the candles the exchange served, with the bot's settings and
    // each market's trading rules, which the download kept beside the candles (the emulator's are
    // Binance's: 0.00001 steps, at least 5 USDT an order).
    const { config } = t.bot.services;
    const rules = (symbol: string) =>
      knownRules('binance', symbol, { dataDir: t.dataDir, samplesDir: SAMPLES_DIR })!;
    for (const symbol of ['BTC/USDT', 'ETH/USDT'])
      expect(rules(symbol)).toMatchObject({ amountStep: 0.00001, minNotional: 5 });
    const expected = await portfolioBacktest(
      await loadStrategy('ema-cross'),
      {},
      [
        { symbol: 'BTC/USDT', candles: btc, rules: rules('BTC/USDT') },
        { symbol: 'ETH/USDT', candles: eth, rules: rules('ETH/USDT') },
      ],
      {
        config,
        risk: t.bot.services.engine.risk(),
        logger: quietLogger(),
        capital: config.backtest.capital,
        fee: config.backtest.fee,
        slippageBps: config.backtest.slippageBps,
        timeframeMs: H2,
      },
    );
    const m = expected.result.metrics;
    const lines = textLines(answer);
    expect(lines[0]).toBe(
      `Backtest ema-cross BTC/USDT,ETH/USDT 2h 1y: ${signed(m.totalReturn)} over ${m.trades} trades`,
    );
    // Asked for a year; the exchange has 1,500 2h candles: 3,000 hours, 125 days to the last close.
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    expect(lines).toContain(
      `Asked for 1y; the data covers 125d (${day(btc.time[0]!)} .. ${day(btc.time[1499]! + H2)}): every figure is over that span.`,
    );

    const [summary, byMarket] = tables(answer);
    const rows = summary!.rows;
    expect(row(rows, 'Portfolio')).toBe('BTC/USDT, ETH/USDT on one account, a run of ema-cross on each');
    expect(row(rows, 'Data')).toMatch(/^BTC\/USDT,ETH\/USDT 2h, 1,500 bar times, /);
    expect(row(rows, 'Settings')).toBe('capital 10,000.00, fee 0.1%, slippage 0 bps, the engine rules');
    // The account: its capital plus every trade's result (all are closed at the end).
    const records = expected.records;
    const pnl = records.reduce((a, r) => a + r.pnl, 0);
    expect(row(rows, 'Final equity')).toBe(money(10_000 + pnl));
    expect(row(rows, 'Total return')).toBe(signed(pnl / 10_000));
    const won = records.filter((r) => r.pnl > 0).length;
    const lost = records.filter((r) => r.pnl < 0).length;
    expect(row(rows, 'Trades')).toBe(
      `${records.length} (${won} won, ${lost} lost, win rate ${((won / records.length) * 100).toFixed(1)}%)`,
    );
    // Buy-and-hold holds half the capital in each market: the mean of their changes.
    const change = (c: Candles) => c.close[c.length - 1]! / c.close[0]!;
    expect(row(rows, 'Buy and hold')).toMatch(
      new RegExp(
        `^\\${signed((change(btc) + change(eth)) / 2 - 1)} \\(max drawdown .*\\(an equal-weight basket\\)$`,
      ),
    );
    // The refusals of the engine rules: with one position at a time, the other market's entries
    // were refused while one was held.
    expect(row(rows, 'Refused')).toBe(refusedText(expected.rules));
    expect(expected.rules.refused.find((r) => r.reason === 'max open positions')?.count).toBeGreaterThan(0);
    expect(row(rows, 'Rules')).toMatch(/at most 1 open/);

    // By market: each market's trades, win rate and PnL, most trades first, adding up to the account.
    const of = (s: string) => records.filter((r) => r.symbol === s);
    const marketRow = (s: string) => {
      const list = of(s);
      const w = list.filter((r) => r.pnl > 0).length;
      const l = list.filter((r) => r.pnl < 0).length;
      return [
        s,
        String(list.length),
        `${((w / (w + l)) * 100).toFixed(0)}%`,
        money(list.reduce((a, r) => a + r.pnl, 0)),
      ];
    };
    expect(of('BTC/USDT').length).toBeGreaterThan(0);
    expect(of('ETH/USDT').length).toBeGreaterThan(0);
    expect(byMarket!.header).toEqual(['', 'trades', 'win', 'PnL']);
    expect(byMarket!.rows).toEqual(
      ['BTC/USDT', 'ETH/USDT'].sort((a, b) => of(b).length - of(a).length || (a < b ? -1 : 1)).map(marketRow),
    );
    expect(lines).toContain('By market');
    // It reads on a phone: the table as a table, and no monospaced line over 40 characters.
    expect(Math.max(...tableLines(byMarket!).map((l) => l.length))).toBeLessThanOrEqual(40);
    const html = renderMessages(answer.blocks, TELEGRAM_HTML).join('\n');
    for (const pre of html.matchAll(/<pre>([\s\S]*?)<\/pre>/g))
      for (const l of pre[1]!.split('\n')) expect(l.replace(/&amp;/g, '&').length).toBeLessThanOrEqual(40);

    // The chart: a PNG of the account against the basket.
    const image = imageOf(answer)!;
    expect([...image.png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(image.caption).toBe('ema-cross on BTC/USDT, ETH/USDT 2h: the account against the basket');

    // Kept: listed, and shown again with the same figures and chart.
    const id = /Kept as (B\w{5}): \/backtests show \1, or \/compare \1 with another/.exec(
      lines.join('\n'),
    )?.[1];
    expect(id).toBeDefined();
    const kept = await t.bot.services.store.backtests.get(id!);
    expect(kept).toMatchObject({
      strategy: 'ema-cross',
      rules: 'engine',
      rulesReport: expected.rules,
      candles: { symbol: 'BTC/USDT,ETH/USDT', timeframe: '2h', count: 1500 },
    });
    expect(kept.metrics.finalEquity).toBe(m.finalEquity);
    expect(kept.trades).toHaveLength(records.length);
    expect(same(kept.chart!, image.png)).toBe(true);
    const [list] = await send('/backtests');
    expect(
      textLines(list!).some((l) => l.startsWith(`${id} ema-cross (engine rules) BTC/USDT,ETH/USDT 2h, `)),
    ).toBe(true);
    const [shown] = await send(`/backtests show ${id}`);
    expect(row(tables(shown!)[0]!.rows, 'Final equity')).toBe(row(rows, 'Final equity'));
    expect(row(tables(shown!)[0]!.rows, 'Refused')).toBe(row(rows, 'Refused'));
    expect(row(tables(shown!)[0]!.rows, 'Portfolio')).toBe(row(rows, 'Portfolio'));
    // Buy-and-hold with its drawdown and Sharpe, as sent (kept with it, not recomputed).
    expect(row(tables(shown!)[0]!.rows, 'Buy and hold')).toBe(row(rows, 'Buy and hold'));
    expect(row(tables(shown!)[0]!.rows, 'Exchange')).toMatch(
      /^rules of BTC\/USDT, ETH\/USDT \(binance, \d{4}-\d\d-\d\d\)$/,
    );
    // The trades by market come back as they were sent.
    expect(tables(shown!)[1]!.rows).toEqual(byMarket!.rows);
    expect(same(imageOf(shown!)!.png, image.png)).toBe(true);
    // As the issue names it, /backtest show ID is the same.
    const [again] = await send(`/backtest show ${id}`);
    expect(tables(again!)).toEqual(tables(shown!));
  }, 60_000);

  it.each([
    [
      '/backtest ema-cross BTC/USDT,ETH/USDT 2h 1y',
      'several markets share one account under the engine rules (its cross-run limits): add rules=engine',
    ],
    [
      '/backtest ema-cross BTC/USDT,ETH/USDT 2h 1y fast=5..20:5 rules=engine',
      'a sweep runs on one market; give one symbol, or one set of parameters for several',
    ],
    [
      '/backtest ema-cross BTC/USDT,btc/usdt 2h rules=engine',
      'BTC/USDT is given twice; give each market once',
    ],
    [
      '/backtest ema-cross BTC/USDT,ETH/BTC 2h rules=engine',
      'ETH/BTC is quoted in BTC and BTC/USDT in USDT; one account trades one quote currency: give markets of one quote',
    ],
    [
      '/backtest ema-cross BTC/USDT,ETHUSDT 2h rules=engine',
      '"ETHUSDT" in SYMBOL is not a market; allowed: markets like BTC/USDT,ETH/USDT',
    ],
    [
      '/backtest ema-cross BTC/USDT, 2h rules=engine',
      '"" in SYMBOL is not a market; allowed: markets like BTC/USDT,ETH/USDT',
    ],
    [
      `/backtest ema-cross ${Array.from({ length: 11 }, (_, k) => `C${k}/USDT`).join(',')} 2h rules=engine`,
      'SYMBOL names 11 markets; allowed: 2 to 10 on one account',
    ],
    // One market keeps its own line.
    ['/backtest ema-cross BTCUSDT 2h', 'SYMBOL is "BTCUSDT"; allowed: a market like BTC/USDT'],
  ])('refuses %s in one line, before loading any candle', async (line, wrong) => {
    const before = emu.calls('/api/v3/klines').length;
    const replies = await send(line);
    expect(replies).toHaveLength(1);
    const lines = textLines(replies[0]!);
    expect(lines[0]).toBe(wrong);
    expect(lines.slice(1).every((l) => l.startsWith('Usage: /backtest '))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(2);
    expect(emu.calls('/api/v3/klines').length).toBe(before);
  });

  it('names a market the exchange does not list, in one line', async () => {
    const replies = await send('/backtest ema-cross BTC/USDT,NOPE/USDT 2h 1y rules=engine');
    expect(textLines(replies[replies.length - 1]!)[0]).toBe(
      'symbol NOPE/USDT is not listed on binance; allowed: a market like BTC/USDT',
    );
  });
});
