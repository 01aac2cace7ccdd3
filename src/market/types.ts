/**
 * Candles are stored column-wise in Float64Arrays: the hot paths (indicators, backtests) read one
 * column at a time, and a year of 1m candles fits in 25 MB. `time` is the candle's open time in epoch
 * milliseconds (UTC), strictly increasing.
 */
export interface Candles {
  readonly time: Float64Array;
  readonly open: Float64Array;
  readonly high: Float64Array;
  readonly low: Float64Array;
  readonly close: Float64Array;
  readonly volume: Float64Array;
  readonly length: number;
}

/** One candle as a plain object, for small data and tests. */
export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** A ccxt-style OHLCV row: [timestamp, open, high, low, close, volume]. */
export type OHLCVRow = [number, number, number, number, number, number];

export function allocCandles(length: number): Candles {
  return {
    time: new Float64Array(length),
    open: new Float64Array(length),
    high: new Float64Array(length),
    low: new Float64Array(length),
    close: new Float64Array(length),
    volume: new Float64Array(length),
    length,
  };
}

/** Build columnar candles from plain rows (objects or ccxt arrays). */
export function candlesFrom(rows: ReadonlyArray<Candle | OHLCVRow>): Candles {
  const c = allocCandles(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (Array.isArray(r)) {
      c.time[i] = r[0];
      c.open[i] = r[1];
      c.high[i] = r[2];
      c.low[i] = r[3];
      c.close[i] = r[4];
      c.volume[i] = r[5];
    } else {
      const o = r as Candle;
      c.time[i] = o.time;
      c.open[i] = o.open;
      c.high[i] = o.high;
      c.low[i] = o.low;
      c.close[i] = o.close;
      c.volume[i] = o.volume;
    }
  }
  return c;
}

/** A copy of the candles with bar i's prices times `factor(i)` (times and volumes as they are). */
export function scaledCandles(c: Candles, factor: (i: number) => number): Candles {
  const out = allocCandles(c.length);
  for (let i = 0; i < c.length; i++) {
    const f = factor(i);
    out.time[i] = c.time[i]!;
    out.open[i] = c.open[i]! * f;
    out.high[i] = c.high[i]! * f;
    out.low[i] = c.low[i]! * f;
    out.close[i] = c.close[i]! * f;
    out.volume[i] = c.volume[i]!;
  }
  return out;
}

/** Candles [start, end) as views sharing memory with the source (no copy). */
export function sliceCandles(c: Candles, start: number, end: number = c.length): Candles {
  const s = Math.max(0, Math.min(start, c.length));
  const e = Math.max(s, Math.min(end, c.length));
  return {
    time: c.time.subarray(s, e),
    open: c.open.subarray(s, e),
    high: c.high.subarray(s, e),
    low: c.low.subarray(s, e),
    close: c.close.subarray(s, e),
    volume: c.volume.subarray(s, e),
    length: e - s,
  };
}

export function candleAt(c: Candles, i: number): Candle {
  return {
    time: c.time[i]!,
    open: c.open[i]!,
    high: c.high[i]!,
    low: c.low[i]!,
    close: c.close[i]!,
    volume: c.volume[i]!,
  };
}

/** Concatenate candle sets that are already in time order and do not overlap. */
export function concatCandles(parts: readonly Candles[]): Candles {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = allocCandles(total);
  let at = 0;
  for (const p of parts) {
    out.time.set(p.time, at);
    out.open.set(p.open, at);
    out.high.set(p.high, at);
    out.low.set(p.low, at);
    out.close.set(p.close, at);
    out.volume.set(p.volume, at);
    at += p.length;
  }
  return out;
}

/** Index of the first bar whose time is at or after `t` (length when none is). */
export function indexAtOrAfter(time: ArrayLike<number>, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
