/** Each SMC concept on small hand-made candles, with the answers worked out here. */
import { describe, expect, it } from 'vitest';
import {
  bosChoch,
  bosChochLive,
  fvg,
  fvgLive,
  liquidityLive,
  orderBlocks,
  previousHighLow,
  previousPeriodLevels,
  retracementsLive,
  sessions,
  swingHighsLows,
  swingsLive,
  type LiveSwings,
  type Swings,
} from '../../src/indicators/smc/index.js';

const HOUR = 3_600_000;

/** Candles from [high, low] pairs (open and close inside), or full rows. */
function bars(rows: Array<[number, number] | [number, number, number, number]>, start = 0, step = HOUR) {
  const n = rows.length;
  const c = {
    time: Float64Array.from({ length: n }, (_, i) => start + i * step),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n).fill(1),
  };
  rows.forEach((r, i) => {
    const [h, l, o, cl] = r.length === 4 ? r : [r[0], r[1], (r[0] + r[1]) / 2, (r[0] + r[1]) / 2];
    c.high[i] = h;
    c.low[i] = l;
    c.open[i] = o;
    c.close[i] = cl;
  });
  return c;
}

/** Swings placed by hand: [bar, 1 | -1, level]. */
function swingsAt(n: number, marks: Array<[number, 1 | -1, number]>): Swings {
  const highLow = new Float64Array(n).fill(Number.NaN);
  const level = new Float64Array(n).fill(Number.NaN);
  for (const [i, k, l] of marks) {
    highLow[i] = k;
    level[i] = l;
  }
  return { highLow, level };
}

describe('swings', () => {
  // length 2: a bar is a swing high when its high is the highest of the bar before it, itself and the two after.
  const c = bars([
    [5, 4],
    [6, 5],
    [7, 6],
    [10, 8],
    [9, 7],
    [8, 5],
    [7, 3],
    [8, 4],
    [9, 6],
    [10, 7],
    [11, 8],
    [12, 9],
  ]);

  it('marks the highest high and lowest low of their windows, and the ends opposite the first and last swing', () => {
    const s = swingHighsLows(c, 2);
    // bar 3: high 10 is the top of bars 2..5; bar 6: low 3 is the bottom of bars 5..8; nothing else qualifies.
    const marks = Array.from(s.highLow).flatMap((k, i) => (Number.isNaN(k) ? [] : [[i, k, s.level[i]]]));
    expect(marks).toEqual([
      [0, -1, 4], // first swing is a high, so bar 0 is marked a low
      [3, 1, 10],
      [6, -1, 3],
      [11, 1, 12], // last swing is a low, so the last bar is marked a high
    ]);
  });

  it('live: each swing appears two bars later, at the bar that confirms it', () => {
    const s = swingsLive(c, 2);
    expect([s.highLow[5], s.level[5], s.origin[5]]).toEqual([1, 10, 3]);
    expect([s.highLow[8], s.level[8], s.origin[8]]).toEqual([-1, 3, 6]);
    expect(Array.from(s.highLow).filter((k) => !Number.isNaN(k))).toHaveLength(2);
  });

  it('of two highs with no low between, keeps the higher; live, the higher replaces the first', () => {
    // highs at bar 3 (10) and bar 6 (11); lows rise from bar 3 on, so no low is the bottom of its window
    const d = bars([
      [5, 4],
      [6, 5],
      [7, 6],
      [10, 8],
      [9, 8.2],
      [9, 8.4],
      [11, 8.6],
      [10, 8.8],
      [9, 9],
      [8, 9.2],
      [7, 9.4],
    ]);
    const s = swingHighsLows(d, 2);
    expect(s.highLow[3]).toBeNaN();
    expect(s.highLow[6]).toBe(1);
    const l = swingsLive(d, 2);
    expect([l.highLow[5], l.origin[5]]).toEqual([1, 3]);
    expect([l.highLow[8], l.origin[8], l.replaces[8]]).toEqual([1, 6, 3]);
  });

  it('refuses a length that is not a whole number from 1', () => {
    expect(() => swingHighsLows(c, 0)).toThrow(/swing length is 0; allowed: a whole number from 1/);
  });
});

