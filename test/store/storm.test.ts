/**
 * The durability storm: a writer process (test/fixtures/store/storm-writer.mjs, the compiled store)
 * commits change after change to an SQLite journal and is killed with SIGKILL at random moments,
 * 1,000 times, each next writer carrying on from what the last one left. After every kill the
 * journal is whole (SQLite's integrity check), every change the writer announced is in it, none is
 * there twice, and the counters agree with the rows.
 *
 * Loading a writer (node and the store's modules) costs far more than a life between kills, so the
 * next writers are loaded while the current one runs, and each opens the journal only when told,
 * after the one before it is dead. STORM_KILLS sets how many kills (default 1,000).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/fixtures.js';

const KILLS = Number(process.env.STORM_KILLS ?? 1_000);
/** Writers loaded ahead of need (loading is most of a writer's work). */
const SPARES = 3;
/** A writer writes for a random time up to this (ms) before it is killed. */
const LONGEST_LIFE = 30;
/** The share of writers killed while they open the journal instead (recovery, loading). */
const KILLED_OPENING = 0.2;
const WRITER = join(ROOT, 'test/fixtures/store/storm-writer.mjs');

interface Writer {
  child: ChildProcess;
  /** Resolves once the modules are loaded. */
  ready: Promise<void>;
  /** Resolves once the journal is open (it may be killed before). */
  open: Promise<void>;
  /** Resolves when the process is gone and its output all read. */
  closed: Promise<void>;
  /** Change numbers it printed (announced), in order. */
  printed: number[];
  opened: boolean;
}

function loadWriter(dir: string): Writer {
  const child = spawn(process.execPath, [WRITER], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DIR: dir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const w: Writer = { child, printed: [], opened: false } as unknown as Writer;
  let out = '';
  let err = '';
  let onReady: () => void;
  let onOpen: () => void;
  w.ready = new Promise((r) => (onReady = r));
  w.open = new Promise((r) => (onOpen = r));
  child.stdout!.on('data', (d: Buffer) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') onReady();
      else if (line === 'open') {
        w.opened = true;
        onOpen();
      } else w.printed.push(Number(line));
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d));
  // Writing to a writer that was killed before it read its word is no error.
  child.stdin!.on('error', () => undefined);
  w.closed = new Promise((resolve, reject) =>
    child.on('close', (_code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`a writer ended by itself (${signal}): ${err}`)),
    ),
  );
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows of a query on the journal, through a connection of the test's own. */
type Rows = Array<Record<string, number | string | null>>;

/**
 * What the journal holds after a kill, checked whole: the last change committed (`m`), each change
 * once, and every counter and document as changes 1..m make them. Returns m.
 */
