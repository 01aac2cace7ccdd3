/**
 * Candle arithmetic shared by the exchange emulator's REST endpoints (server.ts) and its streams
 * (stream.ts), so a kline pushed over a stream and the same kline fetched over REST agree to the digit.
 */

export interface EmulatorCandle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Binance's kline intervals and their length in ms. */
export const INTERVALS: Record<string, number> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
  '3d': 259_200_000,
  '1w': 604_800_000,
};

const aggregated = new WeakMap<EmulatorCandle[], Map<number, EmulatorCandle[]>>();

/** Candles at `intervalMs`, aggregated from the market's data (epoch-aligned buckets). */
export function aggregate(candles: EmulatorCandle[], intervalMs: number): EmulatorCandle[] {
  let byInterval = aggregated.get(candles);
  if (!byInterval) aggregated.set(candles, (byInterval = new Map()));
  const cached = byInterval.get(intervalMs);
  if (cached) return cached;
  const out: EmulatorCandle[] = [];
  for (const c of candles) {
    const bucket = Math.floor(c.time / intervalMs) * intervalMs;
    const last = out[out.length - 1];
    if (last && last.time === bucket) {
      last.high = Math.max(last.high, c.high);
      last.low = Math.min(last.low, c.low);
      last.close = c.close;
      last.volume += c.volume;
    } else {
      out.push({ ...c, time: bucket });
    }
  }
  byInterval.set(intervalMs, out);
  return out;
}

/** A number as Binance writes it: a string with 8 decimals. */
export function fix(v: number): string {
  return v.toFixed(8);
}

/** Index of the first candle opening at or after `t`. */
export function firstAtOrAfter(c: EmulatorCandle[], t: number): number {
  let lo = 0;
  let hi = c.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c[mid]!.time < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
