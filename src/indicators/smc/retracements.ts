/**
 * Retracement depth: how far price has come back from the last swing, as a percentage of the last
 * swing range (100 % = back to the other end of the range). After a swing high the depth is measured by
 * lows, after a swing low by highs; `deepest` is the deepest since that swing.
 *
 * `retracements` is the reference library's form, row for row (values are one bar late: each row holds
 * the previous bar's figures, and the first three direction changes are blanked). `retracementsLive`
 * measures each bar against the swings confirmed by then.
 */
import { npRound, type Ohlc } from './scan.js';
import type { LiveSwings, Swings } from './swings.js';

export interface Retracements {
  /** 1 after a swing high, -1 after a swing low, 0 before. */
  readonly direction: Int8Array;
  /** Percent, one decimal. */
  readonly current: Float64Array;
  readonly deepest: Float64Array;
}

/** The reference library's retracements(ohlc, swing_highs_lows). */
export function retracements(c: Ohlc, swings: Swings): Retracements {
  const n = c.close.length;
  const direction = new Int8Array(n);
  const current = new Float64Array(n);
  const deepest = new Float64Array(n);
  let top = 0;
  let bottom = 0;
  // The reference reads direction[i - 1] at i = 0 as the last element, still 0 then.
  const prevDir = (i: number) => (i > 0 ? direction[i - 1]! : direction[n - 1]!);
  for (let i = 0; i < n; i++) {
    const k = swings.highLow[i];
    if (k === 1) {
      direction[i] = 1;
      top = swings.level[i]!;
    } else if (k === -1) {
      direction[i] = -1;
      bottom = swings.level[i]!;
    } else {
      direction[i] = i > 0 ? direction[i - 1]! : 0;
    }
    if (prevDir(i) === 1) {
      current[i] = npRound(100 - ((c.low[i]! - bottom) / (top - bottom)) * 100, 1);
      deepest[i] = Math.max(i > 0 && direction[i - 1] === 1 ? deepest[i - 1]! : 0, current[i]!);
    }
    if (direction[i] === -1) {
      current[i] = npRound(100 - ((c.high[i]! - top) / (bottom - top)) * 100, 1);
      deepest[i] = Math.max(i > 0 && direction[i - 1] === -1 ? deepest[i - 1]! : 0, current[i]!);
    }
  }
  // Shift by one bar (the last row wraps to the first, as numpy's roll does).
  const roll = <T extends Int8Array | Float64Array>(a: T): T => {
    const last = a[n - 1]!;
    a.copyWithin(1, 0, n - 1);
    a[0] = last;
    return a;
  };
  if (n > 0) {
    roll(direction);
    roll(current);
    roll(deepest);
  }
  // Blank the start up to the third change of direction.
  let changes = 0;
  for (let i = 0; i + 1 < n; i++) {
    if (direction[i] !== direction[i + 1]) changes++;
    direction[i] = 0;
    current[i] = deepest[i] = 0;
    if (changes === 3) {
      direction[i + 1] = 0;
      current[i + 1] = deepest[i + 1] = 0;
      break;
    }
  }
  return { direction, current, deepest };
}

/**
 * Retracement at each bar from the swings confirmed by that bar: after a confirmed swing high the depth
 * of the bar's low into the range from the last confirmed low to that high; after a low, of the high.
 * NaN until both ends of a range are known.
 */
export function retracementsLive(c: Ohlc, swings: LiveSwings): Retracements {
  const n = c.close.length;
  const direction = new Int8Array(n);
  const current = new Float64Array(n).fill(Number.NaN);
  const deepest = new Float64Array(n).fill(Number.NaN);
  let top = Number.NaN;
  let bottom = Number.NaN;
  let dir = 0;
  let deep = Number.NaN;
  for (let i = 0; i < n; i++) {
    const k = swings.highLow[i];
    if (k === 1 || k === -1) {
      if (k === 1) top = swings.level[i]!;
      else bottom = swings.level[i]!;
      dir = k;
      deep = Number.NaN;
    }
    direction[i] = dir;
    if (dir === 0 || Number.isNaN(top) || Number.isNaN(bottom) || top === bottom) continue;
    const depth =
      dir === 1
        ? 100 - ((c.low[i]! - bottom) / (top - bottom)) * 100
        : 100 - ((c.high[i]! - top) / (bottom - top)) * 100;
    current[i] = npRound(depth, 1);
    deep = Number.isNaN(deep) ? current[i]! : Math.max(deep, current[i]!);
    deepest[i] = deep;
  }
  return { direction, current, deepest };
}
