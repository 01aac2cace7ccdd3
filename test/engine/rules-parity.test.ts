/**
 * What a run would have done: a replay through the whole bot with the default settings and auto
 * approval (the engine's risk manager and sizing, cooldowns, limits, the regime gate read from the
 * replayed candles) makes exactly the trades of a backtest under the engine's rules on the same
 * candles, for three strategies, one of them gated by the regime.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../src/config.js';
import { engineBacktest, refusalKind } from '../../src/engine/backtest.js';
import { startBot } from '../../src/main.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { quietLogger, sampleSlice } from '../helpers/engine.js';
import { journalTrades } from '../helpers/journal.js';

const M15 = 15 * 60_000;
// Five days of 1m candles from 2023-03-08: a fall, then the turn of 2023-03-13 (several regimes).
const FILE = sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 7200, 7 * 1440);
// The defaults, but for the regime on 1h candles with a 90-minute dwell, so five days see it change.
const ENV = { REGIME_TIMEFRAME: '1h', REGIME_MIN_DWELL: '90m' };

function configFor(dataDir: string, run: string): Config {
  return loadConfig({
    env: {
      ...ENV,
      DATA_DIR: dataDir,
      REPLAY_FILE: FILE,
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
async function replay(run: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bosun-rules-'));
  const bot = await startBot({ config: configFor(dataDir, run), logger: quietLogger(), interactive: false });
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
  const trades = journalTrades(dataDir).map(({ id: _i, runId: _r, symbol: _s, quote: _q, ...t }) => t);
  return { trades, refused };
}

/** The same candles (FILE's 1m made 15m) under the engine rules, with the replay's settings. */
async function backtest(strategy: string) {
  const config = configFor(mkdtempSync(join(tmpdir(), 'bosun-rules-bt-')), 'none');
  const candles = closedOnly(resample(loadCandlesFile(FILE), 60_000, M15));
  return engineBacktest(await loadStrategy(strategy), {}, candles, {
    config,
    logger: quietLogger(),
    symbol: 'BTC/USDT',
    capital: config.paper.balance.USDT!,
    fee: config.backtest.fee,
    slippageBps: config.backtest.slippageBps,
    timeframeMs: M15,
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
