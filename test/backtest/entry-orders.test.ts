import { describe, expect, it } from 'vitest';
import { parseEntry, runBacktest } from '../../src/backtest/run.js';
import { simulate } from '../../src/backtest/simulate.js';
import type { EntryOrders } from '../../src/backtest/types.js';
import emaCross from '../../strategies/ema-cross.js';
import { bars, flat, HOUR, signalsAt, simOptions, T0 } from '../helpers/candles.js';

const limit = (over: Partial<Extract<EntryOrders, { type: 'limit' }>> = {}): EntryOrders => ({
  type: 'limit',
  offset: 0.01,
  expiryBars: 3,
  ...over,
});

describe('limit and stop entries in the backtester', () => {
  it('fills a limit buy at its price when the low reaches it, with the maker fee', () => {
    // Signal at bar 0's close 100: a buy limit 1% below, at 99. Bar 1's low 99.5 misses; bar 2's 98.5 reaches it.
    const c = bars([flat(100), [100, 100.5, 99.5, 100], [100, 101, 98.5, 100], flat(100)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0] }),
      simOptions({ capital: 1000, fee: 0.001, maker: 0, entry: limit() }),
    );
    const t = sim.trades[0]!;
    expect(t.entryTime).toBe(T0 + 2 * HOUR);
    expect(t.entryPrice).toBe(99);
    // Sized at the dearer fee (0.1%): 1000 / (99 x 1.001); the maker fee of 0 is what it pays.
    const qty = 1000 / (99 * 1.001);
    expect(t.quantity).toBeCloseTo(qty, 10);
    // Out at the end, at the last close 100: the taker fee on the exit only.
    expect(t.pnl).toBeCloseTo(qty * 1 - qty * 100 * 0.001, 9);
    expect(sim.entryOrders).toEqual({ placed: 1, expired: 0, withdrawn: 0, working: 0 });
  });

  it('fills a limit buy at the open when the bar opens below its price', () => {
    const c = bars([flat(100), [98, 98.5, 97.5, 98], flat(98), flat(98)]);
    const sim = simulate(c, signalsAt(4, { enterLong: [0] }), simOptions({ fee: 0, entry: limit() }));
    expect(sim.trades[0]!.entryPrice).toBe(98);
    expect(sim.trades[0]!.entryTime).toBe(T0 + HOUR);
  });

  it('lets an unfilled limit expire after its bars, or enter at market after them with the fallback', () => {
    const c = bars([flat(100), flat(100), flat(100), flat(100), flat(100)]);
    const expired = simulate(
      c,
      signalsAt(5, { enterLong: [0] }),
      simOptions({ entry: limit({ expiryBars: 2 }) }),
    );
    expect(expired.trades).toHaveLength(0);
    expect(expired.entryOrders).toEqual({ placed: 1, expired: 1, withdrawn: 0, working: 0 });
    // Placed at bar 0's close, working in bars 1 and 2; the market entry is at bar 3's open.
    const fallback = simulate(
      c,
      signalsAt(5, { enterLong: [0] }),
      simOptions({ entry: limit({ expiryBars: 2, fallback: 'market' }) }),
    );
    expect(fallback.trades[0]!.entryTime).toBe(T0 + 3 * HOUR);
    expect(fallback.trades[0]!.entryPrice).toBe(100);
  });

  it('withdraws a working entry on an exit signal for its side, and ignores entry signals meanwhile', () => {
    const c = bars([flat(100), flat(100), flat(100), flat(100), flat(100)]);
    const sim = simulate(
      c,
      signalsAt(5, { enterLong: [0, 1], exitLong: [2] }),
      simOptions({ entry: limit({ expiryBars: 10 }) }),
    );
    expect(sim.trades).toHaveLength(0);
    expect(sim.entryOrders).toEqual({ placed: 1, expired: 0, withdrawn: 1, working: 0 });
  });

  it('after withdrawing a working buy on an exit signal, places the sell that signal makes (both sides)', () => {
    const c = bars([flat(100), flat(100), flat(100), [100, 101.5, 99.5, 100], flat(100)]);
    // Bar 0: a buy limit at 99. Bar 1: the cross back (exit long, enter short): the buy is withdrawn
    // and a sell limit 1% above bar 1's close, at 101, is placed; bar 3's high reaches it.
    const sim = simulate(
      c,
      signalsAt(5, { enterLong: [0], exitLong: [1], enterShort: [1] }),
      simOptions({ fee: 0, direction: 'both', entry: limit({ expiryBars: 5 }) }),
    );
    expect(sim.entryOrders).toEqual({ placed: 2, expired: 0, withdrawn: 1, working: 0 });
    expect(sim.trades).toHaveLength(1);
    expect(sim.trades[0]!).toMatchObject({ side: 'short', entryPrice: 101, entryTime: T0 + 3 * HOUR });
  });

  it('cancels the market fallback when an exit signal comes on the bar the order expires', () => {
    const c = bars([flat(100), flat(100), flat(100), flat(100), flat(100)]);
    // Works in bars 1 and 2, expires at bar 2's close, where the exit signal also comes: no entry.
    const sim = simulate(
      c,
      signalsAt(5, { enterLong: [0], exitLong: [2] }),
      simOptions({ entry: limit({ expiryBars: 2, fallback: 'market' }) }),
    );
    expect(sim.trades).toHaveLength(0);
    expect(sim.entryOrders).toEqual({ placed: 1, expired: 1, withdrawn: 1, working: 0 });
  });

  it('places no limit at or beyond the signal stop, and stops out at the open a fill that gapped through it', () => {
    // The signal's stop 99.5 is above the limit at 99: the order is not placed.
    const c = bars([flat(100), [100, 100, 98, 99], flat(99)]);
    const beyond = simulate(
      c,
      signalsAt(3, { enterLong: [0], stop: { 0: 99.5 } }),
      simOptions({ fee: 0, entry: limit() }),
    );
    expect(beyond.trades).toHaveLength(0);
    expect(beyond).toMatchObject({ skippedEntries: 1, beyondStop: 1 });
    expect(beyond.entryOrders!.placed).toBe(0);
    // Stop 98.5 below the limit at 99; bar 1 opens at 98 (through both): the limit fills at 98 and
    // the position is stopped out at that open, as the stop order sent after the fill would be.
    const gap = simulate(
      bars([flat(100), [98, 98.5, 97, 98], flat(98)]),
      signalsAt(3, { enterLong: [0], stop: { 0: 98.5 } }),
      simOptions({ fee: 0, entry: limit() }),
    );
    expect(gap.trades[0]!).toMatchObject({ entryPrice: 98, exitPrice: 98, exitReason: 'stop', bars: 1 });
  });

  it('counts an order still working after the last bar', () => {
    const sim = simulate(
      bars([flat(100), flat(100), flat(100)]),
      signalsAt(3, { enterLong: [0] }),
      simOptions({ entry: limit({ expiryBars: 5 }) }),
    );
    expect(sim.entryOrders).toEqual({ placed: 1, expired: 0, withdrawn: 0, working: 1 });
  });

  it('fills a stop buy when the high reaches it, slipped as the market order it becomes', () => {
    // Stop 1% above the close 100: 101. Bar 1's high 101.5 triggers it; 10 bps of slippage: 101.101.
    const c = bars([flat(100), [100, 101.5, 99.5, 101], flat(101), flat(101)]);
    const sim = simulate(
      c,
      signalsAt(4, { enterLong: [0] }),
      simOptions({ slippageBps: 10, entry: { type: 'stop', offset: 0.01, expiryBars: 2 } }),
    );
    expect(sim.trades[0]!.entryPrice).toBeCloseTo(101.101, 10);
    expect(sim.trades[0]!.entryTime).toBe(T0 + HOUR);
    // A gap over the level fills at the open, slipped.
    const gap = simulate(
      bars([flat(100), [102, 103, 101.5, 102], flat(102)]),
      signalsAt(3, { enterLong: [0] }),
      simOptions({ slippageBps: 10, entry: { type: 'stop', offset: 0.01, expiryBars: 2 } }),
    );
    expect(gap.trades[0]!.entryPrice).toBeCloseTo(102 * 1.001, 10);
  });

  it('assumes the worse in the fill bar: the stop can follow the fill, a take-profit waits for the next bar', () => {
    const exits = { stopLoss: 0.02, takeProfit: [{ at: 0.02, close: 1 }] };
    // Filled at 99: stop 97.02, target 100.98. The fill bar's high 101.5 came (maybe) before the fill.
    const stopped = simulate(
      bars([flat(100), flat(100), [100, 101.5, 96.9, 100], flat(100)]),
      signalsAt(4, { enterLong: [1] }),
      simOptions({ fee: 0, exits, entry: limit() }),
    );
    expect(stopped.trades[0]!.exitReason).toBe('stop');
    expect(stopped.trades[0]!.exitPrice).toBeCloseTo(97.02, 10);
    expect(stopped.trades[0]!.exitTime).toBe(T0 + 2 * HOUR);
    const waited = simulate(
      bars([flat(100), flat(100), [100, 101.5, 98.8, 100], [100, 101, 99.5, 100], flat(100)]),
      signalsAt(5, { enterLong: [1] }),
      simOptions({ fee: 0, exits, entry: limit() }),
    );
    expect(waited.trades[0]!.exitReason).toBe('take-profit');
    expect(waited.trades[0]!.exitTime).toBe(T0 + 3 * HOUR);
    expect(waited.trades[0]!.exitPrice).toBeCloseTo(100.98, 10);
  });

  it('parses entry options and refuses bad ones in one line', () => {
    expect(parseEntry('market')).toEqual({ type: 'market' });
    expect(parseEntry('limit:0.2%:3')).toEqual({ type: 'limit', offset: 0.002, expiryBars: 3 });
    expect(parseEntry('limit:0.002:3:market')).toEqual({
      type: 'limit',
      offset: 0.002,
      expiryBars: 3,
      fallback: 'market',
    });
    expect(parseEntry('stop:1%:2')).toEqual({ type: 'stop', offset: 0.01, expiryBars: 2 });
    expect(() => parseEntry('iceberg')).toThrow(
      /entry "iceberg" is not valid; allowed: market, limit:OFFSET:BARS/,
    );
    expect(() => parseEntry('limit:30%:3')).toThrow(
      /entry "limit:30%:3": the offset 30% is out of range; allowed: 0 to 20% \(0.2\)/,
    );
    expect(() => parseEntry('limit:1%:0')).toThrow(/works 0 bars; allowed: a whole number from 1 to 1000/);
    expect(() => parseEntry('stop:1%:2:market')).toThrow(/only a limit entry falls back to market/);
  });

  it('keeps the entry orders on the result of a backtest', () => {
    const c = bars(Array.from({ length: 80 }, (_, i) => flat(100 + 10 * Math.sin(i / 6))));
    const r = runBacktest(emaCross, { fast: 3, slow: 8 }, c, { entry: limit({ offset: 0.002 }) });
    expect(r.entry).toEqual({ type: 'limit', offset: 0.002, expiryBars: 3 });
    expect(r.simulation.entryOrders!.placed).toBeGreaterThan(0);
  });
});
