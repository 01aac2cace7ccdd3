/**
 * Adds (an entry ladder, DCA) under the fill model, worked by hand: a resting add fills at its price
 * (or a better open), the average entry and the fee follow, a stop given as a distance follows the
 * average, a bar that fills an add takes no target, the first exit withdraws what has not filled, and
 * levels the price is already at, or beyond the stop, are bought at once or not placed.
 */
import { describe, expect, it } from 'vitest';
import {
  applyBar,
  type EntryFill,
  type ExitFill,
  type FillCosts,
  openPosition,
  planAdds,
} from '../../src/backtest/fills.js';
import { checkAdds } from '../../src/backtest/run.js';
import { parseAdds } from '../../src/cli/args.js';
import { dcaLevels, type ExitRules } from '../../src/strategy/define.js';

const COSTS: FillCosts = { fee: 0.001, maker: 0.0005, slippage: 0 };

/** A long of `quantity` in all, first filled at 100. */
const long = (quantity: number, rules: ExitRules) =>
  openPosition({ side: 1, index: 0, time: 0, price: 100, quantity, rules, costs: COSTS });

function dcaPosition() {
  // 3 BTC in all at 100: a third now, a third at 98 (-2 %), a third at 96 (-4 %); a 5 % stop, +3 % target.
  return long(3, { stopLoss: 0.05, takeProfit: [{ at: 0.03, close: 1 }], adds: dcaLevels(2, 0.02) });
}

describe('adds in the fill model', () => {
  it('opens with the first share, the adds resting below', () => {
    const p = dcaPosition();
    expect(p.qty).toBeCloseTo(1, 12);
    expect(p.adds!.prices).toEqual([98, 96]);
    expect(p.adds!.amounts.map((a) => +a.toFixed(12))).toEqual([1, 1]);
    expect(p.stop).toBeCloseTo(95, 9);
    expect(p.entryFee).toBeCloseTo(0.1, 12); // 1 x 100 x 0.1 % (a market entry: taker)
  });

  it('fills an add at its price, moves the average, the stop and the target, and takes no target in that bar', () => {
    const p = dcaPosition();
    const adds: EntryFill[] = [];
    const exits: ExitFill[] = [];
    // Opens at 99, falls to 97.5 (the first add at 98), rises to 101.5 (over the new target 100.94).
    const closed = applyBar(
      p,
      1,
      99,
      101.5,
      97.5,
      COSTS,
      (f) => exits.push(f),
      (f) => adds.push(f),
    );
    expect(closed).toBe(false);
    expect(adds).toEqual([{ time: 1, price: 98, quantity: 1, fee: 98 * 0.0005 }]);
    expect(p.qty).toBeCloseTo(2, 12);
    expect(p.entryPrice).toBeCloseTo(99, 12);
    expect(p.entryFee).toBeCloseTo(0.1 + 0.049, 12);
    expect(p.stop).toBeCloseTo(94.05, 9); // 99 x 0.95
    expect(p.targetPrices[0]).toBeCloseTo(101.97, 9); // 99 x 1.03
    expect(exits).toEqual([]);
    // The next bar reaches the target: the whole closes at 101.97, with the pnl of the average.
    applyBar(
      p,
      2,
      101,
      102,
      100.5,
      COSTS,
      (f) => exits.push(f),
      (f) => adds.push(f),
    );
    expect(exits).toHaveLength(1);
    expect(exits[0]!.price).toBeCloseTo(101.97, 9);
    expect(exits[0]!.pnl).toBeCloseTo(2 * (101.97 - 99) - 2 * 101.97 * 0.0005 - 0.149, 9);
  });

  it('fills adds at a gapped open, then stops out at the stop of the new average', () => {
    const p = dcaPosition();
    const adds: EntryFill[] = [];
    const exits: ExitFill[] = [];
    // Opens at 95.5, under both adds: both fill at 95.5; average (100 + 95.5 + 95.5) / 3 = 97;
    // stop 97 x 0.95 = 92.15, reached by the low of 92.
    const closed = applyBar(
      p,
      1,
      95.5,
      96,
      92,
      COSTS,
      (f) => exits.push(f),
      (f) => adds.push(f),
    );
    expect(adds.map((a) => a.price)).toEqual([95.5, 95.5]);
    expect(closed).toBe(true);
    expect(exits).toHaveLength(1);
    expect(exits[0]!.reason).toBe('stop');
    expect(exits[0]!.price).toBeCloseTo(92.15, 9);
    expect(exits[0]!.quantity).toBeCloseTo(3, 12);
  });

  it('withdraws the adds not filled at the first exit', () => {
    const p = long(2, {
      takeProfit: [
        { at: 0.02, close: 0.5 },
        { at: 0.05, close: 0.5 },
      ],
      adds: [{ at: 0.03, share: 0.5 }],
    });
    const adds: EntryFill[] = [];
    applyBar(
      p,
      1,
      100,
      102.5,
      99,
      COSTS,
      () => {},
      (f) => adds.push(f),
    );
    expect(p.qty).toBeCloseTo(0.5, 12); // half of the first 1 taken at 102
    applyBar(
      p,
      2,
      100,
      100.5,
      96,
      COSTS,
      () => {},
      (f) => adds.push(f),
    );
    expect(adds).toEqual([]);
    expect(p.adds!.next).toBe(p.adds!.prices.length);
  });

  it('buys at once a level the price is already at, and does not place one beyond the stop', () => {
    const zone = planAdds(
      1,
      1805,
      2,
      {
        adds: [
          { price: 1820, share: 0.25 },
          { price: 1790, share: 0.25 },
        ],
      },
      NaN,
      undefined,
    );
    expect(zone.prices).toEqual([1790]);
    expect(zone.base).toBeCloseTo(1.5, 12);
    const deep = planAdds(
      1,
      100,
      2,
      {
        stopLoss: 0.03,
        adds: [
          { at: 0.02, share: 0.25 },
          { at: 0.06, share: 0.25 },
        ],
      },
      NaN,
      undefined,
    );
    expect(deep.prices).toEqual([98]);
    expect(deep.dropped).toBeCloseTo(0.5, 12);
    expect(deep.base).toBeCloseTo(1, 12);
  });

  it('reads adds from text, and refuses bad ones in one line', () => {
    expect(parseAdds('dca:2:1.5%')).toEqual(dcaLevels(2, 0.015));
    expect(parseAdds('2%:25%,4%:25%')).toEqual([
      { at: 0.02, share: 0.25 },
      { at: 0.04, share: 0.25 },
    ]);
    expect(() => parseAdds('2%')).toThrow(/DISTANCE:SHARE/);
    expect(() => checkAdds(parseAdds('2%:50%,4%:50%'))).toThrow(/less than 100%/);
    expect(() => checkAdds(parseAdds('dca:11:1%'))).toThrow(/at most 10|1 to 10/);
  });
});

