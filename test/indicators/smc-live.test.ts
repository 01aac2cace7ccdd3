/**
 * The live-safe SMC forms: each knows only the bars up to the one it reports at (cutting the data
 * changes nothing before the cut), and apart from that shift they agree with the reference forms on the
 * library's EURUSD test set.
 */
import { describe, expect, it } from 'vitest';
import {
  bosChoch,
  bosChochLive,
  fvg,
  fvgLive,
  liquidity,
  liquidityLive,
  orderBlocks,
  orderBlocksLive,
  retracementsLive,
  swingHighsLows,
  swingsLive,
  type Ohlc,
} from '../../src/indicators/smc/index.js';
import { loadEurusd } from '../helpers/eurusd.js';

const L = 5;
const candles = loadEurusd();
const n = candles.length;
const ref = swingHighsLows(candles, L);
const live = swingsLive(candles, L);

function cut(c: Ohlc, t: number): Ohlc {
  return {
    open: (c.open as Float64Array).slice(0, t),
    high: (c.high as Float64Array).slice(0, t),
    low: (c.low as Float64Array).slice(0, t),
    close: (c.close as Float64Array).slice(0, t),
    volume: (c.volume as Float64Array).slice(0, t),
    time: (c.time as Float64Array).slice(0, t),
  };
}

const CUTS = [40, 997, 5000, 12_345, 20_000];