describe('BOS and CHOCH', () => {
  const flat = (n: number, close: number, at: Record<number, number>) =>
    bars(
      Array.from({ length: n }, (_, i) => {
        const cl = at[i] ?? close;
        return [cl + 0.5, cl - 0.5, cl, cl] as [number, number, number, number];
      }),
    );

  it('bullish BOS: low 10, high 15, higher low 12, higher high 18; broken by the first close above 15', () => {
    const c = flat(14, 13, { 7: 16 });
    const r = bosChoch(
      c,
      swingsAt(14, [
        [0, -1, 10],
        [3, 1, 15],
        [6, -1, 12],
        [9, 1, 18],
      ]),
    );
    expect([r.bos[3], r.choch[3], r.level[3], r.brokenIndex[3]]).toEqual([1, Number.NaN, 15, 7]);
  });

  it('bearish CHOCH: high 15, low 10, higher high 18, then a low under 10; broken by a close under 10', () => {
    const c = flat(14, 12, { 8: 9 });
    const r = bosChoch(
      c,
      swingsAt(14, [
        [0, 1, 15],
        [3, -1, 10],
        [6, 1, 18],
        [9, -1, 8],
      ]),
    );
    expect([r.bos[3], r.choch[3], r.level[3], r.brokenIndex[3]]).toEqual([Number.NaN, -1, 10, 8]);
  });

  it('an unbroken pattern is no event', () => {
    const c = flat(14, 13, {});
    const r = bosChoch(
      c,
      swingsAt(14, [
        [0, -1, 10],
        [3, 1, 15],
        [6, -1, 12],
        [9, 1, 18],
      ]),
    );
    expect(r.bos[3]).toBeNaN();
  });

  it('live: known at the break, once the fourth swing is confirmed', () => {
    const c = flat(16, 13, { 7: 16 });
    const live: LiveSwings = {
      highLow: new Float64Array(16).fill(Number.NaN),
      level: new Float64Array(16).fill(Number.NaN),
      origin: new Int32Array(16).fill(-1),
      replaces: new Int32Array(16).fill(-1),
    };
    // swings at 0, 3, 6, 9 confirmed two bars later
    for (const [i, k, l] of [
      [0, -1, 10],
      [3, 1, 15],
      [6, -1, 12],
      [9, 1, 18],
    ] as const) {
      live.highLow[i + 2] = k;
      live.level[i + 2] = l;
      live.origin[i + 2] = i;
    }
    // the close broke 15 at bar 7, but the pattern is complete only at bar 11
    expect(bosChochLive(c, live)).toEqual([
      { at: 11, kind: 'bos', dir: 1, origin: 3, level: 15, brokenIndex: 7 },
    ]);
  });
});

