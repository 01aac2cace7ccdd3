/**
 * ict-confluence: Inner Circle Trader / Smart Money Concepts entries on three timeframes.
 *
 * - **Bias** (higher timeframe, 4h by default): the direction of the last BOS/CHOCH there.
 * - **Zones** (middle timeframe, 1h): order blocks and fair value gaps, live until price closes through
 *   them or they grow old.
 * - **Entries** (the run's timeframe, 15m): a CHOCH, or a sweep of resting liquidity, while price is in
 *   a zone of the trade's side.
 *
 * Six conditions make the confluence score: HTF bias, zone, a BOS/CHOCH, a fresh fair value gap, a
 * liquidity sweep, and the entry timeframe's own structure (higher highs and higher lows for a long).
 * An entry needs its trigger, a zone, and at least `minScore` of the six (3 by default). The stop goes
 * beyond the zone or the swept extreme; the target is the next resting liquidity on the other side (or
 * `rr` times the risk when there is none, or with `target=rr`). A CHOCH against the position closes it;
 * a trailing stop and a time exit are optional.
 *
 * Every SMC input is the live-safe form, and the higher timeframes contribute only candles that had
 * closed by each bar's close, so the decision at bar t uses bars up to t only. The signal message lists
 * which conditions held.
 */
import { z } from 'zod';
import { alignedTimeframe } from '../src/backtest/run.js';
import {
  bosChochLive,
  fvgLive,
  liquidityLive,
  orderBlocksLive,
  swingsLive,
  type Ohlc,
  type StructureEvent,
} from '../src/indicators/smc/index.js';
import { timeframeMs } from '../src/market/timeframe.js';
import type { Candles } from '../src/market/types.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

const PRESETS = {
  default: { minScore: 3, rr: 2, recent: 8, zoneAge: 48, stopBuffer: 0.001, maxBars: 96 },
  aggressive: { minScore: 2, rr: 1.5, recent: 12, zoneAge: 96, stopBuffer: 0.0005, maxBars: 192 },
  conservative: { minScore: 4, rr: 3, recent: 6, zoneAge: 24, stopBuffer: 0.002, maxBars: 64 },
} as const;

const TIMEFRAME = /^\d+[mhdw]$/;
const tf = (what: string, def: string) =>
  z
    .string()
    .regex(TIMEFRAME, `${what} must be a timeframe such as 1h or 4h`)
    .default(def)
    .describe(`${what} timeframe`);

const params = z
  .object({
    preset: z.enum(['default', 'aggressive', 'conservative']).default('default').describe('tuning preset'),
    bias: tf('bias', '4h'),
    zone: tf('zone', '1h'),
    swing: z.number().int().min(2).max(50).default(5).describe('swing length on the entry timeframe'),
    htfSwing: z
      .number()
      .int()
      .min(2)
      .max(50)
      .default(3)
      .describe('swing length on the bias and zone timeframes'),
    minScore: z.number().int().min(1).max(6).optional().describe('conditions needed of six (preset: 3/2/4)'),
    target: z
      .enum(['liquidity', 'rr'])
      .default('liquidity')
      .describe('target the next liquidity or an R multiple'),
    rr: z
      .number()
      .min(0.5)
      .max(20)
      .optional()
      .describe('reward:risk when no liquidity target (preset: 2/1.5/3)'),
    recent: z
      .number()
      .int()
      .min(1)
      .max(500)
      .optional()
      .describe('bars a sweep, FVG or BOS stays recent (preset: 8/12/6)'),
    zoneAge: z
      .number()
      .int()
      .min(1)
      .max(5000)
      .optional()
      .describe('zone lifetime in zone candles (preset: 48/96/24)'),
    stopBuffer: z
      .number()
      .min(0)
      .max(0.05)
      .optional()
      .describe('stop distance beyond the zone or sweep (fraction)'),
    poolTolerance: z
      .number()
      .min(0)
      .max(0.05)
      .default(0.001)
      .describe('equal highs/lows within this fraction'),
    trailActivation: z.number().min(0).max(1).default(0).describe('trailing stop activates after this gain'),
    trailOffset: z.number().min(0).max(0.5).default(0).describe('trailing stop distance (0: off)'),
    maxBars: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .optional()
      .describe('time exit in bars (0: off; preset: 96/192/64)'),
  })
  .strict();

