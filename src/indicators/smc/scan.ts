/**
 * Search helpers the SMC indicators share. Several SMC outputs are "the first later bar where price
 * reached X" (a gap's mitigation, a level's break, a liquidity sweep). Scanning forward from every
 * event is quadratic on trending data, where many levels are never reached; a sparse table of block
 * extremes answers each question in O(log n) instead.
 */
import type { Series } from '../index.js';

/** Price columns the SMC functions read; `volume` only for order blocks, `time` only for periods and sessions. */
export interface Ohlc {
  readonly open: Series;
  readonly high: Series;
  readonly low: Series;
  readonly close: Series;
  readonly volume?: Series;
  readonly time?: Series;
}

/**
 * Finds the first index at or after a start where a series reaches a level, from above or below.
 * Level k of the table holds the extreme of the 2^k values starting at each index.
 */
export class FirstReach {
  private readonly levels: Float64Array[];

  /** `kind` 'max' answers "first value >= x" (or > x); 'min' answers "first value <= x" (or < x). */
  constructor(
    private readonly values: Series,
    private readonly kind: 'max' | 'min',
  ) {
    const n = values.length;
    const first = Float64Array.from({ length: n }, (_, i) => values[i]!);
    this.levels = [first];
    for (let span = 1; span * 2 <= n; span *= 2) {
      const prev = this.levels[this.levels.length - 1]!;
      const next = new Float64Array(n - span * 2 + 1);
      if (kind === 'max') for (let i = 0; i < next.length; i++) next[i] = Math.max(prev[i]!, prev[i + span]!);
      else for (let i = 0; i < next.length; i++) next[i] = Math.min(prev[i]!, prev[i + span]!);
      this.levels.push(next);
    }
  }

  /**
   * The first index >= from whose value is beyond x (strict: > x for 'max', < x for 'min'; not strict:
   * >= and <=), or -1.
   */
  first(from: number, x: number, strict: boolean): number {
    const n = this.values.length;
    let pos = Math.max(0, from);
    const misses =
      this.kind === 'max'
        ? strict
          ? (v: number) => !(v > x)
          : (v: number) => !(v >= x)
        : strict
          ? (v: number) => !(v < x)
          : (v: number) => !(v <= x);
    // Skip the largest whole blocks that hold no hit, largest first: each size is needed at most once.
    for (let k = this.levels.length - 1; k >= 0; k--) {
      const table = this.levels[k]!;
      if (pos < table.length && misses(table[pos]!)) pos += 1 << k;
    }
    return pos < n && !misses(this.values[pos]!) ? pos : -1;
  }
}

/** NumPy's round(x, decimals): scale, round half to even, scale back (not a decimal-exact rounding). */
export function npRound(x: number, decimals: number): number {
  if (!Number.isFinite(x)) return x;
  const scale = 10 ** decimals;
  const y = x * scale;
  const floor = Math.floor(y);
  const diff = y - floor;
  const r = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  return r / scale;
}

/** A value stored in a float32 array, as the reference library stores several outputs. */
export const f32 = Math.fround;

export function nanArray(n: number): Float64Array {
  return new Float64Array(n).fill(Number.NaN);
}
