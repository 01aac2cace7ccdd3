/**
 * rsi-reversion: buy the bounce out of oversold. Enter long when RSI crosses back above the oversold
 * level (optionally only while price is above a long SMA), exit when RSI reaches the exit level.
 * With direction "both", shorts mirror it from overbought. A 5% stop and a 48-bar time exit by default.
 * With `dcaTimes`, it buys the dip further: the position is sized whole, the first fill takes an equal
 * share, and each add rests `dcaStep` further down; the stop follows the average entry.
 */
import { z } from 'zod';
import { rsi, sma } from '../src/indicators/index.js';
import { dcaLevels, defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'rsi-reversion',
  description: 'Long when RSI climbs back out of oversold, out when it reaches the exit level',
  params: z
    .object({
      period: z.number().int().min(2).max(100).default(14).describe('RSI period'),
      oversold: z.number().min(1).max(49).default(30).describe('RSI level that marks oversold'),
      overbought: z.number().min(51).max(99).default(70).describe('RSI level that marks overbought'),
      exitLevel: z
        .number()
        .min(1)
        .max(99)
        .default(55)
        .describe('RSI level at which a long exits (a short at 100 - it)'),
      trend: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .default(0)
        .describe('only trade with the SMA of this period (0: off)'),
      stopLoss: z.number().min(0).max(0.5).default(0.05).describe('stop-loss fraction (0: none)'),
      maxBars: z
        .number()
        .int()
        .min(0)
        .max(10000)
        .default(48)
        .describe('close after this many bars (0: never)'),
      dcaTimes: z
        .number()
        .int()
        .min(0)
        .max(10)
        .default(0)
        .describe('adds after the first fill, each dcaStep further against it (0: none)'),
      dcaStep: z.number().min(0.001).max(0.2).default(0.02).describe('distance between adds (fraction)'),
    })
    .strict()
    .refine((p) => p.exitLevel > p.oversold, { message: 'exitLevel must be above oversold' })
    .refine((p) => p.dcaTimes * p.dcaStep < 1, { message: 'dcaTimes x dcaStep must be under 1 (100%)' }),
  timeframes: { main: '1h' },
  warmup: (p) => Math.max(p.period * 4, p.trend),
  plot: (p) => ({
    [`rsi${p.period}`]: {
      panel: 'RSI',
      label: `RSI ${p.period}`,
      min: 0,
      max: 100,
      levels: [p.oversold, p.overbought],
    },
    [`sma${p.trend}`]: { price: true, label: `SMA ${p.trend}` },
  }),
  exits: (p) => ({
    ...(p.stopLoss > 0 ? { stopLoss: p.stopLoss } : {}),
    ...(p.maxBars > 0 ? { maxBars: p.maxBars } : {}),
    ...(p.dcaTimes > 0 ? { adds: dcaLevels(p.dcaTimes, p.dcaStep) } : {}),
  }),
  signals(candles, p) {
    const r = rsi(candles.close, p.period);
    const trend = p.trend > 0 ? sma(candles.close, p.trend) : undefined;
    const close = candles.close;
    const s = emptySignals(candles.length);
    for (let t = 1; t < candles.length; t++) {
      const now = r[t]!;
      const before = r[t - 1]!;
      const upTrend = !trend || close[t]! > trend[t]!;
      const downTrend = !trend || close[t]! < trend[t]!;
      if (upTrend && before <= p.oversold && now > p.oversold) s.enterLong[t] = 1;
      if (downTrend && before >= p.overbought && now < p.overbought) s.enterShort[t] = 1;
      if (now >= p.exitLevel) s.exitLong[t] = 1;
      if (now <= 100 - p.exitLevel) s.exitShort[t] = 1;
    }
    s.indicators[`rsi${p.period}`] = r;
    if (trend) s.indicators[`sma${p.trend}`] = trend;
    return s;
  },
});
