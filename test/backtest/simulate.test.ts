import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/backtest/simulate.js';
import { bars, flat, HOUR, signalsAt, simOptions, T0 } from '../helpers/candles.js';

describe('simulate: entries, exits and fees', () => {
  it('fills a market entry at the next bar open and charges the fee on both sides', () => {
    const c = bars([flat(100), flat(110), flat(120), flat(130)]);
    const sim = simulate(c, signalsAt(4, { enterLong: [0], exitLong: [1] }), simOptions());
    expect(sim.trades).toHaveLength(1);
    const t = sim.trades[0]!;
    const qty = 10_000 / (110 * 1.001); // all-in at the open of bar 1
    expect(t.entryTime).toBe(T0 + HOUR);
    expect(t.entryPrice).toBe(110);
    expect(t.quantity).toBeCloseTo(qty, 10);
    expect(t.exitTime).toBe(T0 + 2 * HOUR);
    expect(t.exitPrice).toBe(120);
    // 10 per unit gained, less 0.1% of 110 and of 120 per unit in fees.
    expect(t.pnl).toBeCloseTo(qty * (10 - 0.11 - 0.12), 9);
    expect(t.fees).toBeCloseTo(qty * 0.23, 9);
    expect(t.exitReason).toBe('signal');
    expect(sim.equity[3]).toBeCloseTo(10_000 + qty * 9.77, 9);
  });

  it('moves market fills against the trader by the slippage', () => {
    const c = bars([flat(100), flat(110), flat(120), flat(130)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0], exitLong: [1] }),
      simOptions({ slippageBps: 50, fee: 0 }),
    );
    const t = sim.trades[0]!;
    expect(t.entryPrice).toBeCloseTo(110 * 1.005, 12);
    expect(t.exitPrice).toBeCloseTo(120 * 0.995, 12);
    expect(t.pnl).toBeCloseTo((10_000 / (110 * 1.005)) * (120 * 0.995 - 110 * 1.005), 8);
  });

  it('closes a position still open at the end at the last close, reason "end"', () => {
    const c = bars([flat(100), flat(100), [100, 105, 99, 104]]);
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), simOptions({ fee: 0 }));
    expect(sim.trades[0]!.exitReason).toBe('end');
    expect(sim.trades[0]!.exitPrice).toBe(104);
    expect(sim.equity[2]).toBeCloseTo(10_400, 9);
  });

  it('ignores entries while in a position and signals on the last bar', () => {
    const c = bars([flat(100), flat(101), flat(102), flat(103)]);
    const sim = simulate(c, signalsAt(4, { enterLong: [0, 1, 3] }), simOptions());
    expect(sim.trades).toHaveLength(1);
    expect(sim.trades[0]!.entryPrice).toBe(101);
  });

  it('shorts: sells at the next open, buys back, and profits when price falls', () => {
    const c = bars([flat(100), flat(110), flat(100), flat(100)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterShort: [0], exitShort: [1] }),
      simOptions({ direction: 'short' }),
    );
    const t = sim.trades[0]!;
    const qty = 10_000 / (110 * 1.001);
    expect(t.side).toBe('short');
    expect(t.pnl).toBeCloseTo(qty * (110 - 100) - qty * 110 * 0.001 - qty * 100 * 0.001, 9);
    expect(sim.equity[3]).toBeCloseTo(10_000 + t.pnl, 9);
  });

  it('reverses a long into a short at one open when both sides are allowed', () => {
    const c = bars([flat(100), flat(100), flat(110), flat(105)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0], enterShort: [1] }),
      simOptions({ direction: 'both', fee: 0 }),
    );
    expect(sim.trades.map((t) => [t.side, t.entryPrice, t.exitPrice, t.exitReason])).toEqual([
      ['long', 100, 110, 'signal'],
      ['short', 110, 105, 'end'],
    ]);
  });

  it('does not trade a side the direction excludes', () => {
    const c = bars([flat(100), flat(100), flat(110)]);
    expect(simulate(c, signalsAt(3, { enterShort: [0] }), simOptions()).trades).toHaveLength(0);
  });
});

