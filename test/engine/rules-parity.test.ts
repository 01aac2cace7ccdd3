/**
 * What a run would have done: a replay through the whole bot with the default settings and auto
 * approval (the engine's risk manager and sizing, cooldowns, limits, the regime gate read from the
 * replayed candles) makes exactly the trades of a backtest under the engine's rules on the same
 * candles, for three strategies, one of them gated by the regime.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { engineBacktest, refusalKind, runsBacktest } from '../../src/engine/backtest.js';
import { startBot } from '../../src/main.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { knownRules } from '../../src/market/rules.js';
import { exchangeFromFileName } from '../../src/market/symbol.js';
import { SAMPLES_DIR } from '../../src/paths.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { quietLogger, sampleSlice } from '../helpers/engine.js';
import { journalTrades } from '../helpers/journal.js';

const M15 = 15 * 60_000;
// Five days of 1m candles from 2023-03-08: a fall, then the turn of 2023-03-13 (several regimes).
const FILE = sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 7200, 7 * 1440);
// The same candles named as Binance's, whose rules are bundled: amounts in steps of 0.00001 BTC, at
// least 5 USDT an order. On an 11.20 USDT account the engine's sizing (about 45 % of the equity at
// a 2 % stop, fees included) makes orders of 0.00023 BTC, about 5.00 to 5.08 USDT at these prices:
// three fill, one falls under the minimum.
const BINANCE_FILE = join(mkdtempSync(join(tmpdir(), 'bosun-rules-')), 'binance_BTC-USDT_1m_2023-03.csv');
copyFileSync(FILE, BINANCE_FILE);
const SMALL = { PAPER_BALANCE: 'USDT:11.2' };
// The defaults, but for the regime on 1h candles with a 90-minute dwell, so five days see it change.
const ENV = { REGIME_TIMEFRAME: '1h', REGIME_MIN_DWELL: '90m' };

function configFor(dataDir: string, run: string, file = FILE, env: Record<string, string> = {}): Config {
  return loadConfig({
    env: {
      ...ENV,
      ...env,
      DATA_DIR: dataDir,
      REPLAY_FILE: file,
      REPLAY_SPEED: '1000000',
      REPLAY_RUNS: run,
      CHAT_CONSOLE: 'off',
      // Nothing outside: an exchange that is not there.
      EXCHANGE_API_URL: 'http://127.0.0.1:9',
    },
    dotenv: false,
  });
}

/** Replay FILE through startBot to its end; the trades and the refused signals' reasons. */
async function replay(run: string, file = FILE, env: Record<string, string> = {}) {
  const { trades, refused } = await replayRecords(run, file, env);
  return { trades: trades.map(({ runId: _r, ...t }) => t), refused };
}

/** Replay FILE through startBot to its end; the trades with their runs, and the refused signals' reasons. */
async function replayRecords(run: string, file = FILE, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bosun-rules-'));
  const bot = await startBot({
    config: configFor(dataDir, run, file, env),
    logger: quietLogger(),
    interactive: false,
  });
  const refused: string[] = [];
  try {
    await new Promise<void>((resolve) => {
      const off = bot.services.trading.on((e) => {
        if (e.type === 'signal' && e.signal.status === 'refused') refused.push(e.signal.reason ?? '');
        if (e.type === 'entry-skipped') refused.push(e.reason);
        if (e.type === 'feed' && !e.up) {
          off();
          resolve();
        }
      });
    });
  } finally {
    await bot.stop();
  }
  const trades = journalTrades(dataDir).map(({ id: _i, symbol: _s, quote: _q, ...t }) => t);
  return { trades, refused };
}

/** The same candles (FILE's 1m made 15m) under the engine rules, with the replay's settings. */
async function backtest(strategy: string, file = FILE, env: Record<string, string> = {}) {
  const config = configFor(mkdtempSync(join(tmpdir(), 'bosun-rules-bt-')), 'none', file, env);
  const candles = closedOnly(resample(loadCandlesFile(file), 60_000, M15));
  // The rules a backtest of this file takes, as the CLI finds them: by the exchange its name says.
  const marketRules = knownRules(exchangeFromFileName(file)!, 'BTC/USDT', { samplesDir: SAMPLES_DIR });
  return engineBacktest(await loadStrategy(strategy), {}, candles, {
    config,
    logger: quietLogger(),
    symbol: 'BTC/USDT',
    capital: config.paper.balance.USDT!,
    fee: config.backtest.fee,
    slippageBps: config.backtest.slippageBps,
    timeframeMs: M15,
    ...(marketRules ? { marketRules } : {}),
  });
}

