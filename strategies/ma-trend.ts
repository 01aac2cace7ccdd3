/**
 * ma-trend, from the BTC accumulation bot: price against MA44 and MA125. The trend is up while the
 * close is above MA44 and MA44 is above MA125; enter long on the bar that trend begins, exit when the
 * close falls below MA125 or MA44 crosses below MA125. Simple or exponential averages.
 */
import { z } from 'zod';
import { ema, sma } from '../src/indicators/index.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'ma-trend',
  description: 'Long while price is above MA44 and MA44 is above MA125 (BTC accumulation)',
  params: z
    .object({
      fast: z.number().int().min(2).max(500).default(44).describe('fast moving average period'),
      slow: z.number().int().min(3).max(1000).default(125).describe('slow moving average period'),
      type: z.enum(['sma', 'ema']).default('sma').describe('moving average type'),
      stopLoss: z.number().min(0).max(0.5).default(0).describe('stop-loss fraction (0: none)'),
    })
    .strict()
    .refine((p) => p.fast < p.slow, { message: 'fast must be smaller than slow' }),
  timeframes: { main: '1d' },
  warmup: (p) => (p.type === 'ema' ? p.slow * 3 : p.slow),
  plot: (p) => ({
    [`${p.type}${p.fast}`]: { price: true, label: `${p.type.toUpperCase()} ${p.fast}` },
    [`${p.type}${p.slow}`]: { price: true, label: `${p.type.toUpperCase()} ${p.slow}` },
  }),
  exits: (p) => (p.stopLoss > 0 ? { stopLoss: p.stopLoss } : {}),
  signals(candles, p) {
    const close = candles.close;
    const average = p.type === 'ema' ? ema : sma;
    const fast = average(close, p.fast);
    const slow = average(close, p.slow);
    const s = emptySignals(candles.length);
    let wasUp = false;
    for (let t = 0; t < candles.length; t++) {
      const up = close[t]! > fast[t]! && fast[t]! > slow[t]!;
      if (up && !wasUp && t > 0) s.enterLong[t] = 1;
      if (close[t]! < slow[t]! || fast[t]! < slow[t]!) s.exitLong[t] = 1;
      wasUp = up;
    }
    s.indicators[`${p.type}${p.fast}`] = fast;
    s.indicators[`${p.type}${p.slow}`] = slow;
    return s;
  },
});
