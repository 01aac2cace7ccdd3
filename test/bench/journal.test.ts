/**
 * The journal bench at tiny sizes: its history and candle steps write what they say, the read scan
 * pages through every row, and the section gives every measure as a number in the bench's row shape
 * (timings themselves are not checked: these machines are too noisy for that).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  candleStep,
  fillHistory,
  JOURNAL_SIZES,
  journalRows,
  journalSizes,
  scanDecisions,
  seedWorkingSet,
} from '../../src/bench/journal.js';
import { benchCommand } from '../../src/bench/index.js';
import { StateStore } from '../../src/store/state.js';
import { ROOT } from '../helpers/fixtures.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function store(): Promise<StateStore> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-test-'));
  const s = await StateStore.open(dir);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => s.close());
  return s;
}

async function rows(s: StateStore, table: 'decisions' | 'trades' | 'fills' | 'candles' | 'equity') {
  const r = await s.journal.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

describe('journal bench', () => {
  it('fills the journal with the decisions and trades asked for, each trade with its two fills', async () => {
    const s = await store();
    await fillHistory(s.journal.db, { ...JOURNAL_SIZES, decisions: 1_234, trades: 56 });
    expect(await rows(s, 'decisions')).toBe(1_234);
    expect(await rows(s, 'trades')).toBe(56);
    expect(await rows(s, 'fills')).toBe(112);
  });

  it('writes an engine-like candle step: a candle, 1-3 decisions, an equity point, a trade every 30 steps', async () => {
    const s = await store();
    await s.update(seedWorkingSet);
    const nextId = s.data.engine.nextId;
    for (let i = 0; i < 30; i++) await s.update((state) => candleStep(state, i));
    expect(await rows(s, 'candles')).toBe(30);
    // 1 + i % 3 decisions per step: ten each of 1, 2 and 3.
    expect(await rows(s, 'decisions')).toBe(10 * (1 + 2 + 3));
    expect(await rows(s, 'equity')).toBe(30);
    // The position opened at step 0 closes at step 20: one trade, its entry and exit fills.
    expect(await rows(s, 'trades')).toBe(1);
    expect(await rows(s, 'fills')).toBe(2);
    // A signal at every fifth step (0, 5, ..., 25); the working set keeps the latest 200.
    expect(s.data.engine.nextId).toBe(nextId + 6);
    expect(Object.keys(s.data.signals)).toHaveLength(200);
    expect(s.data.signals[`S${nextId + 5}`]).toBeDefined();
  });

  it('scans every decision in keyset pages', async () => {
    const s = await store();
    await fillHistory(s.journal.db, { ...JOURNAL_SIZES, decisions: 12_345, trades: 0 });
    expect((await scanDecisions(s.journal.db)).rows).toBe(12_345);
    // Scoped to the instance and book, stopping past 6,000: two pages of 5,000.
    expect((await scanDecisions(s.journal.db, { scoped: true, max: 6_000 })).rows).toBe(10_000);
  });

  it('scales the issue sizes, keeping enough of each to measure', () => {
    expect(journalSizes(0.5)).toMatchObject({
      decisions: 500_000,
      trades: 50_000,
      steps: 1_000,
      replayDays: 1,
    });
    expect(journalSizes(0.000_01)).toMatchObject({
      decisions: 1_000,
      trades: 100,
      steps: 60,
      replayDays: 0.1,
      oneRunCandles: 300,
    });
  });

  it('refuses an unknown bench part or journal scale with one line saying what is allowed', async () => {
    await expect(benchCommand(['--only', 'journl'])).rejects.toThrow(
      '--only: "journl" is not a part of the bench; allowed: backtest, sweep, rules, replay, journal, stream, stops (comma-separated)',
    );
    await expect(benchCommand(['--only', 'journal', '--journal-scale', '0'])).rejects.toThrow(
      '--journal-scale is "0"; allowed: a number from 0.001 to 10',
    );
  });

  it('reports every measure as a number, with baselines and the issue targets, on SQLite and PostgreSQL', async () => {
    const lines: string[] = [];
    const out = await journalRows(
      ROOT,
      { decisions: 2_000, trades: 100, steps: 20, replayDays: 0.1, oneRunCandles: 200, postgres: true },
      (line) => lines.push(line),
    );
    const find = (text: string) => {
      const row = out.find((r) => r.name.includes(text));
      expect(row, text).toBeDefined();
      return row!;
    };
    for (const r of out) {
      expect(Number.isFinite(r.value), r.name).toBe(true);
      expect(r.baseline, r.name).toBeGreaterThan(0);
      expect(Number.isFinite(r.ratio), r.name).toBe(true);
      if (r.target !== undefined) expect(typeof r.pass, r.name).toBe('boolean');
    }
    expect(find('candle step write, median').name).toContain('filled in');
    expect(find('candle step write, median').target).toBe('<= 1.5x');
    expect(find('candle step write, p99').target).toBe('<= 1.5x');
    expect(find('longest store block').target).toBe('<= 20 ms');
    expect(find('with where instance and book').unit).toBe('rows/s');
    expect(find('event-loop delay p99').target).toBe('<= 100 ms');
    expect(find('ten 1m runs, SQLite (vs less').unit).toBe('candles/s');
    expect(find('journal size per 30 days').unit).toBe('MB');
    expect(find('ten 1m runs, PostgreSQL').baseline).toBeGreaterThan(0);
    // The 2,000 stored decisions and the steps' 1 + i % 3 each: 20 + (0 + 1 + 2) * 6 + 0 + 1 = 39.
    expect(find('Kysely keyset scan, 2,039 decisions').unit).toBe('rows/s');
    expect(find('replay of 200 1m candles, one 1m run').unit).toBe('s');
    expect(lines.length).toBeGreaterThan(0);
  }, 180_000);
});
