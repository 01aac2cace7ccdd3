import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runBacktest } from '../../src/backtest/run.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { sliceCandles } from '../../src/market/types.js';
import { defineStrategy, emptySignals, type StrategyContext } from '../../src/strategy/define.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { SAMPLES } from '../helpers/fixtures.js';

const H = 3_600_000;
const candles = sliceCandles(loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`), 0, 2000);

describe('runBacktest', () => {
  it('gives a strategy its informative timeframe, resampled and aligned to closed candles only', () => {
    let seen: StrategyContext | undefined;
    const mtf = defineStrategy({
      name: 'mtf',
      description: 'records what it is given',
      params: z.object({}).strict(),
      timeframes: { main: '2h', htf: '8h' },
      warmup: () => 10,
      signals(c, _p, ctx) {
        seen = ctx;
        return emptySignals(c.length);
      },
    });
    runBacktest(mtf, {}, candles);
    const htf = seen!.informative.htf!;
    expect(htf.timeframe).toBe('8h');
    expect(seen!.timeframeMs).toBe(2 * H);
    for (let t = 0; t < candles.length; t++) {
      const j = htf.index[t]!;
      const barClose = candles.time[t]! + 2 * H;
      if (j >= 0) expect(htf.candles.time[j]! + 8 * H).toBeLessThanOrEqual(barClose);
      // and it is the latest such candle
      if (j + 1 < htf.candles.length) expect(htf.candles.time[j + 1]! + 8 * H).toBeGreaterThan(barClose);
    }
  });

  it('refuses an informative timeframe the data cannot serve', () => {
    const bad = defineStrategy({
      name: 'bad-tf',
      description: 'needs 3h from 2h data',
      params: z.object({}).strict(),
      timeframes: { main: '2h', htf: '3h' },
      warmup: () => 1,
      signals: (c) => emptySignals(c.length),
    });
    expect(() => runBacktest(bad, {}, candles)).toThrow(
      'bad-tf needs 3h candles (htf), which 2h data cannot serve; use data whose timeframe divides 3h',
    );
  });

  it('checks its settings and exit rules at the edge', async () => {
    const s = await loadStrategy('ema-cross');
    expect(() => runBacktest(s, {}, candles, { fee: 0.5 })).toThrow(
      'fee is 0.5; allowed: a fraction from 0 to 0.1 (0.001 = 0.1%)',
    );
    expect(() => runBacktest(s, {}, candles, { capital: 0 })).toThrow(
      'capital is 0; allowed: a positive amount',
    );
    expect(() => runBacktest(s, {}, candles, { exits: { stopLoss: 2 } })).toThrow(
      'stop-loss is 2; allowed: a fraction above 0 and below 1 (0.02 = 2%)',
    );
    expect(() =>
      runBacktest(s, {}, candles, {
        exits: {
          takeProfit: [
            { at: 0.03, close: 0.5 },
            { at: 0.01, close: 0.5 },
          ],
        },
      }),
    ).toThrow(/ascending/);
    expect(() =>
      runBacktest(s, {}, candles, {
        exits: {
          takeProfit: [
            { at: 0.01, close: 0.7 },
            { at: 0.02, close: 0.7 },
          ],
        },
      }),
    ).toThrow(/at most 100%/);
  });

  it('trades from tradeFrom on, with the same signals as the whole run', async () => {
    const s = await loadStrategy('ema-cross');
    const from = candles.time[1000]!;
    const r = runBacktest(s, {}, candles, { tradeFrom: from });
    expect(r.metrics.startTime).toBe(from);
    expect(r.metrics.bars).toBe(1000);
    expect(r.simulation.trades.every((t) => t.entryTime > from)).toBe(true);
    const whole = runBacktest(s, {}, candles);
    const firstEntry = r.simulation.trades[0]!.entryTime;
    expect(whole.simulation.trades.some((t) => t.entryTime === firstEntry)).toBe(true);
  });

  it('uses the strategy default exits, overridden key by key', async () => {
    const s = await loadStrategy('bb-breakout');
    const r = runBacktest(s, {}, candles, { exits: { stopLoss: 0.05 } });
    expect(r.exits).toEqual({ stopLoss: 0.05, trailing: { activation: 0.02, offset: 0.01 } });
  });
});
