/**
 * Liquidity: resting orders above equal highs and below equal lows. Two or more swing highs within a
 * tolerance of the first one's price form a pool at their average level; the pool is swept by the first
 * later bar whose high reaches the first swing's price plus the tolerance (lows mirrored).
 *
 * `liquidity` is the reference library's form: the tolerance is `rangePercent` of the whole data's
 * high-low range (which a live bot cannot know), and the pool sits at its first swing's bar.
 * `liquidityLive` takes the tolerance as a function of the level and the bar (a strategy passes, say, a
 * fraction of price) and gives each pool at the bar it became known, and each sweep at the bar that
 * swept it once the pool was known.
 */
import { f32, FirstReach, nanArray, type Ohlc } from './scan.js';
import type { LiveSwings, Swings } from './swings.js';

export interface Liquidity {
  /** 1 at the first swing of a pool of highs, -1 of lows; NaN elsewhere. */
  readonly liquidity: Float64Array;
  /** The pool's level: the average of its swings (float32, as the reference stores it). */
  readonly level: Float64Array;
  /** The pool's last swing. */
  readonly end: Float64Array;
  /** The bar that swept the pool (0 if none). */
  readonly swept: Float64Array;
}

export interface LiquidityEvent {
  /** The bar at whose close this is known. */
  readonly at: number;
  /** 'pool': a pool formed or grew; 'swept': price ran through it. */
  readonly kind: 'pool' | 'swept';
  /** 1 equal highs (buy-side), -1 equal lows (sell-side). */
  readonly dir: 1 | -1;
  /** The pool's first swing, its average level and last swing so far. */
  readonly origin: number;
  readonly level: number;
  readonly end: number;
  /** The price beyond which the pool counts as swept. */
  readonly sweepLevel: number;
  /** The sweeping bar, for 'swept' events. */
  readonly swept: number;
}

interface Pool {
  dir: 1 | -1;
  origin: number;
  members: number[];
  level: number;
  swept: number;
  sweepLevel: number;
}

/**
 * The reference's grouping over swings (bar, kind, level) in bar order. A swing joins the first earlier
 * pool of its kind still open whose band holds it; `tolerance(i)` is the half-width for a pool started
 * at swing i.
 */
function pools(
  c: Ohlc,
  bars: Int32Array,
  kinds: Int8Array,
  levels: Float64Array,
  tolerance: (level: number, bar: number) => number,
): Pool[] {
  const highs = new FirstReach(c.high, 'max');
  const lows = new FirstReach(c.low, 'min');
  const out: Pool[] = [];
  for (const dir of [1, -1] as const) {
    const idx: number[] = [];
    for (let s = 0; s < bars.length; s++) if (kinds[s] === dir) idx.push(s);
    const used = new Uint8Array(idx.length);
    for (let a = 0; a < idx.length; a++) {
      if (used[a]) continue;
      const s = idx[a]!;
      const i = bars[s]!;
      const lvl = levels[s]!;
      const tol = tolerance(lvl, i);
      const lo = lvl - tol;
      const hi = lvl + tol;
      const sweep = dir === 1 ? highs.first(i + 1, hi, false) : lows.first(i + 1, lo, false);
      const limit = sweep < 0 ? Number.POSITIVE_INFINITY : sweep;
      const members = [s];
      for (let b = a + 1; b < idx.length && bars[idx[b]!]! <= limit; b++) {
        if (used[b]) continue;
        const l = levels[idx[b]!]!;
        if (lo <= l && l <= hi) {
          used[b] = 1;
          members.push(idx[b]!);
        }
      }
      if (members.length < 2) continue;
      let sum = 0;
      for (const m of members) sum += levels[m]!;
      out.push({
        dir,
        origin: i,
        members,
        level: sum / members.length,
        swept: sweep < 0 ? 0 : sweep,
        sweepLevel: dir === 1 ? hi : lo,
      });
    }
  }
  return out;
}

/** The reference library's liquidity(ohlc, swing_highs_lows, range_percent). */
export function liquidity(c: Ohlc, swings: Swings, rangePercent = 0.01): Liquidity {
  const n = c.close.length;
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (c.high[i]! > max) max = c.high[i]!;
    if (c.low[i]! < min) min = c.low[i]!;
  }
  const pip = (max - min) * rangePercent;
  const list: number[] = [];
  for (let i = 0; i < n; i++) if (!Number.isNaN(swings.highLow[i]!)) list.push(i);
  const bars = Int32Array.from(list);
  const kinds = Int8Array.from(list, (i) => swings.highLow[i]!);
  const levels = Float64Array.from(list, (i) => swings.level[i]!);
  const out: Liquidity = { liquidity: nanArray(n), level: nanArray(n), end: nanArray(n), swept: nanArray(n) };
  for (const p of pools(c, bars, kinds, levels, () => pip)) {
    out.liquidity[p.origin] = p.dir;
    out.level[p.origin] = f32(p.level);
    out.end[p.origin] = bars[p.members[p.members.length - 1]!]!;
    out.swept[p.origin] = p.swept;
  }
  return out;
}

/**
 * Pools and sweeps as they became known, from live swings (each counts from its confirming bar).
 * A pool is known once its second swing is confirmed, and grows as more are; a sweep is known at the
 * sweeping bar, or when the pool became known if that was later.
 */
export function liquidityLive(
  c: Ohlc,
  swings: LiveSwings,
  tolerance: (level: number, bar: number) => number,
): LiquidityEvent[] {
  const n = c.close.length;
  const list: number[] = [];
  for (let t = 0; t < n; t++) if (!Number.isNaN(swings.highLow[t]!)) list.push(t);
  const confirmAt = Int32Array.from(list);
  const bars = Int32Array.from(list, (t) => swings.origin[t]!);
  const kinds = Int8Array.from(list, (t) => swings.highLow[t]!);
  const levels = Float64Array.from(list, (t) => swings.level[t]!);
  // The tolerance may use data up to the first swing's confirmation only.
  const barToConfirm = new Map<number, number>();
  list.forEach((t) => barToConfirm.set(swings.origin[t]!, t));
  const events: LiquidityEvent[] = [];
  const tol = (level: number, bar: number) => tolerance(level, barToConfirm.get(bar) ?? bar);
  for (const p of pools(c, bars, kinds, levels, tol)) {
    const [first, second] = p.members;
    // The sweep is known at the sweeping bar, or when the pool itself became known if that was later.
    const sweptAt = p.swept > 0 ? Math.max(p.swept, confirmAt[second!]!) : Number.POSITIVE_INFINITY;
    let sum = levels[first!]!;
    let count = 1;
    let end = bars[first!]!;
    const base = { dir: p.dir, origin: p.origin, sweepLevel: p.sweepLevel };
    for (const s of p.members.slice(1)) {
      if (confirmAt[s]! > sweptAt) break; // confirmed after the sweep: too late to count
      sum += levels[s]!;
      count++;
      end = bars[s]!;
      if (confirmAt[s]! < sweptAt)
        events.push({ ...base, at: confirmAt[s]!, kind: 'pool', level: sum / count, end, swept: 0 });
    }
    if (p.swept > 0)
      events.push({ ...base, at: sweptAt, kind: 'swept', level: sum / count, end, swept: p.swept });
  }
  return events.sort((a, b) => a.at - b.at || (a.kind === b.kind ? 0 : a.kind === 'pool' ? -1 : 1));
}