type Params = z.output<typeof params>;

/** The parameters with the preset filled in where none was given. */
function resolve(p: Params) {
  const preset = PRESETS[p.preset];
  return {
    ...p,
    minScore: p.minScore ?? preset.minScore,
    rr: p.rr ?? preset.rr,
    recent: p.recent ?? preset.recent,
    zoneAge: p.zoneAge ?? preset.zoneAge,
    stopBuffer: p.stopBuffer ?? preset.stopBuffer,
    maxBars: p.maxBars ?? preset.maxBars,
  };
}

interface Zone {
  dir: 1 | -1;
  kind: 'OB' | 'FVG';
  top: number;
  bottom: number;
  /** Zone-timeframe candle index at which it became known. */
  known: number;
}

/** For each main bar, the direction (1, -1, 0) of the last structure event known by the aligned candle. */
function biasByBar(events: StructureEvent[], index: Int32Array, htfLength: number): Int8Array {
  const byCandle = new Int8Array(htfLength);
  let e = 0;
  let dir = 0;
  for (let k = 0; k < htfLength; k++) {
    while (e < events.length && events[e]!.at <= k) dir = events[e++]!.dir;
    byCandle[k] = dir;
  }
  return Int8Array.from(index, (k) => (k >= 0 ? byCandle[k]! : 0));
}

function zonesOf(c: Ohlc, swingLength: number): Zone[] {
  const sw = swingsLive(c, swingLength);
  const zones: Zone[] = [];
  for (const b of orderBlocksLive(c, sw))
    zones.push({ dir: b.dir, kind: 'OB', top: b.top, bottom: b.bottom, known: b.at });
  for (const g of fvgLive(c))
    zones.push({ dir: g.dir, kind: 'FVG', top: g.top, bottom: g.bottom, known: g.at });
  return zones.sort((a, b) => a.known - b.known);
}

