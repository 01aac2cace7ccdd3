/**
 * The ema-cross contract, checked by an independent implementation written here from the README's
 * words (plain arrays, its own CSV reading and EMA), against bosun's backtest of the real 2h sample.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { resultJson } from '../../src/backtest/summary.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { SAMPLES } from '../helpers/fixtures.js';

const FILE = `${SAMPLES}binance_BTC-USDT_2h.csv`;

function independentEmaCross(fastN: number, slowN: number, fee: number, capital: number) {
  const rows = readFileSync(FILE, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
  const open = rows.map((r) => r[1]!);
  const close = rows.map((r) => r[4]!);
  const time = rows.map((r) => r[0]!);
  const emaOf = (n: number) => {
    const out: number[] = new Array(close.length).fill(Number.NaN);
    let prev = close.slice(0, n).reduce((a, b) => a + b, 0) / n;
    out[n - 1] = prev;
    for (let i = n; i < close.length; i++) out[i] = prev = (close[i]! - prev) * (2 / (n + 1)) + prev;
    return out;
  };
  const fast = emaOf(fastN);
  const slow = emaOf(slowN);
  let cash = capital;
  let qty = 0;
  let entry = 0;
  const trades: Array<{
    entryTime: number;
    exitTime: number;
    entryPrice: number;
    exitPrice: number;
    pnl: number;
  }> = [];
  let entryTime = 0;
  const n = close.length;
  for (let t = 1; t < n - 1; t++) {
    const up = fast[t]! > slow[t]! && fast[t - 1]! <= slow[t - 1]!;
    const down = fast[t]! < slow[t]! && fast[t - 1]! >= slow[t - 1]!;
    if (qty === 0 && up) {
      entry = open[t + 1]!;
      qty = cash / (entry * (1 + fee));
      cash -= qty * entry * (1 + fee);
      entryTime = time[t + 1]!;
    } else if (qty > 0 && down) {
      const exit = open[t + 1]!;
      cash += qty * exit * (1 - fee);
      trades.push({
        entryTime,
        exitTime: time[t + 1]!,
        entryPrice: entry,
        exitPrice: exit,
        pnl: qty * (exit - entry) - qty * entry * fee - qty * exit * fee,
      });
      qty = 0;
    }
  }
  if (qty > 0) {
    const exit = close[n - 1]!;
    cash += qty * exit * (1 - fee);
    trades.push({
      entryTime,
      exitTime: time[n - 1]!,
      entryPrice: entry,
      exitPrice: exit,
      pnl: qty * (exit - entry) - qty * entry * fee - qty * exit * fee,
    });
  }
  return { trades, finalEquity: cash };
}

describe('ema-cross contract on the real BTC/USDT 2h sample', async () => {
  const strategy = await loadStrategy('ema-cross');
  const candles = loadCandlesFile(FILE);

  it.each([
    [12, 26],
    [9, 21],
  ])('fast %i / slow %i: every trade and the final equity agree to the cent', (fast, slow) => {
    const expected = independentEmaCross(fast, slow, 0.001, 10_000);
    const r = runBacktest(strategy, { fast, slow }, candles);
    expect(r.simulation.trades.length).toBe(expected.trades.length);
    expect(expected.trades.length).toBeGreaterThan(100);
    r.simulation.trades.forEach((t, k) => {
      const e = expected.trades[k]!;
      expect([t.entryTime, t.exitTime, t.entryPrice, t.exitPrice]).toEqual([
        e.entryTime,
        e.exitTime,
        e.entryPrice,
        e.exitPrice,
      ]);
      expect(Math.abs(t.pnl - e.pnl)).toBeLessThan(0.005);
    });
    expect(Math.abs(r.metrics.finalEquity - expected.finalEquity)).toBeLessThan(0.005);
    expect(r.simulation.trades.at(-1)!.exitReason === 'end').toBe(
      expected.trades.at(-1)!.exitTime === candles.time[candles.length - 1],
    );
  });

  it('gives the same result, to the cent and to the bit, on every run', () => {
    const info = { count: candles.length, timeframe: '2h', start: 0, end: 0, source: 'x' };
    const a = JSON.stringify(resultJson(runBacktest(strategy, {}, candles), info));
    const b = JSON.stringify(resultJson(runBacktest(strategy, {}, loadCandlesFile(FILE)), info));
    expect(a).toBe(b);
  });
});
