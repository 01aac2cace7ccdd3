/**
 * bb-breakout: a close above the upper Bollinger Band on above-average volume starts a long; it ends
 * when price closes back below the middle band, or on the trailing stop (on by default: it activates
 * at +2% and trails the best high by 1%) or the stop-loss.
 */
import { z } from 'zod';
import { bbands, volumeSma } from '../src/indicators/index.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'bb-breakout',
  description: 'Long when price closes above the upper Bollinger Band on strong volume',
  params: z
    .object({
      period: z.number().int().min(2).max(500).default(20).describe('Bollinger period'),
      stdDev: z.number().min(0.5).max(5).default(2).describe('band width in standard deviations'),
      volumePeriod: z.number().int().min(1).max(500).default(20).describe('volume SMA period'),
      volumeFactor: z
        .number()
        .min(0)
        .max(10)
        .default(1.5)
        .describe('volume must exceed its SMA times this (0: off)'),
      stopLoss: z.number().min(0).max(0.5).default(0.03).describe('stop-loss fraction (0: none)'),
      trailActivation: z
        .number()
        .min(0)
        .max(1)
        .default(0.02)
        .describe('trailing stop activates after this gain (fraction)'),
      trailOffset: z
        .number()
        .min(0)
        .max(0.5)
        .default(0.01)
        .describe('trailing stop distance (fraction, 0: no trailing stop)'),
    })
    .strict(),
  timeframes: { main: '1h' },
  warmup: (p) => Math.max(p.period, p.volumePeriod) + 1,
  plot: () => ({
    bbUpper: { price: true, label: 'BB upper' },
    bbMiddle: { price: true, label: 'BB middle' },
    bbLower: { price: true, label: 'BB lower' },
  }),
  exits: (p) => ({
    ...(p.stopLoss > 0 ? { stopLoss: p.stopLoss } : {}),
    ...(p.trailOffset > 0 ? { trailing: { activation: p.trailActivation, offset: p.trailOffset } } : {}),
  }),
  signals(candles, p) {
    const { close, volume } = candles;
    const bands = bbands(close, p.period, p.stdDev);
    const volAvg = volumeSma(volume, p.volumePeriod);
    const s = emptySignals(candles.length);
    for (let t = 1; t < candles.length; t++) {
      const strongVolume = p.volumeFactor === 0 || volume[t]! > p.volumeFactor * volAvg[t]!;
      if (strongVolume && close[t]! > bands.upper[t]! && close[t - 1]! <= bands.upper[t - 1]!)
        s.enterLong[t] = 1;
      if (strongVolume && close[t]! < bands.lower[t]! && close[t - 1]! >= bands.lower[t - 1]!)
        s.enterShort[t] = 1;
      if (close[t]! < bands.middle[t]!) s.exitLong[t] = 1;
      if (close[t]! > bands.middle[t]!) s.exitShort[t] = 1;
    }
    s.indicators.bbUpper = bands.upper;
    s.indicators.bbMiddle = bands.middle;
    s.indicators.bbLower = bands.lower;
    return s;
  },
});
