/**
 * Order blocks: the candle where the move that broke a swing started. When a close goes above the last
 * swing high, the bullish block is the candle with the lowest low between that swing and the break (its
 * high and low are the block); when a close goes below the last swing low, the bearish block is the
 * candle with the highest high. Each block carries the volume of the breaking candle and the two before
 * it, and a strength percentage: the smaller of the two volume parts (the breaking candle and the one
 * before, against the one before that) over the larger.
 *
 * A block is mitigated when price trades through it (a low under a bullish block's bottom, or with
 * `closeMitigation` the candle body); it then becomes a breaker, and a breaker disappears when price
 * comes back over its other side.
 *
 * `orderBlocks` is the reference library's form, row for row, using its swings (which sit at their own
 * bars, before they are confirmed). `orderBlocksLive` uses only swings confirmed by each bar and gives
 * each block at the bar that formed it.
 */
import { f32, nanArray, type Ohlc } from './scan.js';
import type { LiveSwings, Swings } from './swings.js';

export interface OrderBlocks {
  /** 1 bullish, -1 bearish at the block's candle; NaN elsewhere. */
  readonly ob: Float64Array;
  readonly top: Float64Array;
  readonly bottom: Float64Array;
  /** Volume of the breaking candle and the two before it. */
  readonly volume: Float64Array;
  /** The bar that mitigated the block (0 if none). */
  readonly mitigatedIndex: Float64Array;
  /** Strength 0-100 (whole number). */
  readonly percentage: Float64Array;
}

export interface OrderBlockEvent {
  /** The bar whose close broke the swing and formed the block. */
  readonly at: number;
  /** The block's candle. */
  readonly origin: number;
  /** The swing that was broken. */
  readonly swing: number;
  readonly dir: 1 | -1;
  readonly top: number;
  readonly bottom: number;
  readonly volume: number;
  readonly percentage: number;
}

/** For each bar, the index of the last swing of a kind that counts at that bar (-1 if none). */
type SwingPointer = (i: number) => number;

interface Arrays {
  ob: Int8Array;
  top: Float64Array;
  bottom: Float64Array;
  volume: Float64Array;
  mitigated: Float64Array;
  percentage: Float64Array;
  breaker: Uint8Array;
  crossed: Uint8Array;
}

/**
 * The reference's two passes (all bullish bars first, then all bearish bars, over shared arrays, so a
 * bearish block can overwrite a bullish one on the same candle).
 */
function run(
  c: Ohlc,
  lastHigh: SwingPointer,
  lastLow: SwingPointer,
  closeMitigation: boolean,
  form: 'reference' | 'live',
  onCreate?: (e: OrderBlockEvent) => void,
): Arrays {
  const n = c.close.length;
  const { open, high, low, close } = c;
  const vol = c.volume;
  // Below bar 0 the reference reads from the end of the data; the live form cannot, and reads 0.
  const v = (i: number) => (!vol ? 0 : i >= 0 ? vol[i]! : form === 'live' ? 0 : vol[i + n]!);
  const a: Arrays = {
    ob: new Int8Array(n),
    top: new Float64Array(n),
    bottom: new Float64Array(n),
    volume: new Float64Array(n),
    mitigated: new Float64Array(n),
    percentage: new Float64Array(n),
    breaker: new Uint8Array(n),
    crossed: new Uint8Array(n),
  };
  const reset = (j: number) => {
    a.ob[j] = 0;
    a.top[j] = a.bottom[j] = a.volume[j] = a.mitigated[j] = a.percentage[j] = 0;
  };
  const strength = (hv: number, lv: number) => {
    const big = Math.max(hv, lv);
    return Math.trunc((big !== 0 ? f32(Math.min(hv, lv) / big) : 1) * 100);
  };

  for (const dir of [1, -1] as const) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) {
      // Existing blocks of this side: mitigation, then a breaker's end.
      let w = 0;
      for (let r = 0; r < active.length; r++) {
        const j = active[r]!;
        if (a.ob[j] !== dir) continue;
        if (a.breaker[j]) {
          if (dir === 1 ? high[i]! > a.top[j]! : low[i]! < a.bottom[j]!) {
            reset(j);
            continue;
          }
        } else if (dir === 1) {
          const through = closeMitigation ? Math.min(open[i]!, close[i]!) : low[i]!;
          if (through < a.bottom[j]!) {
            a.breaker[j] = 1;
            a.mitigated[j] = i - 1;
          }
        } else {
          const through = closeMitigation ? Math.max(open[i]!, close[i]!) : high[i]!;
          if (through > a.top[j]!) {
            a.breaker[j] = 1;
            a.mitigated[j] = i;
          }
        }
        active[w++] = j;
      }
      active.length = w;

      // A close beyond the last swing forms a block.
      const s = dir === 1 ? lastHigh(i) : lastLow(i);
      if (s < 0 || a.crossed[s]) continue;
      if (dir === 1 ? !(close[i]! > high[s]!) : !(close[i]! < low[s]!)) continue;
      a.crossed[s] = 1;
      let obIndex = i - 1;
      let obTop: number;
      let obBtm: number;
      if (dir === 1) {
        obBtm = high[i - 1]!;
        obTop = low[i - 1]!;
        for (let j = s + 1; j < i; j++) {
          obBtm = Math.min(low[j]!, obBtm);
          if (obBtm === low[j]) {
            obTop = high[j]!;
            obIndex = j;
          }
        }
      } else {
        obBtm = low[i - 1]!;
        obTop = high[i - 1]!;
        for (let j = s + 1; j < i; j++) {
          obTop = Math.max(high[j]!, obTop);
          if (obTop === high[j]) {
            obBtm = low[j]!;
            obIndex = j;
          }
        }
      }
      const recent = v(i) + v(i - 1);
      const older = v(i - 2);
      const hv = f32(dir === 1 ? recent : older);
      const lv = f32(dir === 1 ? older : recent);
      const k = obIndex; // the swing is before bar i, so i >= 1 and the block's bar >= 0
      if (a.ob[k] !== dir) active.push(k);
      a.ob[k] = dir;
      a.top[k] = f32(obTop);
      a.bottom[k] = f32(obBtm);
      a.volume[k] = f32(v(i) + v(i - 1) + v(i - 2));
      a.percentage[k] = strength(hv, lv);
      onCreate?.({
        at: i,
        origin: k,
        swing: s,
        dir,
        top: a.top[k]!,
        bottom: a.bottom[k]!,
        volume: a.volume[k]!,
        percentage: a.percentage[k]!,
      });
    }
  }
  return a;
}

