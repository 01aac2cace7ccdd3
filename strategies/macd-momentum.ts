/**
 * macd-momentum: ride momentum when the MACD line crosses above its signal line with the histogram
 * turning positive, in the direction of the long-term EMA trend. Out when MACD crosses back below.
 * The stop sits an ATR multiple below the signal bar's close, so it adapts to volatility.
 */
import { z } from 'zod';
import { atr, crossedAbove, crossedBelow, ema, macd } from '../src/indicators/index.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'macd-momentum',
  description: 'Long on a MACD cross above its signal in an up-trend, with an ATR stop',
  params: z
    .object({
      fast: z.number().int().min(2).max(200).default(12).describe('MACD fast EMA'),
      slow: z.number().int().min(3).max(400).default(26).describe('MACD slow EMA'),
      signal: z.number().int().min(2).max(100).default(9).describe('MACD signal EMA'),
      trend: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .default(200)
        .describe('trade only with the EMA of this period (0: off)'),
      atrPeriod: z.number().int().min(2).max(200).default(14).describe('ATR period for the stop'),
      atrStop: z.number().min(0).max(20).default(2.5).describe('stop distance in ATRs (0: no stop)'),
    })
    .strict()
    .refine((p) => p.fast < p.slow, { message: 'fast must be smaller than slow' }),
  timeframes: { main: '4h' },
  warmup: (p) => Math.max(p.slow + p.signal, p.trend) * 2,
  plot: (p) => ({
    macd: { panel: 'MACD', label: `MACD ${p.fast},${p.slow}` },
    macdSignal: { panel: 'MACD', label: `Signal ${p.signal}` },
    macdHistogram: { panel: 'MACD', label: 'Histogram', bars: true },
    [`ema${p.trend}`]: { price: true, label: `EMA ${p.trend}` },
  }),
  signals(candles, p) {
    const { close, high, low } = candles;
    const m = macd(close, p.fast, p.slow, p.signal);
    const trend = p.trend > 0 ? ema(close, p.trend) : undefined;
    const range = atr(high, low, close, p.atrPeriod);
    const s = emptySignals(candles.length, true);
    for (let t = 1; t < candles.length; t++) {
      const up = !trend || close[t]! > trend[t]!;
      const down = !trend || close[t]! < trend[t]!;
      if (up && crossedAbove(m.macd, m.signal, t)) {
        s.enterLong[t] = 1;
        if (p.atrStop > 0) s.stop![t] = close[t]! - p.atrStop * range[t]!;
      } else if (down && crossedBelow(m.macd, m.signal, t)) {
        s.enterShort[t] = 1;
        if (p.atrStop > 0) s.stop![t] = close[t]! + p.atrStop * range[t]!;
      }
      if (crossedBelow(m.macd, m.signal, t)) s.exitLong[t] = 1;
      if (crossedAbove(m.macd, m.signal, t)) s.exitShort[t] = 1;
    }
    s.indicators.macd = m.macd;
    s.indicators.macdSignal = m.signal;
    s.indicators.macdHistogram = m.histogram;
    if (trend) s.indicators[`ema${p.trend}`] = trend;
    return s;
  },
});
