import { describe, expect, it } from 'vitest';
import {
  type Account,
  evaluate,
  kellyFraction,
  parseRiskSettings,
  RISK_HELP,
  RiskSettings,
} from '../../src/engine/risk.js';

const settings = (over: Record<string, unknown> = {}) => parseRiskSettings(over);
const account = (over: Partial<Account> = {}): Account => ({
  cash: 10_000,
  equity: 10_000,
  dayStartEquity: 10_000,
  openPositions: 0,
  symbolNotional: 0,
  closedPnls: [],
  ...over,
});
// A long at 100 with a stop at 98: 2 of risk per unit.
const long = { side: 1 as const, price: 100, stop: 98, target: Number.NaN, fee: 0, now: 1_000_000 };

describe('the risk manager', () => {
  it('sizes from risk % over the stop distance: 1% of 10,000 over 2 is 50 units', () => {
    const v = evaluate(settings({ maxSymbolExposure: 1 }), account(), long);
    expect(v).toMatchObject({ ok: true, quantity: 50, risk: 100 });
  });

  it('sizes so that the stop-out, fees and slippage included, loses exactly the stated risk', () => {
    // The case: 1% risk, a 2% stop, 0.1% fee a side. Long at 100, stop at 98: a unit loses
    // 2 + 0.1 (entry fee) + 0.098 (exit fee at the stop) = 2.198; 100 / 2.198 units lose 100.
    const fees = { ...long, fee: 0.001 };
    const v = evaluate(settings({ maxSymbolExposure: 1 }), account(), fees);
    expect(v.ok && v.quantity).toBeCloseTo(100 / 2.198, 10);
    expect(v.ok && v.risk).toBeCloseTo(100, 9);
    // With 10 bps of slippage the stop sells at 98 x 0.999 = 97.902: 2.098 + 0.1 + 0.097902.
    const slipped = evaluate(settings({ maxSymbolExposure: 1 }), account(), { ...fees, slippage: 0.001 });
    expect(slipped.ok && slipped.quantity).toBeCloseTo(100 / 2.295902, 10);
    expect(slipped.ok && slipped.risk).toBeCloseTo(100, 9);
  });

  it('sizes a fixed fraction: 10% of 10,000 at 100 (no fee) is 10 units', () => {
    const v = evaluate(settings({ sizing: 'fraction', fraction: 0.1 }), account(), long);
    expect(v.ok && v.quantity).toBeCloseTo(10, 12);
  });

  it('sizes half-Kelly from 20 trades, capped by the fraction', () => {
    // 12 wins of 30 and 8 losses of 20: W = 0.6, R = 1.5, Kelly = 0.6 - 0.4 / 1.5 = 0.3333, half = 0.1667.
    const pnls = [...Array(12).fill(30), ...Array(8).fill(-20)];
    expect(kellyFraction(pnls, 1)).toBeCloseTo(1 / 6, 12);
    expect(kellyFraction(pnls, 0.1)).toBe(0.1);
    expect(kellyFraction(pnls.slice(1), 1)).toBeUndefined();
    // Trades that made exactly nothing are neither wins nor losses: W stays 12 of 20.
    expect(kellyFraction([...pnls, 0, 0, 0, 0, 0], 1)).toBeCloseTo(1 / 6, 12);
    expect(kellyFraction(Array(20).fill(0), 1)).toBe(0);
    const v = evaluate(
      settings({ sizing: 'kelly', fraction: 1, maxSymbolExposure: 1 }),
      account({ closedPnls: pnls }),
      long,
    );
    expect(v.ok && v.quantity).toBeCloseTo((10_000 * (1 / 6)) / 100, 9);
  });

  it.each([
    ['the kill-switch', {}, { killSwitch: 'drawdown 21%' }, long, /kill-switch is on/],
    [
      'the daily loss limit',
      {},
      { equity: 9_400, cash: 9_400 },
      long,
      /daily loss limit: down 6% today, the limit is 5%/,
    ],
    [
      'the cooldown after a loss',
      {},
      { lastLossAt: 1_000_000 - 30 * 60_000 },
      long,
      /cooldown after a loss: no entries on this symbol for 30 more minute/,
    ],
    ['max open positions', {}, { openPositions: 5 }, long, /max open positions: 5 open, the limit is 5/],
    ['minimum reward/risk', {}, {}, { ...long, target: 102 }, /reward\/risk 1.00 is below the minimum 1.5/],
    [
      'max exposure per symbol',
      {},
      { symbolNotional: 4_000 },
      long,
      /this entry would put 90% of equity on it, the limit is 50%/,
    ],
    ['risk sizing without a stop', {}, {}, { ...long, stop: Number.NaN }, /risk sizing needs a stop/],
    ['no free cash', {}, { cash: 0 }, long, /no free cash/],
  ])('refuses by %s, saying why', (_name, over, acct, proposal, reason) => {
    const v = evaluate(settings(over), account(acct), proposal);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(reason);
  });

  it('lets a trade through once the cooldown is over, and checks reward/risk only with a target', () => {
    const s = settings({ maxSymbolExposure: 1 });
    expect(evaluate(s, account({ lastLossAt: 1_000_000 - 60 * 60_000 }), long).ok).toBe(true);
    expect(evaluate(s, account(), { ...long, target: 103 }).ok).toBe(true); // R:R 1.5
  });

  it('states in its help the bounds the schema checks, for every setting', () => {
    expect(Object.keys(RISK_HELP)).toEqual(Object.keys(RiskSettings.shape));
    // gt(0).max(0.2): above 0 up to 0.2; min(0).lt(1): 0 to below 1; int().min(1).max(1000).
    expect(RISK_HELP.riskPerTrade).toBe('share of equity risked per trade, above 0 up to 0.2 (0.01 = 1%)');
    expect(RISK_HELP.defaultStop).toBe(
      'stop distance for signals without one, 0 to below 1 (0: no stop, risk sizing skips)',
    );
    expect(RISK_HELP.maxOpenPositions).toBe('open positions at most, a whole number 1 to 1000');
    expect(RISK_HELP.minRewardRisk).toBe('least reward/risk for signals with a target, 0 to 100 (0: off)');
    expect(RISK_HELP.sizing).toBe(
      'risk (risk % over the stop), fraction (of equity) or kelly (half-Kelly, capped by fraction)',
    );
    expect(() => parseRiskSettings({ defaultStop: 1 })).toThrow(/allowed: .*0 to below 1/);
    expect(parseRiskSettings({ defaultStop: 0.99 }).defaultStop).toBe(0.99);
  });

  it('reads settings strictly, with one line on a bad value', () => {
    expect(() => parseRiskSettings({ riskPerTrade: 0.5 })).toThrow(
      /risk setting riskPerTrade is 0.5; allowed: share of equity risked per trade/,
    );
    expect(() => parseRiskSettings({ maxOpen: 3 })).toThrow(
      /unknown risk setting "maxOpen"; allowed: sizing, riskPerTrade/,
    );
  });
});
