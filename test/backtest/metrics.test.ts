import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../src/backtest/metrics.js';
import type { Simulation, Trade } from '../../src/backtest/types.js';
import { candlesFrom } from '../../src/market/types.js';

const DAY = 86_400_000;

describe('computeMetrics on a hand-made four-day run', () => {
  // Capital 100; equity at the four daily closes 100, 110, 99, 121; in the market on days 2 and 3.
  const closes = [10, 11, 9.9, 12.1];
  const candles = candlesFrom(
    closes.map((c, i) => ({ time: i * DAY, open: c, high: c, low: c, close: c, volume: 1 })),
  );
  const trade = (pnl: number, fees = 0.5) => ({ pnl, fees }) as Trade;
  const sim: Simulation = {
    trades: [trade(10), trade(-5), trade(20)],
    equity: Float64Array.of(100, 110, 99, 121),
    inMarket: Uint8Array.of(0, 1, 1, 0),
    skippedEntries: 0,
    belowMinimum: 0,
  };
  const m = computeMetrics(candles, sim, 100, DAY);

  it('returns, trade statistics and exposure', () => {
    expect(m.finalEquity).toBe(121);
    expect(m.totalReturn).toBeCloseTo(0.21, 12);
    expect(m.trades).toBe(3);
    expect(m.wins).toBe(2);
    expect(m.winRate).toBeCloseTo(2 / 3, 12);
    expect(m.profitFactor).toBeCloseTo(30 / 5, 12);
    expect(m.expectancy).toBeCloseTo(25 / 3, 12);
    expect(m.avgWin).toBe(15);
    expect(m.avgLoss).toBe(-5);
    expect(m.bestTrade).toBe(20);
    expect(m.worstTrade).toBe(-5);
    expect(m.totalFees).toBe(1.5);
    expect(m.exposure).toBe(0.5);
    expect(m.buyAndHoldReturn).toBeCloseTo(0.21, 12);
  });

  it('drawdown: 110 -> 99 is 10%, under water for one day', () => {
    expect(m.maxDrawdown).toBeCloseTo(0.1, 12);
    expect(m.maxDrawdownDurationMs).toBe(DAY);
  });

  it('Sharpe, Sortino, CAGR and Calmar from per-bar returns', () => {
    const r = [0, 0.1, 99 / 110 - 1, 121 / 99 - 1];
    const mean = (r[0]! + r[1]! + r[2]! + r[3]!) / 4;
    const sd = Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / 3);
    const downside = Math.sqrt((99 / 110 - 1) ** 2 / 4);
    expect(m.sharpe).toBeCloseTo((mean / sd) * Math.sqrt(365.25), 9);
    expect(m.sortino!).toBeCloseTo((mean / downside) * Math.sqrt(365.25), 9);
    const cagr = 1.21 ** (365.25 / 4) - 1; // four days: first open to last close
    expect(m.cagr / cagr).toBeCloseTo(1, 9);
    expect(m.calmar! / (cagr / 0.1)).toBeCloseTo(1, 9);
  });

  it('counts a trade that made exactly nothing as neither a win nor a loss', () => {
    const withEven: Simulation = { ...sim, trades: [trade(10), trade(-5), trade(0), trade(20)] };
    const e = computeMetrics(candles, withEven, 100, DAY);
    expect([e.trades, e.wins, e.losses]).toEqual([4, 2, 1]);
    // Win rate over decided trades: 2 of 3; the even trade dilutes neither it nor the average loss.
    expect(e.winRate).toBeCloseTo(2 / 3, 12);
    expect(e.avgLoss).toBe(-5);
    expect(e.profitFactor).toBeCloseTo(30 / 5, 12);
    // Expectancy is the average net result of every trade taken: 25 over 4.
    expect(e.expectancy).toBeCloseTo(25 / 4, 12);
    const onlyEven = computeMetrics(candles, { ...sim, trades: [trade(0)] }, 100, DAY);
    expect([onlyEven.wins, onlyEven.losses, onlyEven.winRate]).toEqual([0, 0, 0]);
    expect(onlyEven.profitFactor).toBeNull();
  });

  it('reports no profit factor, Sortino or Calmar where they are undefined', () => {
    const up: Simulation = {
      trades: [trade(5)],
      equity: Float64Array.of(100, 101, 102, 103),
      inMarket: new Uint8Array(4),
      skippedEntries: 0,
      belowMinimum: 0,
    };
    const u = computeMetrics(candles, up, 100, DAY);
    expect(u.profitFactor).toBeNull();
    expect(u.sortino).toBeNull();
    expect(u.calmar).toBeNull();
    expect(u.maxDrawdown).toBe(0);
  });
});