describe('fair value gaps', () => {
  // bar 1 rallies from 10.5 to 13.8: bar 0's high (11) and bar 2's low (12) leave 11..12 untraded
  const c = bars([
    [11, 9, 10, 10.5],
    [14, 10.4, 10.5, 13.8],
    [15, 12, 13.8, 14.5],
    [16, 13, 14.5, 15.5],
    [15.5, 11.8, 15.5, 12],
    [13, 11, 12, 11.5],
  ]);

  it('a bullish gap at the middle candle spans bar 0 high to bar 2 low, mitigated when a low comes back to its top', () => {
    const g = fvg(c);
    expect([g.fvg[1], g.top[1], g.bottom[1], g.mitigatedIndex[1]]).toEqual([1, 12, 11, 4]);
    expect(Array.from(g.fvg).filter((v) => !Number.isNaN(v))).toHaveLength(1);
  });

  it('joins consecutive same-side gaps into one at the last, highest top and lowest bottom', () => {
    const d = bars([
      [11, 9, 10, 10.5],
      [14, 10.4, 10.5, 13.8], // gap 11..12 (bar 2 low 12)
      [17, 12, 13.8, 16.8], // gap 14..15 (bar 1 high 14, bar 3 low 15)
      [18, 15, 16.8, 17.5],
    ]);
    const g = fvg(d, true);
    expect([g.fvg[1], g.fvg[2], g.top[2], g.bottom[2], g.mitigatedIndex[2]]).toEqual([
      Number.NaN,
      1,
      15,
      11,
      0,
    ]);
    const live = fvgLive(d, true);
    expect(live.map((e) => [e.at, e.origin, e.top, e.bottom, e.extends])).toEqual([
      [2, 1, 12, 11, false],
      [3, 2, 15, 11, true],
    ]);
  });

  it('live: the gap is known at the bar that completes it', () => {
    expect(fvgLive(c)).toEqual([{ at: 2, origin: 1, dir: 1, top: 12, bottom: 11, extends: false }]);
  });
});

describe('order blocks', () => {
  it('a close above the swing high makes the lowest candle since the swing a bullish block, with volume and strength', () => {
    const c = bars([
      [10, 9],
      [11, 10],
      [12, 10.5],
      [11, 9],
      [10, 8],
      [13, 9, 9.5, 12.5],
      [14, 12],
      [13, 10],
      [12, 7],
    ]);
    c.volume.set([1, 1, 1, 100, 50, 150, 1, 1, 1]);
    const o = orderBlocks(c, swingsAt(9, [[2, 1, 12]]));
    // bar 5 closes 12.5 > 12: bars 3..4 lie between; bar 4 has the lowest low (8), so it is the block.
    expect([o.ob[4], o.top[4], o.bottom[4]]).toEqual([1, 10, 8]);
    // volume: bars 5, 4, 3 = 150 + 50 + 100; strength: (150 + 50) against 100 -> 100 / 200 = 50 %
    expect([o.volume[4], o.percentage[4]]).toEqual([300, 50]);
    // bar 8's low 7 trades through the bottom; the reference records the bar before it (7) for bullish blocks
    expect(o.mitigatedIndex[4]).toBe(7);
  });
});

describe('liquidity', () => {
  it('two highs within the tolerance form a pool at their average, swept by the first high beyond the band', () => {
    const c = bars([
      [9, 8],
      [9.5, 8],
      [10, 9],
      [9, 8],
      [9.2, 8],
      [9.4, 8],
      [10.05, 9],
      [9.6, 8],
      [9.5, 8],
      [10.2, 9],
      [9, 8],
    ]);
    const live: LiveSwings = {
      highLow: new Float64Array(11).fill(Number.NaN),
      level: new Float64Array(11).fill(Number.NaN),
      origin: new Int32Array(11).fill(-1),
      replaces: new Int32Array(11).fill(-1),
    };
    // swing highs at 2 (10) and 6 (10.05), each confirmed two bars later
    for (const [i, l] of [
      [2, 10],
      [6, 10.05],
    ] as const) {
      live.highLow[i + 2] = 1;
      live.level[i + 2] = l;
      live.origin[i + 2] = i;
    }
    const events = liquidityLive(c, live, () => 0.1);
    // band 9.9..10.1 around the first; 10.05 joins; average 10.025; bar 9's high 10.2 >= 10.1 sweeps it
    expect(events.map((e) => [e.at, e.kind, e.origin, e.end, e.swept])).toEqual([
      [8, 'pool', 2, 6, 0],
      [9, 'swept', 2, 6, 9],
    ]);
    expect(events[1]!.level).toBeCloseTo(10.025, 12);
  });
});

