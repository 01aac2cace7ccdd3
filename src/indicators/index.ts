/**
 * Technical indicators: arrays in, arrays of the same length out, NaN during warm-up.
 *
 * Each function reproduces TA-Lib 0.4 (default compatibility, no unstable period): the first non-NaN
 * index is TA-Lib's lookback, and the arithmetic follows TA-Lib's order of operations (running sums,
 * SMA-seeded EMAs, Wilder smoothing, its zero guards), so values agree to ~1e-12 relative, well inside
 * the 1e-9 the parity tests demand against `test/fixtures/talib/`.
 *
 * `technicalindicators` was measured against the same reference and does not meet that bar for RSI
 * (rounded to 2 decimals), MACD (seeded differently), OBV (starts at 0) and others, and its
 * object-per-value outputs are slow; so these are written over Float64Arrays.
 *
 * Functions over a single series (sma, ema, rsi, macd, bbands, roc, stddev) skip leading NaNs, so they
 * can be chained: `ema(rsi(close, 14), 9)`.
 *
 * @example
 * const fast = ema(candles.close, 12);
 * const { macd: line, signal } = macd(candles.close, 12, 26, 9);
 */
import { badInput } from '../errors.js';
import { DAY } from '../market/timeframe.js';

export type Series = ArrayLike<number>;

/** TA-Lib's TA_IS_ZERO: |v| < 1e-8. */
const isZero = (v: number) => v > -0.00000001 && v < 0.00000001;

function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}

