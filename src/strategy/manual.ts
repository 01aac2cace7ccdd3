/**
 * manual: the run a person's trades by hand live in (/buy, /sell, a followed pasted signal). It never
 * signals by itself; each of its entries is a person's, confirmed by them, sized and checked by the
 * risk manager like any other, and managed by the same exit rules, stops and brokers. It is not
 * in strategies/: nobody starts it with /start or backtests it; /buy makes its runs.
 */
import { z } from 'zod';
import { defineStrategy, emptySignals } from './define.js';

export const MANUAL = defineStrategy({
  name: 'manual',
  description: 'Trades by hand: /buy and /sell make its entries; it never signals by itself',
  params: z.object({}).strict(),
  timeframes: { main: '1h' },
  warmup: () => 0,
  direction: 'both',
  signals(candles) {
    return emptySignals(candles.length);
  },
});