export default defineStrategy({
  name: 'ict-confluence',
  description: 'ICT/SMC: 4h bias, 1h order blocks and gaps, 15m CHOCH or liquidity sweep; 6-condition score',
  params,
  timeframes: { main: '15m' },
  direction: 'long',
  warmup: (p) => {
    const q = resolve(p);
    // Enough entry bars for a few bias-timeframe swings (counted in 15m bars; more than enough above).
    return Math.ceil(timeframeMs(q.bias) / 900_000) * (q.htfSwing * 8 + 4);
  },
  exits: (p) => {
    const q = resolve(p);
    return {
      ...(q.trailOffset > 0 ? { trailing: { activation: q.trailActivation, offset: q.trailOffset } } : {}),
      ...(q.maxBars > 0 ? { maxBars: q.maxBars } : {}),
    };
  },
  // The six-condition scores against the entry threshold (the HTF bias is one of the six); the
  // bias and candle times are for decision records.
  plot: (p) => ({
    scoreLong: {
      panel: 'Score of 6',
      label: 'Long score of 6',
      min: 0,
      max: 6,
      levels: [resolve(p).minScore],
    },
    scoreShort: { panel: 'Score of 6', label: 'Short score of 6', min: 0, max: 6 },
    bias: 'hidden',
    biasCandle: 'hidden',
    zoneCandle: 'hidden',
  }),
  signals(candles: Candles, p, ctx) {
    const q = resolve(p);
    const n = candles.length;
    const s = emptySignals(n, true);
    const notes: Array<string | undefined> = new Array<string | undefined>(n);
    const { high, low, close } = candles;

    // Higher timeframes, closed candles only.
    const biasTf = alignedTimeframe('ict-confluence', 'bias', q.bias, candles, ctx.timeframeMs);
    const zoneTf = alignedTimeframe('ict-confluence', 'zone', q.zone, candles, ctx.timeframeMs);
    const biasEvents = bosChochLive(biasTf.candles, swingsLive(biasTf.candles, q.htfSwing));
    const bias = biasByBar(biasEvents, biasTf.index, biasTf.candles.length);
    const zones = zonesOf(zoneTf.candles, q.htfSwing);

    // Entry timeframe structure, gaps and liquidity.
    const sw = swingsLive(candles, q.swing);
    const structure = bosChochLive(candles, sw);
    const gaps = fvgLive(candles);
    const pools = liquidityLive(candles, sw, (level) => level * q.poolTolerance);

    const ind = {
      bias: new Float64Array(n),
      scoreLong: new Float64Array(n),
      scoreShort: new Float64Array(n),
      biasCandle: new Float64Array(n).fill(Number.NaN),
      zoneCandle: new Float64Array(n).fill(Number.NaN),
    };
    Object.assign(s.indicators, ind);

    const active: Zone[] = [];
    let z = 0;
    let st = 0;
    let g = 0;
    let pl = 0;
    // Per side (index 0 long, 1 short): last bar of each recent condition and its price.
    const last = [0, 1].map(() => ({
      zone: -Infinity,
      zoneEdge: Number.NaN,
      zoneKind: '',
      struct: -Infinity,
      gap: -Infinity,
      sweep: -Infinity,
      sweepEdge: Number.NaN,
    }));
    const openPools = new Map<string, { dir: 1 | -1; level: number }>();
    let hiPrev = Number.NaN;
    let hiLast = Number.NaN;
    let loPrev = Number.NaN;
    let loLast = Number.NaN;

    for (let t = 0; t < n; t++) {
      const zk = zoneTf.index[t]!;
      if (biasTf.index[t]! >= 0) ind.biasCandle[t] = biasTf.candles.time[biasTf.index[t]!]!;
      if (zk >= 0) ind.zoneCandle[t] = zoneTf.candles.time[zk]!;
      ind.bias[t] = bias[t]!;

      // Zones known by the last closed zone candle; drop the broken and the old.
      while (z < zones.length && zones[z]!.known <= zk) active.push(zones[z++]!);
      for (let i = active.length - 1; i >= 0; i--) {
        const a = active[i]!;
        const broken = a.dir === 1 ? close[t]! < a.bottom : close[t]! > a.top;
        if (broken || zk - a.known > q.zoneAge) active.splice(i, 1);
      }
      for (const a of active) {
        if (low[t]! <= a.top && high[t]! >= a.bottom) {
          const side = last[a.dir === 1 ? 0 : 1]!;
          side.zone = t;
          side.zoneEdge = a.dir === 1 ? a.bottom : a.top;
          side.zoneKind = a.kind;
        }
      }

      // Entry-timeframe events known at this close.
      let chochLong = false;
      let chochShort = false;
      while (st < structure.length && structure[st]!.at <= t) {
        const e = structure[st++]!;
        last[e.dir === 1 ? 0 : 1]!.struct = t;
        if (e.kind === 'choch' && e.at === t) {
          if (e.dir === 1) chochLong = true;
          else chochShort = true;
        }
      }
      while (g < gaps.length && gaps[g]!.at <= t) last[gaps[g]!.dir === 1 ? 0 : 1]!.gap = gaps[g++]!.at;
      let sweptLong = false;
      let sweptShort = false;
      while (pl < pools.length && pools[pl]!.at <= t) {
        const e = pools[pl++]!;
        const key = `${e.dir}:${e.origin}`;
        if (e.kind === 'pool') {
          openPools.set(key, { dir: e.dir, level: e.level });
          continue;
        }
        openPools.delete(key);
        // Sell-side liquidity (equal lows) taken: a long setup; its stop goes under the sweep's low.
        const side = last[e.dir === -1 ? 0 : 1]!;
        side.sweep = t;
        let edge = e.dir === -1 ? Infinity : -Infinity;
        for (let k = e.swept; k <= t; k++)
          edge = e.dir === -1 ? Math.min(edge, low[k]!) : Math.max(edge, high[k]!);
        side.sweepEdge = edge;
        if (e.at === t) {
          if (e.dir === -1) sweptLong = true;
          else sweptShort = true;
        }
      }
      // Entry-timeframe structure from confirmed swings.
      const k = sw.highLow[t]!;
      if (k === 1) {
        if (sw.replaces[t]! < 0) hiPrev = hiLast;
        hiLast = sw.level[t]!;
      } else if (k === -1) {
        if (sw.replaces[t]! < 0) loPrev = loLast;
        loLast = sw.level[t]!;
      }

      for (const dir of [1, -1] as const) {
        const side = last[dir === 1 ? 0 : 1]!;
        const held = [
          bias[t] === dir,
          t - side.zone <= q.recent,
          t - side.struct <= q.recent,
          t - side.gap <= q.recent,
          t - side.sweep <= q.recent,
          dir === 1 ? hiLast > hiPrev && loLast > loPrev : hiLast < hiPrev && loLast < loPrev,
        ];
        const score = held.filter(Boolean).length;
        (dir === 1 ? ind.scoreLong : ind.scoreShort)[t] = score;
        const trigger = dir === 1 ? chochLong || sweptLong : chochShort || sweptShort;
        if (dir === 1 && chochShort) s.exitLong[t] = 1;
        if (dir === -1 && chochLong) s.exitShort[t] = 1;
        if (!trigger || !held[1] || score < q.minScore) continue;

        const entry = close[t]!;
        const edges = [side.zoneEdge, held[4] ? side.sweepEdge : Number.NaN].filter((v) => !Number.isNaN(v));
        const beyond = dir === 1 ? Math.min(...edges) : Math.max(...edges);
        const stop = beyond * (1 - dir * q.stopBuffer);
        const risk = (entry - stop) * dir;
        if (!(risk > 0)) continue;
        let target = entry + dir * q.rr * risk;
        if (q.target === 'liquidity') {
          // The nearest resting liquidity on the other side that pays at least 1R.
          let best = Number.NaN;
          for (const pool of openPools.values()) {
            if (pool.dir !== dir) continue;
            const reward = (pool.level - entry) * dir;
            if (reward >= risk && (Number.isNaN(best) || (pool.level - best) * dir < 0)) best = pool.level;
          }
          if (!Number.isNaN(best)) target = best;
        }
        if (dir === 1) s.enterLong[t] = 1;
        else s.enterShort[t] = 1;
        s.stop![t] = stop;
        s.target![t] = target;
        notes[t] = describe(dir, held, score, q, side.zoneKind, chochLong || chochShort);
      }
    }
    return { ...s, notes };
  },
});

function describe(
  dir: 1 | -1,
  held: boolean[],
  score: number,
  q: ReturnType<typeof resolve>,
  zoneKind: string,
  choch: boolean,
): string {
  const word = dir === 1 ? 'bullish' : 'bearish';
  const labels = [
    `${q.bias} bias ${word}`,
    `${q.zone} ${zoneKind || 'zone'}`,
    choch ? 'CHOCH' : 'BOS/CHOCH',
    'FVG',
    'liquidity sweep',
    dir === 1 ? 'higher highs and lows' : 'lower highs and lows',
  ];
  const marks = labels.map((l, i) => `${held[i] ? '✓' : '✗'} ${l}`);
  return `${score}/6 (min ${q.minScore}): ${marks.join(', ')}`;
}
