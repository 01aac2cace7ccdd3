/**
 * Swing highs and lows, the skeleton every other SMC concept hangs on.
 *
 * A bar is a swing high when its high is the highest of the `length` bars around it (length - 1 before,
 * itself, length after; a swing low likewise with lows; a bar that is both counts as a high). Swings
 * then alternate: of consecutive highs with no low between, only the first highest stays (lows: the
 * first lowest).
 *
 * `swingHighsLows` is the reference library's form, row for row: it marks a swing at its own bar,
 * although that bar is only confirmed `length` bars later, and it marks bar 0 and the last bar with the
 * opposite of the first and last swing so charts start and end on a point. It is for charts and
 * studies. `swingsLive` is the form a strategy may use: each swing appears at the bar that confirms it.
 */
import { centredMax, centredMin, nanArray, type Ohlc } from './scan.js';

export interface Swings {
  /** 1 at a swing high, -1 at a swing low, NaN elsewhere. */
  readonly highLow: Float64Array;
  /** The swing's price: the high of a swing high, the low of a swing low. */
  readonly level: Float64Array;
}

export interface LiveSwings extends Swings {
  /** At a confirming bar: the bar where the swing happened (confirming bar - length), else -1. */
  readonly origin: Int32Array;
  /**
   * At a confirming bar: the bar of an earlier swing of the same kind that this one replaces (a higher
   * high before any low came), else -1. Its origin and level stop counting from here on.
   */
  readonly replaces: Int32Array;
}

function checkLength(length: number): void {
  if (!Number.isInteger(length) || length < 1 || length > 10_000)
    throw new RangeError(`swing length is ${length}; allowed: a whole number from 1 to 10000`);
}

/** Raw candidates: 1 (high), -1 (low) or 0, before alternation. */
function candidates(c: Ohlc, length: number): Int8Array {
  const n = c.high.length;
  const hi = centredMax(c.high, length - 1, length);
  const lo = centredMin(c.low, length - 1, length);
  const out = new Int8Array(n);
  // The reference's rolling window over the shifted series is full only from bar 2 * length - 1 on.
  for (let i = 2 * length - 1; i < n; i++) {
    if (c.high[i] === hi[i]) out[i] = 1;
    else if (c.low[i] === lo[i]) out[i] = -1;
  }
  return out;
}

/** The reference library's swing_highs_lows(ohlc, swing_length). */
export function swingHighsLows(c: Ohlc, length = 50): Swings {
  checkLength(length);
  const n = c.high.length;
  const cand = candidates(c, length);
  const highLow = nanArray(n);
  // In each run of same-kind candidates keep the first extreme.
  let runKind = 0;
  let keep = -1;
  const flush = () => {
    if (keep >= 0) highLow[keep] = runKind;
  };
  for (let i = 0; i < n; i++) {
    const k = cand[i]!;
    if (k === 0) continue;
    if (k !== runKind) {
      flush();
      runKind = k;
      keep = i;
    } else if (k === 1 ? c.high[i]! > c.high[keep]! : c.low[i]! < c.low[keep]!) {
      keep = i;
    }
  }
  flush();
  // End points: the opposite of the first and last swing.
  let first = -1;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(highLow[i]!)) continue;
    if (first < 0) first = i;
    last = i;
  }
  if (first >= 0) {
    // As the reference does it, step by step (it matters only when a swing sits on bar 0).
    if (highLow[first] === 1) highLow[0] = -1;
    if (highLow[first] === -1) highLow[0] = 1;
    if (highLow[last] === -1) highLow[n - 1] = 1;
    if (highLow[last] === 1) highLow[n - 1] = -1;
  }
  const level = nanArray(n);
  for (let i = 0; i < n; i++) {
    const k = highLow[i]!;
    if (k === 1) level[i] = c.high[i]!;
    else if (k === -1) level[i] = c.low[i]!;
  }
  return { highLow, level };
}

/**
 * Swings as they become known: a swing at bar i appears at bar i + length, the first bar whose close
 * confirms it. A swing of the same kind as the previous one appears only when it is more extreme (it
 * replaces the earlier one, which `replaces` names); otherwise it is dropped, as the reference drops it.
 * Apart from that shift, the swings never replaced are the reference's (a test shows it).
 */
export function swingsLive(c: Ohlc, length = 50): LiveSwings {
  checkLength(length);
  const n = c.high.length;
  const cand = candidates(c, length);
  const highLow = nanArray(n);
  const level = nanArray(n);
  const origin = new Int32Array(n).fill(-1);
  const replaces = new Int32Array(n).fill(-1);
  let runKind = 0;
  let keep = -1;
  for (let i = 0; i + length < n; i++) {
    const k = cand[i]!;
    if (k === 0) continue;
    const at = i + length;
    if (k !== runKind) {
      runKind = k;
      keep = i;
    } else if (k === 1 ? c.high[i]! > c.high[keep]! : c.low[i]! < c.low[keep]!) {
      replaces[at] = keep;
      keep = i;
    } else {
      continue;
    }
    highLow[at] = k;
    level[at] = k === 1 ? c.high[i]! : c.low[i]!;
    origin[at] = i;
  }
  return { highLow, level, origin, replaces };
}
