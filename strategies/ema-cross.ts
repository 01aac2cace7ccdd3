/**
 * ema-cross, with a published contract so anyone can check its results independently:
 * EMAs seeded like TA-Lib; enter long when fast[t] > slow[t] and fast[t-1] <= slow[t-1] at bar t's
 * close; exit when fast[t] < slow[t] and fast[t-1] >= slow[t-1]; both fill at bar t+1's open.
 * Long-only by default; with direction "both" the opposite crosses enter and exit shorts.
 */
import { z } from 'zod';
import { crossedAbove, crossedBelow, ema } from '../src/indicators/index.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'ema-cross',
  description: 'Long when the fast EMA crosses above the slow EMA, out when it crosses back below',
  params: z
    .object({
      fast: z.number().int().min(2).max(500).default(12).describe('fast EMA period'),
      slow: z.number().int().min(3).max(1000).default(26).describe('slow EMA period'),
    })
    .strict()
    .refine((p) => p.fast < p.slow, { message: 'fast must be smaller than slow' }),
  timeframes: { main: '1h' },
  warmup: (p) => p.slow * 3,
  plot: (p) => ({
    [`ema${p.fast}`]: { price: true, label: `EMA ${p.fast}` },
    [`ema${p.slow}`]: { price: true, label: `EMA ${p.slow}` },
  }),
  signals(candles, p) {
    const fast = ema(candles.close, p.fast);
    const slow = ema(candles.close, p.slow);
    const s = emptySignals(candles.length);
    for (let t = 1; t < candles.length; t++) {
      if (crossedAbove(fast, slow, t)) s.enterLong[t] = s.exitShort[t] = 1;
      else if (crossedBelow(fast, slow, t)) s.exitLong[t] = s.enterShort[t] = 1;
    }
    s.indicators[`ema${p.fast}`] = fast;
    s.indicators[`ema${p.slow}`] = slow;
    return s;
  },
});
