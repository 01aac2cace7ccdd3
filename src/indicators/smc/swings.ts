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
import { highest, lowest } from '../index.js';
import { nanArray, type Ohlc } from './scan.js';

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
  // The window of bar i is bars i - (length - 1) .. i + length: the trailing 2 * length bars of i + length.
  const hi = highest(c.high, 2 * length);
  const lo = lowest(c.low, 2 * length);
  const out = new Int8Array(n);
  // The reference's rolling window over the shifted series is full only from bar 2 * length - 1 on.
  for (let i = 2 * length - 1; i + length < n; i++) {
    if (c.high[i] === hi[i + length]) out[i] = 1;
    else if (c.low[i] === lo[i + length]) out[i] = -1;
  }
  return out;
}

/** A candidate that leads its run of same-kind candidates when it comes, and the leader it displaces. */
interface Leader {
  bar: number;
  kind: 1 | -1;
  /** The earlier leader of the same run it displaces, or -1 when it starts a run. */
  replaces: number;
}

/**
 * Alternation, in bar order: a candidate of the other kind starts a run; one of the same kind leads
 * only when more extreme (a higher high, a lower low) than the run's leader, else it is dropped. The
 * last leader of each run is the run's first extreme, the swing the reference keeps.
 */
function leaders(c: Ohlc, length: number): Leader[] {
  const cand = candidates(c, length);
  const out: Leader[] = [];
  let runKind = 0;
  let keep = -1;
  for (let i = 0; i < cand.length; i++) {
    const k = cand[i]!;
    if (k === 0) continue;
    if (k !== runKind) {
      out.push({ bar: i, kind: k as 1 | -1, replaces: -1 });
      runKind = k;
      keep = i;
    } else if (k === 1 ? c.high[i]! > c.high[keep]! : c.low[i]! < c.low[keep]!) {
      out.push({ bar: i, kind: k as 1 | -1, replaces: keep });
      keep = i;
    }
  }
  return out;
}

const levelAt = (c: Ohlc, i: number, kind: number) => (kind === 1 ? c.high[i]! : c.low[i]!);

/** The reference library's swing_highs_lows(ohlc, swing_length). */
export function swingHighsLows(c: Ohlc, length = 50): Swings {
  checkLength(length);
  const n = c.high.length;
  const highLow = nanArray(n);
  for (const l of leaders(c, length)) {
    if (l.replaces >= 0) highLow[l.replaces] = Number.NaN;
    highLow[l.bar] = l.kind;
  }
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
  for (let i = 0; i < n; i++) if (!Number.isNaN(highLow[i]!)) level[i] = levelAt(c, i, highLow[i]!);
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
  const highLow = nanArray(n);
  const level = nanArray(n);
  const origin = new Int32Array(n).fill(-1);
  const replaces = new Int32Array(n).fill(-1);
  for (const l of leaders(c, length)) {
    const at = l.bar + length;
    highLow[at] = l.kind;
    level[at] = levelAt(c, l.bar, l.kind);
    origin[at] = l.bar;
    replaces[at] = l.replaces;
  }
  return { highLow, level, origin, replaces };
}