describe('live-safe SMC forms', () => {
  it('swings: each reference swing appears `length` bars later, and the others are replaced later', () => {
    const superseded = new Set<number>();
    for (let t = 0; t < n; t++) if (live.replaces[t]! >= 0) superseded.add(live.replaces[t]!);
    const liveFinal = new Map<number, [number, number]>();
    for (let t = 0; t < n; t++) {
      if (Number.isNaN(live.highLow[t]!)) continue;
      expect(live.origin[t]).toBe(t - L);
      if (!superseded.has(live.origin[t]!))
        liveFinal.set(live.origin[t]!, [live.highLow[t]!, live.level[t]!]);
    }
    const refSwings = new Map<number, [number, number]>();
    for (let i = 1; i < n - 1; i++)
      if (!Number.isNaN(ref.highLow[i]!)) refSwings.set(i, [ref.highLow[i]!, ref.level[i]!]);
    expect(refSwings.size).toBeGreaterThan(2000);
    expect([...liveFinal.entries()]).toEqual([...refSwings.entries()]);
    expect(superseded.size).toBeGreaterThan(0); // the replacing rule is exercised
  });

  it('fair value gaps: the reference gap at a middle candle is known at the next bar, joined or not', () => {
    for (const join of [false, true]) {
      const r = fvg(candles, join);
      const events = fvgLive(candles, join);
      // With joining, the reference keeps the last gap of each run.
      const lastOfRun = events.filter(
        (e, k) => !(join && events[k + 1]?.extends && events[k + 1]!.origin === e.origin + 1),
      );
      const fromLive = lastOfRun.map((e) => [e.origin, e.dir, e.top, e.bottom]);
      const fromRef: number[][] = [];
      for (let i = 0; i < n; i++)
        if (!Number.isNaN(r.fvg[i]!)) fromRef.push([i, r.fvg[i]!, r.top[i]!, r.bottom[i]!]);
      expect(fromLive).toEqual(fromRef);
      for (const e of events) expect(e.at).toBe(e.origin + 1);
    }
  });

  it('structure: every reference BOS/CHOCH is known at its break (or at the confirming swing), same level and break', () => {
    const r = bosChoch(candles, ref);
    const events = bosChochLive(candles, live);
    const byOrigin = new Map(events.map((e) => [e.origin, e]));
    let matched = 0;
    let refCount = 0;
    for (let i = 20; i < n; i++) {
      const kind = !Number.isNaN(r.bos[i]!) ? 'bos' : !Number.isNaN(r.choch[i]!) ? 'choch' : undefined;
      if (!kind) continue;
      refCount++;
      const e = byOrigin.get(i);
      expect(e, `reference ${kind} at ${i}`).toBeDefined();
      expect([e!.kind, e!.dir, e!.level, e!.brokenIndex]).toEqual([
        kind,
        r.bos[i]! || r.choch[i]!,
        r.level[i]!,
        r.brokenIndex[i]!,
      ]);
      expect(e!.at).toBeGreaterThanOrEqual(Math.max(e!.brokenIndex, i + 2 * L));
      matched++;
    }
    expect(refCount).toBeGreaterThan(200);
    expect(matched).toBe(refCount);
    // Events only the live form has: ones the reference later drops because a newer event broke first.
    for (const e of events) {
      if (e.origin < 20) continue;
      if (!Number.isNaN(r.bos[e.origin]!) || !Number.isNaN(r.choch[e.origin]!)) continue;
      expect(r.brokenIndex[e.origin], `live-only event at ${e.origin}`).toBe(e.brokenIndex);
    }
  });

  it('order blocks: where the reference swing was confirmed before it broke, the block is the same, known at the break', () => {
    const r = orderBlocks(candles, ref);
    const events = orderBlocksLive(candles, live);
    let same = 0;
    let comparable = 0;
    const byOrigin = new Map(events.map((e) => [`${e.dir}:${e.origin}`, e]));
    for (const e of events) expect(e.at).toBeGreaterThan(e.origin);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(r.ob[i]!)) continue;
      const e = byOrigin.get(`${r.ob[i]}:${i}`);
      comparable++;
      if (e && e.top === r.top[i] && e.bottom === r.bottom[i]) same++;
    }
    console.log(`order blocks: ${same} of ${comparable} reference blocks found live`);
    expect(comparable).toBeGreaterThan(50);
    expect(same / comparable).toBeGreaterThan(0.5);
  });

  it('liquidity: with the reference tolerance, pools and sweeps agree, each known when its swings are confirmed', () => {
    let hi = -Infinity;
    let lo = Infinity;
    for (let i = 0; i < n; i++) {
      hi = Math.max(hi, candles.high[i]!);
      lo = Math.min(lo, candles.low[i]!);
    }
    const pip = (hi - lo) * 0.01;
    const r = liquidity(candles, ref, 0.01);
    const events = liquidityLive(candles, live, () => pip);
    const last = new Map<string, (typeof events)[number]>();
    for (const e of events) last.set(`${e.dir}:${e.origin}`, e);
    let same = 0;
    let count = 0;
    for (let i = 1; i < n; i++) {
      if (Number.isNaN(r.liquidity[i]!)) continue;
      count++;
      const e = last.get(`${r.liquidity[i]}:${i}`);
      if (e && Math.fround(e.level) === r.level[i] && e.end === r.end[i] && e.swept === r.swept[i]) same++;
    }
    console.log(`liquidity: ${same} of ${count} reference pools identical live`);
    expect(same / count).toBeGreaterThan(0.5);
  });

  it('no live form changes what it said before a cut when the data is cut', () => {
    const tol = (level: number) => level * 0.001;
    const all = {
      swings: live,
      structure: bosChochLive(candles, live),
      gaps: fvgLive(candles, true),
      blocks: orderBlocksLive(candles, live),
      pools: liquidityLive(candles, live, tol),
      retrace: retracementsLive(candles, live),
    };
    for (const t of CUTS) {
      const c = cut(candles, t);
      const s = swingsLive(c, L);
      expect(Array.from(s.highLow)).toEqual(Array.from(all.swings.highLow.subarray(0, t)));
      expect(Array.from(s.origin)).toEqual(Array.from(all.swings.origin.subarray(0, t)));
      expect(Array.from(s.replaces)).toEqual(Array.from(all.swings.replaces.subarray(0, t)));
      const before = <E extends { at: number }>(events: E[]) => events.filter((e) => e.at < t);
      expect(bosChochLive(c, s)).toEqual(before(all.structure));
      expect(fvgLive(c, true)).toEqual(before(all.gaps));
      expect(orderBlocksLive(c, s)).toEqual(before(all.blocks));
      expect(liquidityLive(c, s, tol)).toEqual(before(all.pools));
      const rl = retracementsLive(c, s);
      expect(Array.from(rl.current)).toEqual(Array.from(all.retrace.current.subarray(0, t)));
    }
  });
});