function checkPeriod(fn: string, name: string, value: number, min = 1, max = 100_000): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${fn}: ${name} is ${value}; allowed: a whole number from ${min} to ${max}`);
  }
}

/** Index of the first non-NaN value (-1 if none). */
export function firstValid(values: Series): number {
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]!)) return i;
  return -1;
}

/** Simple moving average. First value at index period-1. */
export function sma(values: Series, period: number): Float64Array {
  checkPeriod('sma', 'period', period);
  const n = values.length;
  const out = nanArray(n);
  const start = firstValid(values);
  if (start < 0 || n - start < period) return out;
  let total = 0;
  let i = start;
  for (; i < start + period - 1; i++) total += values[i]!;
  let trailing = start;
  for (; i < n; i++) {
    total += values[i]!;
    const sum = total;
    total -= values[trailing++]!;
    out[i] = sum / period;
  }
  return out;
}

/**
 * EMA with smoothing `k`, written into `out` from index `seedEnd`, seeded with the SMA of the
 * `period` values ending at `seedEnd` (TA-Lib's TA_INT_EMA).
 */
function emaInto(values: Series, period: number, k: number, seedEnd: number, out: Float64Array): void {
  let prev = 0;
  for (let i = seedEnd - period + 1; i <= seedEnd; i++) prev += values[i]!;
  prev /= period;
  out[seedEnd] = prev;
  for (let i = seedEnd + 1; i < values.length; i++) {
    prev = (values[i]! - prev) * k + prev;
    out[i] = prev;
  }
}

/** Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first period values. */
export function ema(values: Series, period: number): Float64Array {
  checkPeriod('ema', 'period', period);
  const n = values.length;
  const out = nanArray(n);
  const start = firstValid(values);
  if (start < 0 || n - start < period) return out;
  emaInto(values, period, 2 / (period + 1), start + period - 1, out);
  return out;
}

/** Wilder's RSI. First value at index period. */
export function rsi(close: Series, period: number): Float64Array {
  checkPeriod('rsi', 'period', period, 2);
  const n = close.length;
  const out = nanArray(n);
  const start = firstValid(close);
  if (start < 0 || n - start <= period) return out;
  let prevValue = close[start]!;
  let gain = 0;
  let loss = 0;
  let today = start + 1;
  for (let i = period; i > 0; i--) {
    const v = close[today++]!;
    const d = v - prevValue;
    prevValue = v;
    if (d < 0) loss -= d;
    else gain += d;
  }
  loss /= period;
  gain /= period;
  let sum = gain + loss;
  out[today - 1] = isZero(sum) ? 0 : 100 * (gain / sum);
  for (; today < n; today++) {
    const v = close[today]!;
    const d = v - prevValue;
    prevValue = v;
    loss *= period - 1;
    gain *= period - 1;
    if (d < 0) loss -= d;
    else gain += d;
    loss /= period;
    gain /= period;
    sum = gain + loss;
    out[today] = isZero(sum) ? 0 : 100 * (gain / sum);
  }
  return out;
}

export interface MacdResult {
  macd: Float64Array;
  signal: Float64Array;
  histogram: Float64Array;
}

/**
 * MACD as TA-Lib computes it: both EMAs start at index slow-1 (the fast one seeded with the SMA of
 * the `fast` values ending there), and all three outputs start at index slow + signal - 2.
 */
export function macd(close: Series, fast = 12, slow = 26, signal = 9): MacdResult {
  checkPeriod('macd', 'fast', fast, 2);
  checkPeriod('macd', 'slow', slow, 2);
  checkPeriod('macd', 'signal', signal, 1);
  if (slow < fast) [fast, slow] = [slow, fast];
  const n = close.length;
  const result = { macd: nanArray(n), signal: nanArray(n), histogram: nanArray(n) };
  const start = firstValid(close);
  const first = start + slow - 1 + signal - 1;
  if (start < 0 || first >= n) return result;
  const fastLine = nanArray(n);
  const slowLine = nanArray(n);
  emaInto(close, fast, 2 / (fast + 1), start + slow - 1, fastLine);
  emaInto(close, slow, 2 / (slow + 1), start + slow - 1, slowLine);
  const line = nanArray(n);
  for (let i = start + slow - 1; i < n; i++) line[i] = fastLine[i]! - slowLine[i]!;
  const sig = nanArray(n);
  emaInto(line, signal, 2 / (signal + 1), first, sig);
  for (let i = first; i < n; i++) {
    result.macd[i] = line[i]!;
    result.signal[i] = sig[i]!;
    result.histogram[i] = line[i]! - sig[i]!;
  }
  return result;
}

/** Population standard deviation over `period` (TA-Lib's STDDEV with nbDev 1). */
export function stddev(values: Series, period: number): Float64Array {
  checkPeriod('stddev', 'period', period, 2);
  return stddevAround(values, period, sma(values, period));
}

/** TA-Lib's stddev from a precomputed mean: sqrt(mean of squares - square of mean), 0 when tiny. */
function stddevAround(values: Series, period: number, mean: Float64Array): Float64Array {
  const n = values.length;
  const out = nanArray(n);
  const first = firstValid(mean);
  if (first < 0) return out;
  let total2 = 0;
  for (let i = first - period + 1; i < first; i++) total2 += values[i]! * values[i]!;
  for (let i = first; i < n; i++) {
    total2 += values[i]! * values[i]!;
    const meanSquares = total2 / period;
    const trailing = values[i - period + 1]!;
    total2 -= trailing * trailing;
    const m = mean[i]!;
    const variance = meanSquares - m * m;
    out[i] = variance < 0.00000001 ? 0 : Math.sqrt(variance);
  }
  return out;
}

export interface BandsResult {
  upper: Float64Array;
  middle: Float64Array;
  lower: Float64Array;
}

/** Bollinger Bands: SMA middle, +- stdDev population standard deviations. */
export function bbands(close: Series, period = 20, stdDev = 2): BandsResult {
  checkPeriod('bbands', 'period', period, 2);
  if (!(stdDev > 0 && stdDev <= 10))
    throw badInput(`bbands: stdDev is ${stdDev}; allowed: a number above 0 and up to 10`);
  const middle = sma(close, period);
  const sd = stddevAround(close, period, middle);
  const n = close.length;
  const upper = nanArray(n);
  const lower = nanArray(n);
  for (let i = 0; i < n; i++) {
    const width = stdDev * sd[i]!;
    upper[i] = middle[i]! + width;
    lower[i] = middle[i]! - width;
  }
  return { upper, middle, lower };
}

/** One bar's true range: the greatest of high - low and its gaps from the previous close. */
function tr(h: number, l: number, prevClose: number): number {
  let greatest = h - l;
  const a = Math.abs(prevClose - h);
  if (a > greatest) greatest = a;
  const b = Math.abs(l - prevClose);
  if (b > greatest) greatest = b;
  return greatest;
}

/** Wilder's average true range. First value at index period (SMA of the first period true ranges). */
export function atr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkPeriod('atr', 'period', period);
  const n = close.length;
  const out = nanArray(n);
  if (n <= period) return out;
  let prev = 0;
  for (let i = 1; i <= period; i++) prev += tr(high[i]!, low[i]!, close[i - 1]!);
  prev /= period;
  out[period] = prev;
  for (let i = period + 1; i < n; i++) {
    prev = (prev * (period - 1) + tr(high[i]!, low[i]!, close[i - 1]!)) / period;
    out[i] = prev;
  }
  return out;
}

/** Wilder's ADX. First value at index 2 * period - 1. */
export function adx(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkPeriod('adx', 'period', period, 2);
  const n = close.length;
  const out = nanArray(n);
  if (n < 2 * period) return out;
  let plusDM = 0;
  let minusDM = 0;
  let trSum = 0;
  let sumDX = 0;
  let prevADX = 0;
  for (let today = 1; today < n; today++) {
    // Directional movement of this bar against the previous one, TA-Lib's rule.
    const diffP = high[today]! - high[today - 1]!;
    const diffM = low[today - 1]! - low[today]!;
    const p = diffP > 0 && diffP > diffM ? diffP : 0;
    const m = diffM > 0 && diffP < diffM ? diffM : 0;
    const range = tr(high[today]!, low[today]!, close[today - 1]!);
    if (today < period) {
      // The first period-1 bars only accumulate.
      plusDM += p;
      minusDM += m;
      trSum += range;
      continue;
    }
    // Wilder smoothing, then the directional index of this bar.
    minusDM = minusDM - minusDM / period + m;
    plusDM = plusDM - plusDM / period + p;
    trSum = trSum - trSum / period + range;
    let dx = Number.NaN;
    if (!isZero(trSum)) {
      const minusDI = 100 * (minusDM / trSum);
      const plusDI = 100 * (plusDM / trSum);
      const sum = minusDI + plusDI;
      if (!isZero(sum)) dx = 100 * (Math.abs(minusDI - plusDI) / sum);
    }
    if (today <= 2 * period - 1) {
      // The first period DX values are averaged into the first ADX.
      if (!Number.isNaN(dx)) sumDX += dx;
      if (today < 2 * period - 1) continue;
      prevADX = sumDX / period;
    } else if (!Number.isNaN(dx)) {
      prevADX = (prevADX * (period - 1) + dx) / period;
    }
    out[today] = prevADX;
  }
  return out;
}

/** On-balance volume, starting from the first bar's volume (as TA-Lib). */
export function obv(close: Series, volume: Series): Float64Array {
  const n = close.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  let acc = volume[0]!;
  let prev = close[0]!;
  out[0] = acc;
  for (let i = 1; i < n; i++) {
    const c = close[i]!;
    if (c > prev) acc += volume[i]!;
    else if (c < prev) acc -= volume[i]!;
    out[i] = acc;
    prev = c;
  }
  return out;
}

/** Rate of change in percent: (close / close[t - period] - 1) * 100. First value at index period. */
export function roc(close: Series, period = 10): Float64Array {
  checkPeriod('roc', 'period', period);
  const n = close.length;
  const out = nanArray(n);
  const start = firstValid(close);
  if (start < 0) return out;
  for (let i = start + period; i < n; i++) {
    const prev = close[i - period]!;
    out[i] = prev !== 0 ? (close[i]! / prev - 1) * 100 : 0;
  }
  return out;
}

/** Highest value over the last `period` values, per index (NaN before period-1). */
export function highest(values: Series, period: number): Float64Array {
  return rollingExtreme(values, period, 1);
}

/** Lowest value over the last `period` values, per index (NaN before period-1). */
export function lowest(values: Series, period: number): Float64Array {
  return rollingExtreme(values, period, -1);
}

/** Rolling max (sign 1) or min (sign -1), rescanning only when the extreme leaves the window. */
function rollingExtreme(values: Series, period: number, sign: 1 | -1): Float64Array {
  checkPeriod(sign > 0 ? 'highest' : 'lowest', 'period', period);
  const n = values.length;
  const out = nanArray(n);
  let extremeIdx = -1;
  let extreme = 0;
  for (let i = period - 1; i < n; i++) {
    const trailing = i - period + 1;
    const v = values[i]!;
    if (extremeIdx < trailing) {
      extremeIdx = trailing;
      extreme = values[trailing]!;
      for (let j = trailing + 1; j <= i; j++) {
        const x = values[j]!;
        if (sign * x >= sign * extreme) {
          extreme = x;
          extremeIdx = j;
        }
      }
    } else if (sign * v >= sign * extreme) {
      extreme = v;
      extremeIdx = i;
    }
    out[i] = extreme;
  }
  return out;
}

export interface StochResult {
  k: Float64Array;
  d: Float64Array;
}

/**
 * Slow stochastic (TA-Lib STOCH with SMA smoothing): fast %K over kPeriod, %K = SMA(fast %K, kSmooth),
 * %D = SMA(%K, dPeriod). First value at index kPeriod + kSmooth + dPeriod - 3.
 */
export function stoch(
  high: Series,
  low: Series,
  close: Series,
  kPeriod = 14,
  kSmooth = 3,
  dPeriod = 3,
): StochResult {
  checkPeriod('stoch', 'kPeriod', kPeriod);
  checkPeriod('stoch', 'kSmooth', kSmooth);
  checkPeriod('stoch', 'dPeriod', dPeriod);
  const n = close.length;
  const hh = highest(high, kPeriod);
  const ll = lowest(low, kPeriod);
  const fastK = nanArray(n);
  for (let i = kPeriod - 1; i < n; i++) {
    const diff = (hh[i]! - ll[i]!) / 100;
    fastK[i] = diff !== 0 ? (close[i]! - ll[i]!) / diff : 0;
  }
  const k = sma(fastK, kSmooth);
  const d = sma(k, dPeriod);
  // TA-Lib emits %K only where %D exists.
  const first = kPeriod + kSmooth + dPeriod - 3;
  for (let i = 0; i < Math.min(first, n); i++) k[i] = Number.NaN;
  return { k, d };
}

/** Money flow index. First value at index period. */
export function mfi(high: Series, low: Series, close: Series, volume: Series, period = 14): Float64Array {
  checkPeriod('mfi', 'period', period, 2);
  const n = close.length;
  const out = nanArray(n);
  if (n <= period) return out;
  const pos = new Float64Array(period);
  const neg = new Float64Array(period);
  let idx = 0;
  let posSum = 0;
  let negSum = 0;
  let prevTp = (high[0]! + low[0]! + close[0]!) / 3;
  const flow = (i: number) => {
    const tp = (high[i]! + low[i]! + close[i]!) / 3;
    const d = tp - prevTp;
    prevTp = tp;
    const mf = tp * volume[i]!;
    pos[idx] = d > 0 ? mf : 0;
    neg[idx] = d < 0 ? mf : 0;
    posSum += pos[idx]!;
    negSum += neg[idx]!;
  };
  const value = () => {
    const total = posSum + negSum;
    return total < 1 ? 0 : 100 * (posSum / total);
  };
  for (let i = 1; i <= period; i++) {
    flow(i);
    idx = (idx + 1) % period;
  }
  out[period] = value();
  for (let i = period + 1; i < n; i++) {
    posSum -= pos[idx]!;
    negSum -= neg[idx]!;
    flow(i);
    out[i] = value();
    idx = (idx + 1) % period;
  }
  return out;
}

/** Commodity channel index with the 0.015 constant. First value at index period-1. */
export function cci(high: Series, low: Series, close: Series, period = 20): Float64Array {
  checkPeriod('cci', 'period', period, 2);
  const n = close.length;
  const out = nanArray(n);
  if (n < period) return out;
  // A circular buffer summed in buffer order, as TA-Lib does, for bit-level agreement.
  const buf = new Float64Array(period);
  let idx = 0;
  for (let i = 0; i < period - 1; i++) {
    buf[idx] = (high[i]! + low[i]! + close[i]!) / 3;
    idx = (idx + 1) % period;
  }
  for (let i = period - 1; i < n; i++) {
    const last = (high[i]! + low[i]! + close[i]!) / 3;
    buf[idx] = last;
    let avg = 0;
    for (let j = 0; j < period; j++) avg += buf[j]!;
    avg /= period;
    let dev = 0;
    for (let j = 0; j < period; j++) dev += Math.abs(buf[j]! - avg);
    const diff = last - avg;
    out[i] = diff !== 0 && dev !== 0 ? diff / (0.015 * (dev / period)) : 0;
    idx = (idx + 1) % period;
  }
  return out;
}

/** Williams %R, from -100 to 0. First value at index period-1. */
export function willr(high: Series, low: Series, close: Series, period = 14): Float64Array {
  checkPeriod('willr', 'period', period, 2);
  const n = close.length;
  const hh = highest(high, period);
  const ll = lowest(low, period);
  const out = nanArray(n);
  for (let i = period - 1; i < n; i++) {
    const diff = (hh[i]! - ll[i]!) / -100;
    out[i] = diff !== 0 ? (hh[i]! - close[i]!) / diff : 0;
  }
  return out;
}

/**
 * Volume-weighted average price of the typical price (h + l + c) / 3, restarting at each anchor
 * period (a UTC day by default) when bar times are given; cumulative from the first bar otherwise.
 */
export function vwap(
  high: Series,
  low: Series,
  close: Series,
  volume: Series,
  time?: Series,
  anchorMs: number = DAY,
): Float64Array {
  const n = close.length;
  const out = new Float64Array(n);
  let pv = 0;
  let vol = 0;
  let anchor = Number.NaN;
  for (let i = 0; i < n; i++) {
    if (time) {
      const a = Math.floor(time[i]! / anchorMs);
      if (a !== anchor) {
        anchor = a;
        pv = 0;
        vol = 0;
      }
    }
    const tp = (high[i]! + low[i]! + close[i]!) / 3;
    pv += tp * volume[i]!;
    vol += volume[i]!;
    out[i] = vol > 0 ? pv / vol : tp;
  }
  return out;
}

/** Simple moving average of volume. */
export function volumeSma(volume: Series, period = 20): Float64Array {
  return sma(volume, period);
}

/** True where `a` crosses above `b` at i: a[i] > b[i] and a[i-1] <= b[i-1]. */
export function crossedAbove(a: Series, b: Series, i: number): boolean {
  return i > 0 && a[i]! > b[i]! && a[i - 1]! <= b[i - 1]!;
}

/** True where `a` crosses below `b` at i: a[i] < b[i] and a[i-1] >= b[i-1]. */
export function crossedBelow(a: Series, b: Series, i: number): boolean {
  return i > 0 && a[i]! < b[i]! && a[i - 1]! >= b[i - 1]!;
}