describe('simulate: stops, targets, trailing stops, time exits', () => {
  it('stops out inside the bar at the stop price', () => {
    const c = bars([flat(100), [100, 102, 94, 96], flat(96)]);
    const sim = simulate(
      c,
      signalsAt(3, { enterLong: [0] }),
      simOptions({ fee: 0, exits: { stopLoss: 0.05 } }),
    );
    const t = sim.trades[0]!;
    expect(t.exitReason).toBe('stop');
    expect(t.exitPrice).toBe(95);
    expect(t.exitTime).toBe(T0 + HOUR); // the entry bar itself
    expect(t.pnl).toBeCloseTo(100 * -5, 9); // 100 units from 10,000 at 100
  });

  it('fills at the open when the open gaps through the stop', () => {
    const c = bars([flat(100), [100, 101, 99, 100], [90, 91, 88, 89]]);
    const sim = simulate(
      c,
      signalsAt(3, { enterLong: [0] }),
      simOptions({ fee: 0, exits: { stopLoss: 0.05 } }),
    );
    expect(sim.trades[0]!.exitPrice).toBe(90);
    expect(sim.trades[0]!.exitReason).toBe('stop');
  });

  it('counts the stop first when one bar touches both the stop and the target', () => {
    const c = bars([flat(100), [100, 106, 94, 100], flat(100)]);
    const exits = { stopLoss: 0.05, takeProfit: [{ at: 0.05, close: 1 }] };
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), simOptions({ fee: 0, exits }));
    expect(sim.trades[0]!.exitReason).toBe('stop');
    expect(sim.trades[0]!.exitPrice).toBe(95);
  });

  it('takes partial profits at +1.5% (30%), +3% (40%) and +5% (30%)', () => {
    const c = bars([
      flat(100),
      [100, 101.6, 99.5, 101],
      [101, 103.2, 100.5, 103],
      [103, 106, 102, 105],
      flat(105),
    ]);
    const exits = {
      takeProfit: [
        { at: 0.015, close: 0.3 },
        { at: 0.03, close: 0.4 },
        { at: 0.05, close: 0.3 },
      ],
    };
    const sim = simulate(c, signalsAt(5, { enterLong: [0] }), simOptions({ exits }));
    const t = sim.trades[0]!;
    const qty = 10_000 / (100 * 1.001);
    expect(t.exits.map((f) => f.time)).toEqual([T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]);
    expect(t.exits[0]!.price).toBeCloseTo(101.5, 10);
    expect(t.exits[1]!.price).toBeCloseTo(103, 10);
    expect(t.exits[2]!.price).toBeCloseTo(105, 10);
    expect(t.exits[0]!.quantity).toBeCloseTo(qty * 0.3, 10);
    expect(t.exits[1]!.quantity).toBeCloseTo(qty * 0.4, 10);
    expect(t.exits[2]!.quantity).toBeCloseTo(qty * 0.3, 10);
    // Average exit 0.3 x 101.5 + 0.4 x 103 + 0.3 x 105 = 103.15.
    expect(t.exitPrice).toBeCloseTo(103.15, 10);
    expect(t.exitReason).toBe('take-profit');
    expect(t.pnl).toBeCloseTo(qty * 3.15 - qty * 100 * 0.001 - qty * 103.15 * 0.001, 9);
  });

  it('fills a take-profit at the better open when the open gaps through it', () => {
    const c = bars([flat(100), flat(100), [104, 104, 103, 103.5]]);
    const exits = { takeProfit: [{ at: 0.02, close: 1 }] };
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), simOptions({ fee: 0, exits }));
    expect(sim.trades[0]!.exitPrice).toBe(104);
  });

  it('trails the best high by the offset once the activation gain is reached, from the next bar on', () => {
    const c = bars([
      flat(100),
      [100, 101, 99.5, 100.5], // best 101: below the 102 activation
      [100.5, 104, 100.2, 103.5], // activates: trail 104 x 0.99 = 102.96 from the next bar
      [103.5, 105, 103, 104], // low 103 stays above 102.96; trail moves to 103.95 afterwards
      [104, 104.5, 103, 103.2], // low 103 <= 103.95: out at 103.95
      flat(103),
    ]);
    const exits = { trailing: { activation: 0.02, offset: 0.01 } };
    const sim = simulate(c, signalsAt(6, { enterLong: [0] }), simOptions({ fee: 0, exits }));
    const t = sim.trades[0]!;
    expect(t.exitReason).toBe('trailing-stop');
    expect(t.exitPrice).toBeCloseTo(103.95, 10);
    expect(t.exitTime).toBe(T0 + 4 * HOUR);
  });

  it('trails shorts by the best low', () => {
    const c = bars([flat(100), [100, 100.5, 97, 97.5], [97.5, 98.2, 97.2, 98]]);
    const exits = { trailing: { activation: 0.02, offset: 0.01 } };
    const sim = simulate(
      c,
      signalsAt(3, { enterShort: [0] }),
      simOptions({ fee: 0, direction: 'short', exits }),
    );
    // Best low 97 reached the 98 activation: trail 97 x 1.01 = 97.97, hit by the next bar's high 98.2.
    expect(sim.trades[0]!.exitReason).toBe('trailing-stop');
    expect(sim.trades[0]!.exitPrice).toBeCloseTo(97.97, 10);
  });

  it('closes at the open after the position has been held max-bars bars', () => {
    const c = bars([flat(100), flat(101), flat(102), flat(103), flat(104)]);
    const sim = simulate(c, signalsAt(5, { enterLong: [0] }), simOptions({ exits: { maxBars: 2 } }));
    const t = sim.trades[0]!;
    expect(t.exitReason).toBe('time');
    expect(t.exitTime).toBe(T0 + 3 * HOUR);
    expect(t.exitPrice).toBe(103);
    expect(t.bars).toBe(2);
  });

  it('uses the absolute stop and target a signal gives', () => {
    const c = bars([flat(100), [100, 100, 100, 100], [100, 100, 97, 98]]);
    const sim = simulate(c, signalsAt(3, { enterLong: [0], stop: { 0: 97.5 } }), simOptions({ fee: 0 }));
    expect(sim.trades[0]!.exitPrice).toBe(97.5);
    const up = bars([flat(100), [100, 100, 100, 100], [100, 108, 99, 101]]);
    const sim2 = simulate(up, signalsAt(3, { enterLong: [0], target: { 0: 107 } }), simOptions({ fee: 0 }));
    expect(sim2.trades[0]!.exitPrice).toBe(107);
    expect(sim2.trades[0]!.exitReason).toBe('take-profit');
  });
});

