/**
 * Several markets on one account under the engine rules: one run per market, the cross-run limits
 * binding across them, one equity curve, and the trades by market adding up to the account's.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bySymbol } from '../../src/backtest/breakdown.js';
import { loadConfig } from '../../src/config.js';
import { portfolioBacktest } from '../../src/engine/backtest.js';
import type { TradeRecord } from '../../src/store/state.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { quietLogger } from '../helpers/engine.js';
import { twoMarkets } from '../helpers/markets.js';

const H2 = 7_200_000;

async function run(env: Record<string, string>) {
  const config = loadConfig({
    env: { DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-pf-')), ...env },
    dotenv: false,
  });
  const { btc, eth } = twoMarkets();
  return portfolioBacktest(
    await loadStrategy('ema-cross'),
    {},
    [
      { symbol: 'BTC/USDT', candles: btc },
      { symbol: 'ETH/USDT', candles: eth },
    ],
    { config, logger: quietLogger(), capital: 10_000, fee: 0.001, slippageBps: 0, timeframeMs: H2 },
  );
}

/** Whether two trades were open at the same time (one may close at the open another opens at). */
const overlap = (a: TradeRecord, b: TradeRecord) => a.entryTime < b.exitTime && b.entryTime < a.exitTime;

describe('a portfolio under the engine rules', () => {
  it('keeps one account: the trades of both markets add up to its final equity, by market too', async () => {
    const { result, records } = await run({});
    const markets = bySymbol(records);
    expect(markets.map((m) => m.key).sort()).toEqual(['BTC/USDT', 'ETH/USDT']);
    for (const m of markets) expect(m.trades).toBeGreaterThan(1);
    const pnl = records.reduce((a, t) => a + t.pnl, 0);
    expect(markets.reduce((a, m) => a + m.pnl, 0)).toBeCloseTo(pnl, 6);
    expect(result.metrics.trades).toBe(records.length);
    // Everything is closed at the end: the account is its capital plus every trade's result.
    expect(result.metrics.finalEquity).toBeCloseTo(10_000 + pnl, 6);
    // With room for five positions, the two markets held positions at the same time.
    expect(records.some((a) => records.some((b) => a.symbol !== b.symbol && overlap(a, b)))).toBe(true);
  });

  it('binds the cross-run limits across markets: at most one open position with RISK_MAX_OPEN=1', async () => {
    const { records, rules } = await run({ RISK_MAX_OPEN: '1' });
    expect(new Set(records.map((t) => t.symbol)).size).toBe(2);
    for (const a of records) for (const b of records) if (a !== b) expect(overlap(a, b)).toBe(false);
    expect(rules.refused.find((r) => r.reason === 'max open positions')?.count).toBeGreaterThan(0);
  });

  it('refuses markets of different quote currencies, in one line', async () => {
    const config = loadConfig({ env: { DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-pf-')) }, dotenv: false });
    const { btc, eth } = twoMarkets();
    await expect(
      portfolioBacktest(
        await loadStrategy('ema-cross'),
        {},
        [
          { symbol: 'BTC/USDT', candles: btc },
          { symbol: 'ETH/BTC', candles: eth },
        ],
        { config, logger: quietLogger(), capital: 10_000, fee: 0.001, slippageBps: 0, timeframeMs: H2 },
      ),
    ).rejects.toThrow(
      'ETH/BTC is quoted in BTC and BTC/USDT in USDT; one account trades one quote currency: give markets of one quote',
    );
  });
});
