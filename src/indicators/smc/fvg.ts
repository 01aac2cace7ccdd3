/**
 * Fair value gaps: three candles where the middle one moved so fast that the first candle's high and
 * the third candle's low do not overlap (bullish, middle candle up), or the first's low and the third's
 * high (bearish, middle candle down). The gap is the untraded price range between them; it is
 * mitigated when price trades back into it (a low at or under a bullish gap's top, a high at or over a
 * bearish gap's bottom).
 *
 * `fvg` is the reference library's form: the gap sits at the middle candle, which is only known one bar
 * later, and with `joinConsecutive` a run of same-side gaps becomes one, at the run's last candle,
 * spanning the highest top and the lowest bottom. `fvgLive` gives each gap at the bar that completes it.
 */
import { FirstReach, nanArray, type Ohlc } from './scan.js';

export interface FairValueGaps {
  /** 1 bullish, -1 bearish at the gap's middle candle; NaN elsewhere. */
  readonly fvg: Float64Array;
  readonly top: Float64Array;
  readonly bottom: Float64Array;
  /** The first bar (two or more after the middle candle) that traded back into the gap; 0 if none yet. */
  readonly mitigatedIndex: Float64Array;
}

export interface GapEvent {
  /** The bar that completes the gap (middle candle + 1). */
  readonly at: number;
  /** The middle candle; with joining, the latest middle candle of the run. */
  readonly origin: number;
  readonly dir: 1 | -1;
  readonly top: number;
  readonly bottom: number;
  /** With joining: true when this gap extends the previous one (same side, previous middle candle). */
  readonly extends: boolean;
}

/** Gap side at the middle candle i (needs i-1 and i+1), or 0. */
function gapAt(c: Ohlc, i: number): 1 | -1 | 0 {
  const up = c.close[i]! > c.open[i]!;
  if (up && c.high[i - 1]! < c.low[i + 1]!) return 1;
  if (!up && c.close[i]! < c.open[i]! && c.low[i - 1]! > c.high[i + 1]!) return -1;
  return 0;
}

/** The reference library's fvg(ohlc, join_consecutive): the live gaps, each at its middle candle. */
export function fvg(c: Ohlc, joinConsecutive = false): FairValueGaps {
  const n = c.close.length;
  const side = nanArray(n);
  const top = nanArray(n);
  const bottom = nanArray(n);
  for (const g of fvgLive(c, joinConsecutive)) {
    // A joined run keeps only its last gap.
    if (g.extends) side[g.origin - 1] = top[g.origin - 1] = bottom[g.origin - 1] = Number.NaN;
    side[g.origin] = g.dir;
    top[g.origin] = g.top;
    bottom[g.origin] = g.bottom;
  }
  const lows = new FirstReach(c.low, 'min');
  const highs = new FirstReach(c.high, 'max');
  const mitigatedIndex = nanArray(n);
  for (let i = 0; i < n; i++) {
    const d = side[i]!;
    if (Number.isNaN(d)) continue;
    const j = d === 1 ? lows.first(i + 2, top[i]!, false) : highs.first(i + 2, bottom[i]!, false);
    mitigatedIndex[i] = j < 0 ? 0 : j;
  }
  return { fvg: side, top, bottom, mitigatedIndex };
}

/**
 * Gaps as they become known: each at the bar after its middle candle. With `joinConsecutive`, a gap
 * right after a same-side gap comes as one widened gap (`extends` true) that replaces the previous one;
 * the last of each run equals the reference's joined gap, one bar later.
 */
export function fvgLive(c: Ohlc, joinConsecutive = false): GapEvent[] {
  const n = c.close.length;
  const events: GapEvent[] = [];
  let prev: GapEvent | undefined;
  for (let i = 1; i + 1 < n; i++) {
    const d = gapAt(c, i);
    if (d === 0) {
      prev = undefined;
      continue;
    }
    let top = d === 1 ? c.low[i + 1]! : c.low[i - 1]!;
    let bottom = d === 1 ? c.high[i - 1]! : c.high[i + 1]!;
    const extend = joinConsecutive && prev !== undefined && prev.dir === d && prev.origin === i - 1;
    if (extend) {
      top = Math.max(prev!.top, top);
      bottom = Math.min(prev!.bottom, bottom);
    }
    prev = { at: i + 1, origin: i, dir: d, top, bottom, extends: extend };
    events.push(prev);
  }
  return events;
}
