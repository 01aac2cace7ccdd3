/**
 * Market structure: break of structure (BOS) and change of character (CHOCH).
 *
 * Four alternating swings make a pattern. With L4, L3, L2, L1 from oldest to newest:
 * - bullish BOS: low, high, low, high with L4 < L2 < L3 < L1 (higher lows, higher highs);
 * - bearish BOS: high, low, high, low with L4 > L2 > L3 > L1;
 * - bullish CHOCH: low, high, low, high with L1 > L3 > L4 > L2 (a lower low, then a higher high);
 * - bearish CHOCH: high, low, high, low with L1 < L3 < L4 < L2.
 * The level is L3's price, and the event counts only once a close (or the high/low, with
 * `closeBreak` false) goes beyond it, from two bars after L3 on.
 *
 * `bosChoch` is the reference library's form: the event sits at L3's bar, with the bar that broke it;
 * an event broken only after a later event broke is dropped (its BrokenIndex stays, as there).
 * `bosChochLive` gives each event at the bar it became known: when L1 is confirmed and the level is
 * broken, whichever comes last.
 */
import { f32, FirstReach, nanArray, type Ohlc } from './scan.js';
import type { LiveSwings, Swings } from './swings.js';

export interface Structure {
  /** 1 bullish, -1 bearish break of structure at the broken swing's bar; NaN elsewhere. */
  readonly bos: Float64Array;
  /** 1 bullish, -1 bearish change of character at the broken swing's bar; NaN elsewhere. */
  readonly choch: Float64Array;
  /** The broken level (float32, as the reference stores it). */
  readonly level: Float64Array;
  /** The bar whose close broke the level. */
  readonly brokenIndex: Float64Array;
}

/** One structure event as it became known. */
export interface StructureEvent {
  /** The bar at whose close the event is known. */
  readonly at: number;
  readonly kind: 'bos' | 'choch';
  /** 1 bullish, -1 bearish. */
  readonly dir: 1 | -1;
  /** The broken swing's bar and price. */
  readonly origin: number;
  readonly level: number;
  /** The bar that broke the level (<= at). */
  readonly brokenIndex: number;
}

type Pattern = { kind: 'bos' | 'choch'; dir: 1 | -1 } | undefined;

/** The pattern the last four swings (oldest first) make, if any. */
function pattern(
  k4: number,
  k3: number,
  k2: number,
  k1: number,
  l4: number,
  l3: number,
  l2: number,
  l1: number,
): Pattern {
  if (k4 === -1 && k3 === 1 && k2 === -1 && k1 === 1) {
    if (l1 > l3 && l3 > l4 && l4 > l2) return { kind: 'choch', dir: 1 };
    if (l4 < l2 && l2 < l3 && l3 < l1) return { kind: 'bos', dir: 1 };
  } else if (k4 === 1 && k3 === -1 && k2 === 1 && k1 === -1) {
    if (l1 < l3 && l3 < l4 && l4 < l2) return { kind: 'choch', dir: -1 };
    if (l4 > l2 && l2 > l3 && l3 > l1) return { kind: 'bos', dir: -1 };
  }
  return undefined;
}

/** The pattern of the last four swings in the lists (kinds 1/-1 and their levels), if any. */
function lastPattern(kinds: readonly number[], levels: readonly number[]): Pattern {
  const m = kinds.length;
  return pattern(
    kinds[m - 4]!,
    kinds[m - 3]!,
    kinds[m - 2]!,
    kinds[m - 1]!,
    levels[m - 4]!,
    levels[m - 3]!,
    levels[m - 2]!,
    levels[m - 1]!,
  );
}

/** Answers "first bar from `from` on that closes beyond `level`" in O(log n). */
class Breaks {
  private readonly up: FirstReach;
  private readonly down: FirstReach;
  constructor(c: Ohlc, closeBreak: boolean) {
    this.up = new FirstReach(closeBreak ? c.close : c.high, 'max');
    this.down = new FirstReach(closeBreak ? c.close : c.low, 'min');
  }
  first(dir: 1 | -1, from: number, level: number): number {
    return dir === 1 ? this.up.first(from, level, true) : this.down.first(from, level, true);
  }
}

