/**
 * The momentum score (from the momentum scanner's spec), shared by the `momentum` strategy and the
 * market scanner so both rank a market the same way. Per bar, from bars up to that bar only:
 *
 * Directional votes (+1 bullish, -1 bearish, 0 neither), eight in all:
 * - RSI(14): 50..70 bullish, 30..50 bearish (at or beyond 70/30 it is stretched: no vote);
 * - MACD(12,26,9): line above signal with the histogram rising, or below with it falling;
 * - ROC over 1, 5 and 15 bars beyond +-0.5 %, +-1.0 %, +-1.5 % (one vote each);
 * - OBV above / below its value `obvBars` bars ago;
 * - close above / below the session VWAP;
 * - close beyond the upper / lower Bollinger band (20, 2): a breakout.
 * Confirmations, each adding one point on the side the votes lean to:
 * - ADX(14) at or above `adxMin` (a trend, not a range);
 * - volume above `volumeSurge` x its 10-bar SMA, or volume ROC(10) above `volumeRoc`.
 *
 * The score runs from -10 to +10; strength is |score| / 10. ATR(14) as a share of the close is the
 * volatility a trade would face; entries skip bars where it exceeds `maxAtr`.
 */
import { adx, atr, bbands, ema, macd, obv, roc, rsi, sma, vwap } from '../indicators/index.js';
import type { Candles } from '../market/types.js';

export interface MomentumParams {
  rsiPeriod: number;
  rsiHigh: number;
  rsiLow: number;
  rocThresholds: readonly [number, number, number];
  adxMin: number;
  volumeSurge: number;
  volumeRoc: number;
  obvBars: number;
  /** EMA periods for the optional trend filter (0: off). */
  trendFast: number;
  trendSlow: number;
}

export const MOMENTUM_DEFAULTS: MomentumParams = {
  rsiPeriod: 14,
  rsiHigh: 70,
  rsiLow: 30,
  rocThresholds: [0.5, 1.0, 1.5],
  adxMin: 25,
  volumeSurge: 1.5,
  volumeRoc: 50,
  obvBars: 5,
  trendFast: 0,
  trendSlow: 0,
};

/** The ROC look-backs, in bars, that the thresholds belong to. */
export const ROC_PERIODS = [1, 5, 15] as const;
export const MAX_SCORE = 10;

export interface MomentumSeries {
  score: Float64Array;
  rsi: Float64Array;
  macd: Float64Array;
  macdSignal: Float64Array;
  macdHistogram: Float64Array;
  roc1: Float64Array;
  roc5: Float64Array;
  roc15: Float64Array;
  adx: Float64Array;
  obv: Float64Array;
  volumeSma: Float64Array;
  volumeRoc: Float64Array;
  vwap: Float64Array;
  bbUpper: Float64Array;
  bbMiddle: Float64Array;
  bbLower: Float64Array;
  /** ATR(14) / close. */
  atrPct: Float64Array;
  /** 1 where the trend filter allows longs, -1 shorts, 0 neither; all 0 when off. */
  trend: Int8Array;
}

const sign = (x: number): -1 | 0 | 1 => (x > 0 ? 1 : x < 0 ? -1 : 0);

/** All indicator lines and the score for every bar. */
export function momentumSeries(c: Candles, p: MomentumParams = MOMENTUM_DEFAULTS): MomentumSeries {
  const n = c.length;
  const { close, high, low, volume } = c;
  const r = rsi(close, p.rsiPeriod);
  const m = macd(close, 12, 26, 9);
  const rocs = ROC_PERIODS.map((k) => roc(close, k));
  const a = adx(high, low, close, 14);
  const o = obv(close, volume);
  const vs = sma(volume, 10);
  const vr = roc(volume, 10);
  const vw = vwap(high, low, close, volume, c.time);
  const bb = bbands(close, 20, 2);
  const range = atr(high, low, close, 14);
  const atrPct = new Float64Array(n);
  for (let t = 0; t < n; t++) atrPct[t] = range[t]! / close[t]!;
  const trend = new Int8Array(n);
  if (p.trendFast > 0 && p.trendSlow > 0) {
    const f = ema(close, p.trendFast);
    const s = ema(close, p.trendSlow);
    for (let t = 0; t < n; t++) trend[t] = f[t]! > s[t]! ? 1 : f[t]! < s[t]! ? -1 : 0;
  }
  const series: MomentumSeries = {
    score: new Float64Array(n).fill(Number.NaN),
    rsi: r,
    macd: m.macd,
    macdSignal: m.signal,
    macdHistogram: m.histogram,
    roc1: rocs[0]!,
    roc5: rocs[1]!,
    roc15: rocs[2]!,
    adx: a,
    obv: o,
    volumeSma: vs,
    volumeRoc: vr,
    vwap: vw,
    bbUpper: bb.upper,
    bbMiddle: bb.middle,
    bbLower: bb.lower,
    atrPct,
    trend,
  };
  for (let t = 1; t < n; t++) {
    const v = momentumVotes(series, c, t, p);
    if (v) series.score[t] = scoreOf(v);
  }
  return series;
}

