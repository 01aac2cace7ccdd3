/**
 * Row-for-row parity with the open-source `smartmoneyconcepts` library (its own EURUSD 15m test set
 * and outputs, test/fixtures/smc/; the README there gives each call). Cells the library stores as
 * float32 are compared as float32; everything else exactly.
 */
import { describe, expect, it } from 'vitest';
import {
  bosChoch,
  fvg,
  liquidity,
  orderBlocks,
  previousHighLow,
  retracements,
  sessions,
  swingHighsLows,
} from '../../src/indicators/smc/index.js';
import { loadEurusd } from '../helpers/eurusd.js';
import { FIXTURES, readColumns } from '../helpers/fixtures.js';

const DIR = `${FIXTURES}smc/`;

const candles = loadEurusd();
const swings = swingHighsLows(candles, 5);

type Column = ArrayLike<number>;

/** The first rows where ours and the reference differ (at most 5), as readable lines. */
function mismatches(ours: Column, ref: Column, float32 = false): string[] {
  const out: string[] = [];
  if (ours.length !== ref.length) return [`length ${ours.length} against ${ref.length}`];
  for (let i = 0; i < ref.length && out.length < 5; i++) {
    const a = ours[i]!;
    const b = ref[i]!;
    const same =
      Number.isNaN(a) || Number.isNaN(b)
        ? Number.isNaN(a) && Number.isNaN(b)
        : float32
          ? Math.fround(a) === Math.fround(b)
          : a === b;
    if (!same) out.push(`row ${i}: ours ${a}, reference ${b}`);
  }
  return out;
}

function expectColumns(file: string, ours: Record<string, [Column, boolean?]>): void {
  const ref = readColumns(`${DIR}${file}`);
  expect(Object.keys(ref).sort()).toEqual(Object.keys(ours).sort());
  for (const [name, [col, f32]] of Object.entries(ours)) {
    expect(mismatches(col, ref[name]!, f32), `${file} ${name}`).toEqual([]);
  }
}

/** How many rows hold a value, so a test cannot pass on an empty column. */
const filled = (col: Column) => Array.from(col).filter((v) => !Number.isNaN(v) && v !== 0).length;

describe('SMC parity with the smartmoneyconcepts library (EURUSD 15m, 24,423 bars)', () => {
  it('swing_highs_lows(swing_length=5)', () => {
    expectColumns('swing_highs_lows_result_data.csv', { HighLow: [swings.highLow], Level: [swings.level] });
    expect(filled(swings.highLow)).toBeGreaterThan(2000);
  });

  it('bos_choch(swings)', () => {
    const s = bosChoch(candles, swings);
    expectColumns('bos_choch_result_data.csv', {
      BOS: [s.bos],
      CHOCH: [s.choch],
      Level: [s.level, true],
      BrokenIndex: [s.brokenIndex],
    });
    expect(filled(s.bos)).toBeGreaterThan(100);
    expect(filled(s.choch)).toBeGreaterThan(100);
  });

  it.each([
    ['fvg_result_data.csv', false],
    ['fvg_consecutive_result_data.csv', true],
  ])('%s', (file, join) => {
    const g = fvg(candles, join);
    expectColumns(file, {
      FVG: [g.fvg],
      Top: [g.top],
      Bottom: [g.bottom],
      MitigatedIndex: [g.mitigatedIndex],
    });
    expect(filled(g.fvg)).toBeGreaterThan(3000);
  });

  it('ob(swings)', () => {
    const o = orderBlocks(candles, swings);
    expectColumns('ob_result_data.csv', {
      OB: [o.ob],
      Top: [o.top, true],
      Bottom: [o.bottom, true],
      OBVolume: [o.volume, true],
      MitigatedIndex: [o.mitigatedIndex],
      Percentage: [o.percentage],
    });
    expect(filled(o.ob)).toBeGreaterThan(50);
  });

  it('liquidity(swings, range_percent=0.01)', () => {
    const l = liquidity(candles, swings, 0.01);
    expectColumns('liquidity_result_data.csv', {
      Liquidity: [l.liquidity],
      Level: [l.level, true],
      End: [l.end],
      Swept: [l.swept],
    });
    expect(filled(l.liquidity)).toBeGreaterThan(400);
  });

  it.each([
    ['4h', '4h'],
    ['1d', '1D'],
    ['1w', 'W'],
  ] as const)('previous_high_low(%s)', (period, suffix) => {
    const p = previousHighLow(candles, period);
    expectColumns(`previous_high_low_result_data_${suffix}.csv`, {
      PreviousHigh: [p.previousHigh, true],
      PreviousLow: [p.previousLow, true],
      BrokenHigh: [p.brokenHigh],
      BrokenLow: [p.brokenLow],
    });
    expect(filled(p.brokenHigh)).toBeGreaterThan(100);
  });

  it('sessions("London")', () => {
    const s = sessions(candles, 'london');
    expectColumns('sessions_result_data.csv', {
      Active: [s.active],
      High: [s.high, true],
      Low: [s.low, true],
    });
    expect(filled(s.active)).toBeGreaterThan(5000);
  });

  it('retracements(swings)', () => {
    const r = retracements(candles, swings);
    expectColumns('retracements_result_data.csv', {
      Direction: [r.direction],
      'CurrentRetracement%': [r.current],
      'DeepestRetracement%': [r.deepest],
    });
    expect(filled(r.current)).toBeGreaterThan(10000);
  });
});
