/**
 * Resampling candles to a higher timeframe, including non-standard ones (37m, 148m), and aligning
 * higher-timeframe candles to a base series without looking ahead.
 *
 * Buckets are aligned to the Unix epoch (as pandas' `origin='epoch'`), so daily candles start at
 * 00:00 UTC and a 148m series has the same boundaries whatever the data's first bar is. Weekly
 * candles start on Monday 00:00 UTC, like the exchanges'.
 */
import { AppError } from '../errors.js';
import { DAY, timeframeMs, timeframeName, WEEK } from './timeframe.js';
import { allocCandles, type Candles, sliceCandles } from './types.js';

/** Monday 1970-01-05 00:00 UTC: weekly buckets start here. */
const WEEK_ORIGIN = 4 * DAY;

export interface ResampledCandles extends Candles {
  /** Number of source bars in each output candle (fewer than expected means a gap inside it). */
  readonly bars: Int32Array;
  /** True when the last candle is still forming: the source does not reach its end yet. */
  readonly lastIsPartial: boolean;
}

export function bucketOrigin(targetMs: number): number {
  return targetMs % WEEK === 0 ? WEEK_ORIGIN : 0;
}

/** Start time of the bucket of size `targetMs` that contains time `t`. */
export function bucketStart(t: number, targetMs: number): number {
  const origin = bucketOrigin(targetMs);
  return Math.floor((t - origin) / targetMs) * targetMs + origin;
}

/**
 * Resample `src` (bar spacing `sourceMs`) to `target` (e.g. "148m"). The target must be a whole
 * multiple of the source timeframe.
 */
export function resample(src: Candles, sourceMs: number, target: string | number): ResampledCandles {
  const targetMs = typeof target === 'number' ? target : timeframeMs(target);
  if (targetMs < sourceMs || targetMs % sourceMs !== 0) {
    throw new AppError(
      'BAD_INPUT',
      `cannot make ${timeframeName(targetMs)} candles from ${timeframeName(sourceMs)} data; allowed: a whole multiple of ${timeframeName(sourceMs)}`,
    );
  }
  const n = src.length;
  const out = allocCandles(n === 0 ? 0 : Math.ceil((src.time[n - 1]! - src.time[0]!) / targetMs) + 2);
  const bars = new Int32Array(out.length);
  let k = -1;
  let currentBucket = Number.NaN;
  for (let i = 0; i < n; i++) {
    const b = bucketStart(src.time[i]!, targetMs);
    if (b !== currentBucket) {
      k++;
      currentBucket = b;
      out.time[k] = b;
      out.open[k] = src.open[i]!;
      out.high[k] = src.high[i]!;
      out.low[k] = src.low[i]!;
      out.close[k] = src.close[i]!;
      out.volume[k] = src.volume[i]!;
      bars[k] = 1;
    } else {
      if (src.high[i]! > out.high[k]!) out.high[k] = src.high[i]!;
      if (src.low[i]! < out.low[k]!) out.low[k] = src.low[i]!;
      out.close[k] = src.close[i]!;
      out.volume[k]! += src.volume[i]!;
      bars[k]!++;
    }
  }
  const count = k + 1;
  const lastIsPartial = n > 0 && src.time[n - 1]! + sourceMs < currentBucket + targetMs;
  return {
    time: out.time.slice(0, count),
    open: out.open.slice(0, count),
    high: out.high.slice(0, count),
    low: out.low.slice(0, count),
    close: out.close.slice(0, count),
    volume: out.volume.slice(0, count),
    length: count,
    bars: bars.slice(0, count),
    lastIsPartial,
  };
}

/** Resampled candles without the last one when it is still forming. */
export function closedOnly(r: ResampledCandles): Candles {
  return r.lastIsPartial ? sliceCandles(r, 0, r.length - 1) : r;
}

/**
 * For each base bar, the index of the latest higher-timeframe candle that had closed by the time
 * that base bar closed (-1 when none had). A strategy reading `htf[index[t]]` at bar t therefore
 * sees only information available at t's close.
 */
export function alignClosed(
  baseTime: ArrayLike<number>,
  baseMs: number,
  htfTime: ArrayLike<number>,
  htfMs: number,
): Int32Array {
  const out = new Int32Array(baseTime.length);
  let j = -1;
  for (let i = 0; i < baseTime.length; i++) {
    const baseClose = baseTime[i]! + baseMs;
    while (j + 1 < htfTime.length && htfTime[j + 1]! + htfMs <= baseClose) j++;
    out[i] = j;
  }
  return out;
}