/** The rules, in the order reasons are listed. */
export const MOMENTUM_RULES = [
  'rsi',
  'macd',
  'roc1',
  'roc5',
  'roc15',
  'obv',
  'vwap',
  'bands',
  'adx',
  'volume',
] as const;
export type MomentumRule = (typeof MOMENTUM_RULES)[number];
export type MomentumVotes = Record<MomentumRule, -1 | 0 | 1>;

/** Each rule's vote at bar t (undefined while the indicators warm up). */
export function momentumVotes(
  s: MomentumSeries,
  c: Candles,
  t: number,
  p: MomentumParams = MOMENTUM_DEFAULTS,
): MomentumVotes | undefined {
  if (t < 1 || Number.isNaN(s.rsi[t]!) || Number.isNaN(s.macdHistogram[t - 1]!) || Number.isNaN(s.roc15[t]!))
    return undefined;
  const close = c.close[t]!;
  const ri = s.rsi[t]!;
  const h = s.macdHistogram[t]!;
  const dh = h - s.macdHistogram[t - 1]!;
  const beyond = (x: number, k: number) => (x > p.rocThresholds[k]! ? 1 : x < -p.rocThresholds[k]! ? -1 : 0);
  const v: MomentumVotes = {
    rsi: ri > 50 && ri < p.rsiHigh ? 1 : ri < 50 && ri > p.rsiLow ? -1 : 0,
    macd: h > 0 && dh > 0 ? 1 : h < 0 && dh < 0 ? -1 : 0,
    roc1: beyond(s.roc1[t]!, 0),
    roc5: beyond(s.roc5[t]!, 1),
    roc15: beyond(s.roc15[t]!, 2),
    obv: t >= p.obvBars ? sign(s.obv[t]! - s.obv[t - p.obvBars]!) : 0,
    vwap: sign(close - s.vwap[t]!),
    bands: close > s.bbUpper[t]! ? 1 : close < s.bbLower[t]! ? -1 : 0,
    adx: 0,
    volume: 0,
  };
  // Confirmations add a point on the side the directional votes lean to.
  const lean = sign(v.rsi + v.macd + v.roc1 + v.roc5 + v.roc15 + v.obv + v.vwap + v.bands);
  if (s.adx[t]! >= p.adxMin) v.adx = lean;
  if (c.volume[t]! > p.volumeSurge * s.volumeSma[t]! || s.volumeRoc[t]! > p.volumeRoc) v.volume = lean;
  return v;
}

export function scoreOf(v: MomentumVotes): number {
  let total = 0;
  for (const r of MOMENTUM_RULES) total += v[r];
  return total;
}

/** Why bar t scores as it does: each rule that voted, in words ("RSI 62", "ROC5 +1.3%", "ADX 31"). */
export function momentumReasons(
  s: MomentumSeries,
  c: Candles,
  t: number,
  p: MomentumParams = MOMENTUM_DEFAULTS,
): string[] {
  const v = momentumVotes(s, c, t, p);
  if (!v) return ['warming up'];
  const out: string[] = [];
  const ri = s.rsi[t]!;
  if (v.rsi !== 0) out.push(`RSI ${ri.toFixed(0)}`);
  else if (ri >= p.rsiHigh) out.push(`RSI ${ri.toFixed(0)} overbought`);
  else if (ri <= p.rsiLow) out.push(`RSI ${ri.toFixed(0)} oversold`);
  if (v.macd !== 0) out.push(v.macd > 0 ? 'MACD rising' : 'MACD falling');
  const rocs = [s.roc1, s.roc5, s.roc15];
  ROC_PERIODS.forEach((k, i) => {
    const x = rocs[i]![t]!;
    if (v[`roc${k}`] !== 0) out.push(`ROC${k} ${x > 0 ? '+' : ''}${x.toFixed(1)}%`);
  });
  if (v.obv !== 0) out.push(v.obv > 0 ? 'OBV up' : 'OBV down');
  if (v.vwap !== 0) out.push(v.vwap > 0 ? 'above VWAP' : 'below VWAP');
  if (v.bands !== 0) out.push(v.bands > 0 ? 'above upper band' : 'below lower band');
  if (v.adx !== 0) out.push(`ADX ${s.adx[t]!.toFixed(0)}`);
  if (v.volume !== 0)
    out.push(
      c.volume[t]! > p.volumeSurge * s.volumeSma[t]!
        ? `volume ${(c.volume[t]! / s.volumeSma[t]!).toFixed(1)}x avg`
        : `volume +${s.volumeRoc[t]!.toFixed(0)}% over 10 bars`,
    );
  return out;
}