/** The reference library's ob(ohlc, swing_highs_lows, close_mitigation). */
export function orderBlocks(c: Ohlc, swings: Swings, closeMitigation = false): OrderBlocks {
  const n = c.close.length;
  // The last swing of each kind strictly before each bar.
  const lastHigh = new Int32Array(n).fill(-1);
  const lastLow = new Int32Array(n).fill(-1);
  for (let i = 1; i < n; i++) {
    const k = swings.highLow[i - 1];
    lastHigh[i] = k === 1 ? i - 1 : lastHigh[i - 1]!;
    lastLow[i] = k === -1 ? i - 1 : lastLow[i - 1]!;
  }
  const a = run(
    c,
    (i) => lastHigh[i]!,
    (i) => lastLow[i]!,
    closeMitigation,
    'reference',
  );
  const out: OrderBlocks = {
    ob: nanArray(n),
    top: nanArray(n),
    bottom: nanArray(n),
    volume: nanArray(n),
    mitigatedIndex: nanArray(n),
    percentage: nanArray(n),
  };
  for (let i = 0; i < n; i++) {
    if (a.ob[i] === 0) continue;
    out.ob[i] = a.ob[i]!;
    out.top[i] = a.top[i]!;
    out.bottom[i] = a.bottom[i]!;
    out.volume[i] = a.volume[i]!;
    out.mitigatedIndex[i] = a.mitigated[i]!;
    out.percentage[i] = a.percentage[i]!;
  }
  return out;
}

/**
 * Order blocks as they form, from swings confirmed by each bar: a close beyond the last confirmed swing
 * forms the block at that close. Where the reference's swing was already confirmed when it broke, the
 * block is the reference's block.
 */
export function orderBlocksLive(c: Ohlc, swings: LiveSwings, closeMitigation = false): OrderBlockEvent[] {
  const n = c.close.length;
  const lastHigh = new Int32Array(n).fill(-1);
  const lastLow = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = swings.highLow[i];
    const prevHigh = i > 0 ? lastHigh[i - 1]! : -1;
    const prevLow = i > 0 ? lastLow[i - 1]! : -1;
    lastHigh[i] = k === 1 ? swings.origin[i]! : prevHigh;
    lastLow[i] = k === -1 ? swings.origin[i]! : prevLow;
  }
  const events: OrderBlockEvent[] = [];
  run(
    c,
    (i) => lastHigh[i]!,
    (i) => lastLow[i]!,
    closeMitigation,
    'live',
    (e) => events.push(e),
  );
  return events.sort((x, y) => x.at - y.at || x.dir - y.dir);
}