describe('simulate: sizing', () => {
  it('fixed fraction buys that share of an all-in position', () => {
    const c = bars([flat(100), flat(100), flat(100)]);
    const sim = simulate(
      c,
      signalsAt(3, { enterLong: [0] }),
      simOptions({ sizing: { mode: 'fraction', fraction: 0.25 } }),
    );
    expect(sim.trades[0]!.quantity).toBeCloseTo((0.25 * 10_000) / (100 * 1.001), 10);
  });

  it('fixed risk sizes so that the stop, fees included, loses that share of equity', () => {
    const c = bars([flat(100), [100, 100, 97, 98], flat(98)]);
    const opts = simOptions({ sizing: { mode: 'risk', risk: 0.01 }, exits: { stopLoss: 0.02 } });
    const sim = simulate(c, signalsAt(3, { enterLong: [0] }), opts);
    const t = sim.trades[0]!;
    // 1% of 10,000 = 100 at risk. Each unit loses the 2-point stop distance plus 0.1% of 100 at
    // entry and 0.1% of 98 at the stop: 2 + 0.1 + 0.098 = 2.198, so 100 / 2.198 units.
    expect(t.quantity).toBeCloseTo(100 / 2.198, 10);
    expect(t.exitPrice).toBe(98);
    expect(t.pnl).toBeCloseTo(-100, 9);
    expect(sim.equity[2]).toBeCloseTo(9_900, 9);
  });

  it('fixed risk counts the slippage of both market fills: a short stopped out loses the stated risk', () => {
    const c = bars([flat(100), [100, 103, 100, 102], flat(102)]);
    const opts = simOptions({
      sizing: { mode: 'risk', risk: 0.02 },
      exits: { stopLoss: 0.02 },
      direction: 'short',
      slippageBps: 10,
    });
    const sim = simulate(c, signalsAt(3, { enterShort: [0] }), opts);
    const t = sim.trades[0]!;
    // Sold at 100 x 0.999 = 99.9; stop 2% above: 101.898, bought back slipped at 101.898 x 1.001
    // = 101.999898. Per unit: 101.999898 - 99.9 = 2.099898 of price, plus fees of 0.0999 and
    // 0.101999898: 2.301797898. 2% of 10,000 = 200 at risk.
    expect(t.entryPrice).toBeCloseTo(99.9, 12);
    expect(t.exitPrice).toBeCloseTo(101.999898, 9);
    expect(t.quantity).toBeCloseTo(200 / 2.301797898, 9);
    expect(t.pnl).toBeCloseTo(-200, 9);
  });

  it('caps risk sizing at all-in and skips an entry whose stop is on the wrong side', () => {
    const c = bars([flat(100), flat(100), flat(100)]);
    const tight = simulate(
      c,
      signalsAt(3, { enterLong: [0] }),
      simOptions({ sizing: { mode: 'risk', risk: 0.2 }, exits: { stopLoss: 0.001 } }),
    );
    expect(tight.trades[0]!.quantity).toBeCloseTo(10_000 / (100 * 1.001), 10);
    const wrong = simulate(
      c,
      signalsAt(3, { enterLong: [0], stop: { 0: 101 } }),
      simOptions({ sizing: { mode: 'risk', risk: 0.01 } }),
    );
    expect(wrong.trades).toHaveLength(0);
    expect(wrong.skippedEntries).toBe(1);
  });
});