describe('previous period levels and sessions', () => {
  // hourly bars over three days from 2024-01-01 (a Monday) 00:00 UTC; day 1 ranges 90..110, day 2 95..105
  const start = Date.UTC(2024, 0, 1);
  const rows: Array<[number, number]> = [];
  for (let h = 0; h < 72; h++)
    rows.push(
      h < 24
        ? h === 5
          ? [110, 100]
          : h === 9
            ? [100, 90]
            : [100, 99]
        : h < 48
          ? [h === 30 ? 105 : 101, h === 40 ? 95 : 100]
          : [120, 99],
    );
  const c = bars(rows, start);

  it('previous day: inside day 2 it is day 1; on day 3 it is day 2, and BrokenHigh latches when price passes it', () => {
    const p = previousHighLow(c, '1d');
    expect([p.previousHigh[30], p.previousLow[30]]).toEqual([110, 90]);
    expect([p.previousHigh[50], p.previousLow[50], p.brokenHigh[50], p.brokenLow[50]]).toEqual([
      105, 95, 1, 0,
    ]);
    // the reference's first bar of a day still sees the day before the previous one (here: none yet)
    expect(p.previousHigh[24]).toBeNaN();
    expect(p.previousHigh[48]).toBe(110);
  });

  it('the live form gives the last completed day on every bar, the first bar of a day included', () => {
    const p = previousPeriodLevels(c, '1d');
    expect([p.high[23], p.high[24], p.low[24], p.high[48], p.low[48]]).toEqual([
      Number.NaN,
      110,
      90,
      105,
      95,
    ]);
  });

  it('London session (07:00-16:00 UTC, both ends included) carries its running high and low', () => {
    const s = sessions(c, 'london');
    expect(Array.from(s.active.subarray(0, 24))).toEqual(
      Array.from({ length: 24 }, (_, h) => (h >= 7 && h <= 16 ? 1 : 0)),
    );
    expect([s.high[8], s.low[8], s.high[9], s.low[9], s.high[16], s.low[17]]).toEqual([
      100, 99, 100, 90, 100, 0,
    ]);
  });

  it('a session in a time zone follows its daylight saving time', () => {
    const window = { start: '08:00', end: '17:00', timeZone: 'Europe/London' };
    const winter = sessions(bars([[1, 0]], Date.UTC(2024, 0, 10, 7)), window); // 07:00 UTC = 07:00 GMT
    const summer = sessions(bars([[1, 0]], Date.UTC(2024, 6, 10, 7)), window); // 07:00 UTC = 08:00 BST
    expect([winter.active[0], summer.active[0]]).toEqual([0, 1]);
    expect(() => sessions(c, { start: '25:00', end: '10:00' })).toThrow(/allowed: HH:MM/);
    expect(() => sessions(c, { start: '08:00', end: '10:00', timeZone: 'Mars/Olympus' })).toThrow(
      /time zone/,
    );
  });
});

describe('retracements', () => {
  it('after a confirmed swing high, the depth of each low into the range from the last low', () => {
    const live: LiveSwings = {
      highLow: Float64Array.from([Number.NaN, -1, Number.NaN, 1, Number.NaN, Number.NaN]),
      level: Float64Array.from([Number.NaN, 10, Number.NaN, 20, Number.NaN, Number.NaN]),
      origin: Int32Array.from([-1, 0, -1, 2, -1, -1]),
      replaces: new Int32Array(6).fill(-1),
    };
    const c = bars([
      [20, 10],
      [19, 12],
      [20, 14],
      [19, 15],
      [18, 17.5],
      [19, 12.5],
    ]);
    const r = retracementsLive(c, live);
    // range 10..20: low 15 is 50 % back, 17.5 is 25 %, 12.5 is 75 %; the deepest holds the largest
    expect(Array.from(r.current.subarray(3))).toEqual([50, 25, 75]);
    expect(Array.from(r.deepest.subarray(3))).toEqual([50, 50, 75]);
  });
});