function checkJournal(dir: string): number {
  // The first writer may be killed before it made the journal file.
  if (!existsSync(join(dir, 'bosun.db'))) return 0;
  const db = new Sqlite(join(dir, 'bosun.db'), { readonly: true });
  try {
    const all = (sql: string) => db.prepare(sql).all() as Rows;
    const one = (sql: string) => all(sql)[0]!;
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // Or before its schema was made: then none of it is there (the migration is one transaction).
    const tables = all(`select name from sqlite_master where type = 'table' order by name`).map(
      (r) => r.name,
    );
    if (!tables.includes('decisions')) {
      expect(tables).toEqual([]);
      return 0;
    }
    // Decisions: two per change (a and b), times 1..m, none twice.
    const d = one('select count(*) n, count(distinct time) d, coalesce(max(time), 0) m from decisions');
    const m = Number(d.m);
    expect([d.n, d.d]).toEqual([2 * m, m]);
    expect(all('select time, kind from decisions group by time, kind having count(*) > 1')).toEqual([]);
    // A position opens at changes 1, 4, 7, ..., takes its first exit at 2, 5, 8, ... and closes at
    // 3, 6, 9, ...: one fill per change, m in all; a trade every third change.
    const third = Math.floor(m / 3);
    const halves = Math.floor((m + 1) / 3); // changes k <= m with k % 3 = 2
    expect(one('select count(*) n from fills').n).toBe(m);
    expect(
      all('select position_id, kind, time from fills group by position_id, kind, time having count(*) > 1'),
    ).toEqual([]);
    expect(one('select count(*) n, count(distinct id) d from trades')).toEqual({ n: third, d: third });
    expect(one('select count(*) n, coalesce(max(time), 0) m from equity')).toEqual({ n: m, m });
    expect(one('select count(*) n from candles').n).toBe(m);
    // The counter document says what comes next; the run counts its trades.
    const doc = (key: string) =>
      JSON.parse(String(one(`select data from documents where key = '${key}'`).data));
    if (m > 0) {
      expect(doc('engine').nextId).toBe(m + 1);
      const r1 = JSON.parse(String(one(`select data from runs where id = 'R1'`).data));
      expect([r1.trades, r1.realizedPnl]).toEqual([third, 3 * third]);
      // 1,000 plus 1 for each first exit and 2 for each close; the last equity point says the same.
      const cash = 1_000 + halves + 2 * third;
      expect(doc('balances')).toEqual({ USDT: cash });
      expect(one(`select equity from equity where time = ${m}`).equity).toBe(cash);
    }
    // The open position, if any, is the one the cycle says.
    const open = all('select id, data from positions where current = 1').map((r) => [
      r.id,
      JSON.parse(String(r.data)).exits.length,
    ]);
    const expected = { 0: [], 1: [[`P${m}`, 0]], 2: [[`P${m - 1}`, 1]] }[m % 3];
    expect(open).toEqual(expected);
    return m;
  } finally {
    db.close();
  }
}

describe('the durability storm', () => {
  it(`loses, doubles and breaks nothing across ${KILLS} kill -9s while changes are written`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-storm-'));
    const started = Date.now();
    const spares: Writer[] = [];
    const refill = () => {
      while (spares.length < SPARES) spares.push(loadWriter(dir));
    };
    let announced = 0;
    let committed = 0;
    const stats = { duringOpen: 0, duringWrites: 0, unannouncedCommits: 0 };
    try {
      for (let kill = 1; kill <= KILLS; kill++) {
        refill();
        const w = spares.shift()!;
        await w.ready;
        w.child.stdin!.write('go\n');
        if (Math.random() < KILLED_OPENING) await sleep(Math.random() * 15);
        else {
          await Promise.race([w.open, w.closed]);
          await sleep(Math.random() * LONGEST_LIFE);
        }
        w.child.kill('SIGKILL');
        await w.closed;
        if (w.printed.length > 0) {
          // This life carried on from the last commit, one change after another.
          expect(w.printed[0]).toBe(committed + 1);
          expect(w.printed).toEqual(w.printed.map((_, i) => w.printed[0]! + i));
          announced = w.printed.at(-1)!;
        }
        const m = checkJournal(dir);
        // Everything announced is there, and past the last change this life announced (or, if it
        // announced none, the last commit before it) at most the one it was announcing.
        expect(m).toBeGreaterThanOrEqual(announced);
        const base = w.printed.at(-1) ?? committed;
        expect([base, base + 1]).toContain(m);
        if (m > base) stats.unannouncedCommits++;
        if (w.opened) stats.duringWrites++;
        else stats.duringOpen++;
        committed = m;
      }
    } finally {
      for (const w of spares) w.child.kill('SIGKILL');
      await Promise.all(spares.map((w) => w.closed));
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `storm: ${KILLS} kills in ${seconds.toFixed(1)} s; ${committed} changes committed; ` +
        `${stats.duringOpen} kills before the journal was open, ${stats.duringWrites} while writing, ` +
        `${stats.unannouncedCommits} with a commit on disk not yet announced (killed while it was flushed)`,
    );
    expect(committed).toBeGreaterThan(KILLS);
    expect(stats.duringWrites).toBeGreaterThan(KILLS / 2);
  }, 600_000);
});