describe('adds behind the stop in force', () => {
  it('leaves an add under a raised trailing stop to the stop: out at the trailing stop, the add withdrawn', () => {
    const p = long(2, { trailing: { activation: 0.05, offset: 0.03 }, adds: [{ at: 0.04, share: 0.5 }] });
    const adds: EntryFill[] = [];
    const exits: ExitFill[] = [];
    applyBar(
      p,
      1,
      100,
      110,
      100,
      COSTS,
      (f) => exits.push(f),
      (f) => adds.push(f),
    );
    expect(p.trailStop).toBeCloseTo(106.7, 9);
    applyBar(
      p,
      2,
      108,
      108,
      95,
      COSTS,
      (f) => exits.push(f),
      (f) => adds.push(f),
    );
    expect(adds).toEqual([]);
    expect(exits).toHaveLength(1);
    expect(exits[0]!).toMatchObject({ reason: 'trailing-stop', quantity: 1 });
    expect(exits[0]!.price).toBeCloseTo(106.7, 9);
  });

  it('leaves adds under a stop a person moved up to that stop', () => {
    const p = dcaPosition();
    p.stop = 99;
    p.adds!.stopPrice = 99;
    const adds: EntryFill[] = [];
    const exits: ExitFill[] = [];
    expect(
      applyBar(
        p,
        1,
        100,
        100.5,
        95.5,
        COSTS,
        (f) => exits.push(f),
        (f) => adds.push(f),
      ),
    ).toBe(true);
    expect(adds).toEqual([]);
    expect(exits[0]!).toMatchObject({ reason: 'stop', price: 99, quantity: 1 });
  });
});