describe('a backtest under the engine rules', () => {
  for (const strategy of ['ema-cross', 'momentum', 'bb-breakout']) {
    it(`makes the trades of a replay with the default settings: ${strategy} on 15m`, async () => {
      const live = await replay(`${strategy} BTC/USDT 15m approve=auto`);
      const { result, rules } = await backtest(strategy);
      const expected = result.simulation.trades.filter((t) => t.exitReason !== 'end');
      expect(live.trades).toEqual(expected.map((t) => ({ ...t, exits: t.exits.map((e) => ({ ...e })) })));
      // The same entries were refused, for the same reasons (counted by kind, as the summary does).
      const byReason = new Map<string, number>();
      for (const r of live.refused.map(refusalKind)) byReason.set(r, (byReason.get(r) ?? 0) + 1);
      expect(new Map(rules.refused.map((r) => [r.reason, r.count]))).toEqual(byReason);
      // The regime bound each of them on these five days (RISK_OFF, then CHOP): entries refused by it.
      expect(rules.refused.some((r) => r.reason.startsWith('regime '))).toBe(true);
      expect(rules.regime).toMatch(/read from these candles at each 1h close/);
    }, 120_000);
  }

  it("makes the trades of a replay on a small account under the exchange's amount step and minimums", async () => {
    const live = await replay('ema-cross BTC/USDT 15m approve=auto', BINANCE_FILE, SMALL);
    const { result, rules } = await backtest('ema-cross', BINANCE_FILE, SMALL);
    const expected = result.simulation.trades.filter((t) => t.exitReason !== 'end');
    expect(live.trades).toEqual(expected.map((t) => ({ ...t, exits: t.exits.map((e) => ({ ...e })) })));
    expect(live.trades.length).toBeGreaterThan(0);
    // Every amount is a whole number of 0.00001 BTC steps, and at least 5 USDT of value.
    for (const t of live.trades) {
      expect(Math.abs(t.quantity * 1e5 - Math.round(t.quantity * 1e5))).toBeLessThan(1e-6);
      expect(t.quantity * t.entryPrice).toBeGreaterThanOrEqual(5);
    }
    const byReason = new Map<string, number>();
    for (const r of live.refused.map(refusalKind)) byReason.set(r, (byReason.get(r) ?? 0) + 1);
    expect(new Map(rules.refused.map((r) => [r.reason, r.count]))).toEqual(byReason);
    // The minimum bound some entries (else this case would not test it), in the replay and the backtest alike.
    expect(result.simulation.belowMinimum).toBeGreaterThan(0);
    expect(result.simulation.belowMinimum).toBe(byReason.get("below the exchange's minimum order value"));
  }, 120_000);

  it('makes the trades of a replay of the default runs together (two strategies on one market), run by run', async () => {
    const live = await replayRecords(
      'ema-cross BTC/USDT 15m approve=auto; rsi-reversion BTC/USDT 15m approve=auto',
    );
    const config = configFor(mkdtempSync(join(tmpdir(), 'bosun-rules-bt-')), 'none');
    const candles = closedOnly(resample(loadCandlesFile(FILE), 60_000, M15));
    const strategies = [await loadStrategy('ema-cross'), await loadStrategy('rsi-reversion')];
    const { result, records, byRun, rules } = await runsBacktest(
      strategies.map((strategy) => ({ strategy, params: {}, symbol: 'BTC/USDT' })),
      [{ symbol: 'BTC/USDT', candles }],
      {
        config,
        logger: quietLogger(),
        capital: config.paper.balance.USDT!,
        fee: config.backtest.fee,
        slippageBps: config.backtest.slippageBps,
        timeframeMs: M15,
      },
    );
    // The same trades, each by the same run (R1 ema-cross, R2 rsi-reversion, as the replay numbers them).
    const expected = records
      .filter((t) => t.exitReason !== 'end')
      .map(({ id: _i, symbol: _s, quote: _q, ...t }) => ({ ...t, exits: t.exits.map((e) => ({ ...e })) }));
    expect(live.trades).toEqual(expected);
    const byReason = new Map<string, number>();
    for (const r of live.refused.map(refusalKind)) byReason.set(r, (byReason.get(r) ?? 0) + 1);
    expect(new Map(rules.refused.map((r) => [r.reason, r.count]))).toEqual(byReason);
    // Both runs traded, and the trades name their strategy.
    expect(byRun!.map((b) => b.key)).toEqual(['ema-cross BTC/USDT', 'rsi-reversion BTC/USDT']);
    expect(byRun!.every((b) => b.trades > 0)).toBe(true);
    expect(result.strategy).toBe('ema-cross + rsi-reversion');
    expect(new Set(result.simulation.trades.map((t) => t.strategy))).toEqual(
      new Set(['ema-cross', 'rsi-reversion']),
    );
  }, 120_000);

  it('trades at all in the three cases together', async () => {
    // Guard against a vacuous parity: the cases above trade.
    let trades = 0;
    for (const strategy of ['ema-cross', 'momentum', 'bb-breakout']) {
      const { result } = await backtest(strategy);
      trades += result.simulation.trades.length;
    }
    expect(trades).toBeGreaterThan(5);
  });
});
