/**
 * ma-accumulation (from the BTC accumulation bot): buy pull-backs in an up-trend, judged by price
 * against MA44 and MA125 (simple moving averages of closes) on 1d, 148m and 37m candles, all
 * resampled from 1m data by the same code in backtests, paper and live (37 is prime, so 1m is the
 * only source that serves 37m and 148m and 1d alike). Candles are bucketed from the Unix epoch.
 *
 * At each 1m bar, only candles closed by its close count:
 * - regime (1d): close above MA125, and for `conservative` above MA44 as well (`aggressive`: none);
 * - trend (148m): MA44 above MA125 (`aggressive`: close above MA125);
 * - trigger (37m): a 37m close back above its MA44 after the previous one was at or below it,
 *   the dip bought (`conservative` also wants that close above the 37m MA125);
 * - exit: a 148m close below its MA125 (`conservative`: a 37m close below its MA125), or the stop.
 * The MAs each decision used are its indicator lines, stored with every decision the engine makes.
 */
import { z } from 'zod';
import { sma } from '../src/indicators/index.js';
import { timeframeMs } from '../src/market/timeframe.js';
import type { InformativeSeries } from '../src/strategy/define.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

const FAST = 44;
const SLOW = 125;

export default defineStrategy({
  name: 'ma-accumulation',
  description: 'Buy 37m dips back above MA44 while the 148m MA44 > MA125 and the 1d close > MA125',
  params: z
    .object({
      preset: z
        .enum(['default', 'aggressive', 'conservative'])
        .default('default')
        .describe('default, aggressive (no 1d filter) or conservative (stricter filters and exit)'),
      stop: z.number().min(0).max(0.5).default(0.08).describe('stop-loss distance (0.08 = 8%; 0: none)'),
    })
    .strict(),
  timeframes: { main: '1m', trigger: '37m', trend: '148m', regime: '1d' },
  // MA125 must be formed on every timeframe the preset reads, counted in 1m bars.
  warmup: (p) =>
    ((SLOW + 1) * (p.preset === 'aggressive' ? timeframeMs('148m') : timeframeMs('1d'))) / 60_000,
  // The MAs on price; the closes are the candles' own (hidden), and the 1d MAs only where the preset reads them.
  plot: (p) => {
    const ma = (label: string) => ({ price: true, label }) as const;
    const daily = (label: string) => (p.preset === 'aggressive' ? 'hidden' : ma(label));
    return {
      close37m: 'hidden',
      ma44_37m: ma('MA44 37m'),
      ma125_37m: ma('MA125 37m'),
      close148m: 'hidden',
      ma44_148m: ma('MA44 148m'),
      ma125_148m: ma('MA125 148m'),
      close1d: 'hidden',
      ma44_1d: daily('MA44 1d'),
      ma125_1d: daily('MA125 1d'),
    };
  },
  exits: (p) => (p.stop > 0 ? { stopLoss: p.stop } : {}),
  signals(candles, p, ctx) {
    const n = candles.length;
    const s = emptySignals(n);
    const notes: Array<string | undefined> = new Array(n);
    const tfs = ctx.informative;
    const lines = (key: string) => {
      const info = tfs[key]!;
      return { info, fast: sma(info.candles.close, FAST), slow: sma(info.candles.close, SLOW) };
    };
    const trig = lines('trigger');
    const trend = lines('trend');
    const regime = lines('regime');
    // Each line mapped onto the 1m bars: the value of the last closed candle (NaN before one).
    const onBars = (info: InformativeSeries, v: Float64Array) => {
      const out = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        const k = info.index[t]!;
        out[t] = k >= 0 ? v[k]! : Number.NaN;
      }
      return out;
    };
    const ind = {
      close37m: onBars(trig.info, trig.info.candles.close),
      ma44_37m: onBars(trig.info, trig.fast),
      ma125_37m: onBars(trig.info, trig.slow),
      close148m: onBars(trend.info, trend.info.candles.close),
      ma44_148m: onBars(trend.info, trend.fast),
      ma125_148m: onBars(trend.info, trend.slow),
      close1d: onBars(regime.info, regime.info.candles.close),
      ma44_1d: onBars(regime.info, regime.fast),
      ma125_1d: onBars(regime.info, regime.slow),
    };
    const aggressive = p.preset === 'aggressive';
    const conservative = p.preset === 'conservative';
    for (let t = 1; t < n; t++) {
      const k = trig.info.index[t]!;
      // Decide once per 37m close: the bar where a new 37m candle became the last closed one.
      if (k < 1 || k === trig.info.index[t - 1]) continue;
      const c37 = trig.info.candles.close;
      const regimeOk =
        aggressive ||
        (ind.close1d[t]! > ind.ma125_1d[t]! && (!conservative || ind.close1d[t]! > ind.ma44_1d[t]!));
      const trendOk = aggressive
        ? ind.close148m[t]! > ind.ma125_148m[t]!
        : ind.ma44_148m[t]! > ind.ma125_148m[t]!;
      const dipBought = c37[k]! > trig.fast[k]! && c37[k - 1]! <= trig.fast[k - 1]!;
      const triggerOk = dipBought && (!conservative || c37[k]! > trig.slow[k]!);
      if (regimeOk && trendOk && triggerOk) {
        s.enterLong[t] = 1;
        const f = (x: number) => x.toFixed(2);
        notes[t] =
          `37m close ${f(c37[k]!)} back above MA44 ${f(trig.fast[k]!)}; ` +
          `148m close ${f(ind.close148m[t]!)}, MA44 ${f(ind.ma44_148m[t]!)}, MA125 ${f(ind.ma125_148m[t]!)}` +
          (aggressive
            ? ''
            : `; 1d close ${f(ind.close1d[t]!)}, MA44 ${f(ind.ma44_1d[t]!)}, MA125 ${f(ind.ma125_1d[t]!)}`);
      }
      const broken = conservative
        ? c37[k]! < trig.slow[k]!
        : ind.close148m[t]! < ind.ma125_148m[t]! && trend.info.index[t] !== trend.info.index[t - 1];
      if (broken) s.exitLong[t] = 1;
    }
    Object.assign(s.indicators, ind);
    return { ...s, notes };
  },
});
