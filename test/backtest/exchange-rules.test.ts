import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/backtest/simulate.js';
import type { MarketRules } from '../../src/market/rules.js';
import { bars, flat, HOUR, signalsAt, simOptions, T0 } from '../helpers/candles.js';

/** Rules like a small exchange's: amounts in 0.01 steps, at least 0.01 and 5 quote per order. */
const rules = (over: Partial<MarketRules> = {}): MarketRules => ({
  amountStep: 0.01,
  priceStep: 0.01,
  minAmount: 0.01,
  minNotional: 5,
  source: 'test rules',
  ...over,
});

describe('simulated fills under the exchange rules', () => {
  it('rounds an entry down to the amount step, and books fees on the rounded amount', () => {
    const c = bars([flat(100), flat(100), flat(110), flat(110)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0], exitLong: [2] }),
      simOptions({ capital: 1000, market: rules() }),
    );
    const t = sim.trades[0]!;
    // All-in: 1000 / (100 x 1.001) = 9.99000999..., down to the step: 9.99.
    expect(t.quantity).toBe(9.99);
    // Entry fee 9.99 x 100 x 0.001 = 0.999; exit fee 9.99 x 110 x 0.001 = 1.0989.
    expect(t.fees).toBeCloseTo(0.999 + 1.0989, 10);
    expect(t.pnl).toBeCloseTo(9.99 * 10 - 0.999 - 1.0989, 10);
    // The cash the rounding left over stays cash: 1000 - 999.999 + 1097.8011.
    expect(sim.equity[3]).toBeCloseTo(1000 + 97.8021, 9);
    expect(sim.skippedEntries).toBe(0);
  });

  it('skips an entry under the minimum order value, and counts it apart', () => {
    const c = bars([flat(100), flat(100), flat(100)]);
    // 5 / 100.1 = 0.04995 -> 0.04 after the step: 4.00 of value, under the minimum of 5.
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), simOptions({ capital: 5, market: rules() }));
    expect(sim.trades).toHaveLength(0);
    expect(sim.skippedEntries).toBe(1);
    expect(sim.belowMinimum).toBe(1);
    expect(sim.equity[2]).toBe(5);
  });

  it('skips an entry under the minimum amount', () => {
    const c = bars([flat(100), flat(100), flat(100)]);
    // 0.04995 -> 0.049 after a 0.001 step, under the minimum amount 0.1.
    const market = rules({ amountStep: 0.001, minAmount: 0.1, minNotional: 0 });
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), simOptions({ capital: 5, market }));
    expect(sim.trades).toHaveLength(0);
    expect(sim.belowMinimum).toBe(1);
  });

  it('puts the stop on the price tick', () => {
    // 100 x (1 - 0.0123) = 98.77 -> 98.75 on a 0.05 tick: a low of 98.76 does not reach it, 98.75 does.
    const c = bars([flat(100), flat(100), [100, 100, 98.76, 99], [99, 99, 98.75, 98.8]]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0] }),
      simOptions({ fee: 0, exits: { stopLoss: 0.0123 }, market: rules({ priceStep: 0.05 }) }),
    );
    const t = sim.trades[0]!;
    expect(t.exitReason).toBe('stop');
    expect(t.exitTime).toBe(T0 + 3 * HOUR);
    expect(t.exitPrice).toBe(98.75);
  });

  it('merges a take-profit level too small to send into the next, and charges take-profits the maker fee', () => {
    const c = bars([flat(100), flat(100), [100, 102.5, 100, 102], [102, 103.5, 102, 103]]);
    const exits = {
      takeProfit: [
        { at: 0.01, close: 0.001 },
        { at: 0.02, close: 0.5 },
        { at: 0.03, close: 0.499 },
      ],
    };
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0] }),
      simOptions({ capital: 1000, maker: 0.0002, exits, market: rules() }),
    );
    const t = sim.trades[0]!;
    expect(t.quantity).toBe(9.99);
    // Level 1: 0.1% of 9.99 = 0.00999, no whole step: carried. Level 2: 4.995 + 0.00999 = 5.00499 -> 5.00.
    // Level 3 completes 100%: the rest, 4.99.
    expect(t.exits.map((f) => [f.price, f.quantity, f.reason])).toEqual([
      [102, 5, 'take-profit'],
      [103, 4.99, 'take-profit'],
    ]);
    // Taker fee on the market entry (0.999), maker fee on each take-profit: 5 x 102 x 0.0002 and 4.99 x 103 x 0.0002.
    const fees = 0.999 + 0.102 + 0.102794;
    expect(t.fees).toBeCloseTo(fees, 10);
    expect(t.pnl).toBeCloseTo(5 * 2 + 4.99 * 3 - fees, 10);
  });

  it('lets a take-profit close the rest when the rest would be too small to sell, and leaves no float dust', () => {
    // 12 / 100.1 = 0.1198 -> 0.11. At 1%: 70% is 0.077 -> 0.07 (7.07 USDT), leaving 0.04 (4.04 < 5):
    // the level closes all 0.11.
    const c = bars([flat(100), flat(100), [100, 101.5, 100, 101], flat(101)]);
    const whole = simulate(
      c,
      signalsAt(4, { enterLong: [0] }),
      simOptions({
        capital: 12,
        exits: {
          takeProfit: [
            { at: 0.01, close: 0.7 },
            { at: 0.03, close: 0.3 },
          ],
        },
        market: rules(),
      }),
    );
    expect(whole.trades[0]!.exits.map((f) => [f.price, f.quantity])).toEqual([[101, 0.11]]);
    // At 1%: 60% is 0.066 -> 0.06, leaving 0.05 (5.05): the rest stays, exactly 0.05, sold by the exit signal.
    const part = simulate(
      bars([flat(100), flat(100), [100, 101.5, 100, 101], flat(101), flat(101)]),
      signalsAt(5, { enterLong: [0], exitLong: [2] }),
      simOptions({ capital: 12, exits: { takeProfit: [{ at: 0.01, close: 0.6 }] }, market: rules() }),
    );
    expect(part.trades[0]!.exits.map((f) => [f.price, f.quantity, f.reason])).toEqual([
      [101, 0.06, 'take-profit'],
      [101, 0.05, 'signal'],
    ]);
  });

  it('fills as before when the rules are unknown', () => {
    const c = bars([flat(100), flat(100), flat(110), flat(110)]);
    const sim = simulate(c, signalsAt(4, { enterLong: [0], exitLong: [2] }), simOptions({ capital: 1000 }));
    expect(sim.trades[0]!.quantity).toBeCloseTo(1000 / 100.1, 12);
    expect(sim.belowMinimum).toBe(0);
  });
});