/** The reference library's bos_choch(ohlc, swing_highs_lows, close_break). */
export function bosChoch(c: Ohlc, swings: Swings, closeBreak = true): Structure {
  const n = c.close.length;
  const bos = new Int8Array(n);
  const choch = new Int8Array(n);
  const level = new Float64Array(n);
  const kinds: number[] = [];
  const levels: number[] = [];
  const positions: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = swings.highLow[i]!;
    if (Number.isNaN(k)) continue;
    kinds.push(k);
    levels.push(swings.level[i]!);
    const m = kinds.length;
    if (m >= 4) {
      const p = positions[positions.length - 2]!;
      const found = lastPattern(kinds, levels);
      bos[p] = found?.kind === 'bos' ? found.dir : 0;
      choch[p] = found?.kind === 'choch' ? found.dir : 0;
      level[p] = found ? f32(levels[m - 3]!) : 0;
    }
    positions.push(i);
  }

  const breaks = new Breaks(c, closeBreak);
  const broken = new Float64Array(n);
  // Events already broken, by break bar: a later event broken first removes them.
  const heap = new MaxHeap();
  for (let i = 0; i < n; i++) {
    const dir = (bos[i] || choch[i]) as -1 | 0 | 1;
    if (dir === 0) continue;
    const j = breaks.first(dir, i + 2, level[i]!);
    if (j < 0) continue;
    broken[i] = j;
    while (heap.size > 0 && heap.peekKey() >= j) {
      const k = heap.pop();
      bos[k] = 0;
      choch[k] = 0;
      level[k] = 0;
    }
    heap.push(j, i);
  }

  const out: Structure = {
    bos: nanArray(n),
    choch: nanArray(n),
    level: nanArray(n),
    brokenIndex: nanArray(n),
  };
  for (let i = 0; i < n; i++) {
    if (broken[i] !== 0) (out.brokenIndex as Float64Array)[i] = broken[i]!;
    if (broken[i] === 0 || (bos[i] === 0 && choch[i] === 0)) continue;
    if (bos[i] !== 0) out.bos[i] = bos[i]!;
    if (choch[i] !== 0) out.choch[i] = choch[i]!;
    out.level[i] = level[i]!;
  }
  return out;
}

/**
 * BOS and CHOCH as they became known, from live swings: the pattern is checked each time a swing is
 * confirmed (or replaced by a more extreme one), and an event is given at the later of that bar and the
 * bar that broke its level. The reference's events all appear here with the same level and break;
 * here also stand the events the reference drops once a later event breaks first, which a live
 * trader had already seen.
 */
export function bosChochLive(c: Ohlc, swings: LiveSwings, closeBreak = true): StructureEvent[] {
  const n = c.close.length;
  const breaks = new Breaks(c, closeBreak);
  const kinds: number[] = [];
  const levels: number[] = [];
  const origins: number[] = [];
  const seen = new Set<number>();
  const events: StructureEvent[] = [];
  for (let t = 0; t < n; t++) {
    const k = swings.highLow[t]!;
    if (Number.isNaN(k)) continue;
    if (swings.replaces[t]! >= 0 && kinds.length > 0) {
      levels[levels.length - 1] = swings.level[t]!;
      origins[origins.length - 1] = swings.origin[t]!;
    } else {
      kinds.push(k);
      levels.push(swings.level[t]!);
      origins.push(swings.origin[t]!);
    }
    const m = kinds.length;
    if (m < 4) continue;
    const found = lastPattern(kinds, levels);
    const origin = origins[m - 3]!;
    if (!found || seen.has(origin)) continue;
    const level = f32(levels[m - 3]!);
    const j = breaks.first(found.dir, origin + 2, level);
    if (j < 0) continue;
    seen.add(origin);
    events.push({ at: Math.max(j, t), kind: found.kind, dir: found.dir, origin, level, brokenIndex: j });
  }
  return events.sort((a, b) => a.at - b.at || a.origin - b.origin);
}

/** A binary max-heap of (key, value) pairs. */
class MaxHeap {
  private keys: number[] = [];
  private values: number[] = [];
  get size(): number {
    return this.keys.length;
  }
  peekKey(): number {
    return this.keys[0]!;
  }
  push(key: number, value: number): void {
    const { keys, values } = this;
    let i = keys.length;
    keys.push(key);
    values.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! >= keys[i]!) break;
      [keys[parent], keys[i]] = [keys[i]!, keys[parent]!];
      [values[parent], values[i]] = [values[i]!, values[parent]!];
      i = parent;
    }
  }
  pop(): number {
    const { keys, values } = this;
    const top = values[0]!;
    const lastKey = keys.pop()!;
    const lastValue = values.pop()!;
    if (keys.length > 0) {
      keys[0] = lastKey;
      values[0] = lastValue;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let big = i;
        if (l < keys.length && keys[l]! > keys[big]!) big = l;
        if (r < keys.length && keys[r]! > keys[big]!) big = r;
        if (big === i) break;
        [keys[big], keys[i]] = [keys[i]!, keys[big]!];
        [values[big], values[i]] = [values[i]!, values[big]!];
        i = big;
      }
    }
    return top;
  }
}
