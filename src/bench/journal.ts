/**
 * The journal bench (issue 19): what keeping everything in SQL costs a running bosun. Each figure
 * sits beside a baseline measured in the same run.
 *
 * - **Candle step write, empty vs full.** One store update doing what an engine candle step does (a
 *   candle row, 1-3 decisions with six indicator values, a signal now and then, an equity point,
 *   the runs' and the engine's records, a position opened, marked and closed into a trade every 30
 *   steps), timed on an empty journal and on one already holding 1,000,000 decisions and 100,000
 *   trades (with their fills), steps taken in turn on the two. Target: median and p99 at most 1.5x
 *   the empty journal's.
 * - **The longest event-loop block by the store**: the store's longest section (from the end of the
 *   caller's change to the commit; on SQLite all synchronous) in the steps and the replays below,
 *   with the CPU time spent in it (the rest is waiting: the disk's flush, or a core), beside the
 *   longest delay a bare loop saw in the same run (the machine's noise). Target: 20 ms or less.
 * - **A full-speed replay of ten 1m runs** over the first days of the bundled 1m sample: the
 *   event-loop delay p99 beside the bare sliced loop (the replay bench's baseline; target 100 ms or
 *   less), its speed beside the same replay with the store's time taken out, the journal's size per
 *   30 days (extrapolated linearly; beside PostgreSQL's), and the bytes written to disk per day.
 * - **SQLite vs PostgreSQL** (both durable: fsync on) for that same replay.
 * - **The whole 1m sample (30,240 candles) with one 1m run**, which took 526 s on the v0.1 JSON state.
 * - **Journal read throughput**: a keyset-paged scan of the full journal's decisions through Kysely,
 *   beside better-sqlite3 iterating the same table, and the same scan scoped to an instance and book
 *   (SQLite then picks the (instance, book, time) index and sorts every page). `bosun export`'s own
 *   throughput is measured with the export (src/store/export.ts).
 *
 * Sizes scale with `npm run bench -- --journal-scale F` (1 = the sizes above).
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Insertable, Kysely } from 'kysely';
import pg from 'pg';
import { startPostgres } from '../dev/postgres.js';
import { SLICE_MS } from '../engine/feed.js';
import { SQLITE_FILE } from '../store/database.js';
import type { Database } from '../store/schema.js';
import type { PositionRecord, RunRecord, SignalRecord, State } from '../store/state.js';
import { StateStore } from '../store/state.js';
import {
  type BenchRun,
  LONG_SECTION_MS,
  type ReplayResult,
  replay,
  SAMPLE,
  sampleFile,
  slicedLoop,
  type StoreTimes,
  timeStore,
} from './replay.js';
import type { BenchRow } from './row.js';

export interface JournalSizes {
  /** Decisions stored in the full journal before its steps. */
  decisions: number;
  /** Trades stored in the full journal (each with an entry and an exit fill). */
  trades: number;
  /** Candle steps timed on each journal. */
  steps: number;
  /** Days of the 1m sample replayed with ten 1m runs (SQLite, PostgreSQL, size). */
  replayDays: number;
  /** Candles of the 1m sample replayed with one 1m run (30,240: the whole file). */
  oneRunCandles: number;
  /** Replay on PostgreSQL too (starts a server from the dev dependency's binaries). */
  postgres: boolean;
}

/** The issue's sizes. */
export const JOURNAL_SIZES: JournalSizes = {
  decisions: 1_000_000,
  trades: 100_000,
  steps: 2_000,
  replayDays: 2,
  oneRunCandles: 30_240,
  postgres: true,
};

const SAMPLE_CANDLES = 30_240;
const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
/** Where the steps start; the stored history lies before it. */
const T0 = Date.UTC(2024, 0, 1);
const RUNS = 10;
/** Signals the engine keeps in its working set (engine.ts RECENT_SIGNALS). */
const KEPT_SIGNALS = 200;
/** History rows per INSERT and per transaction when filling the journal. */
const ROWS_PER_INSERT = 500;
const ROWS_PER_TRANSACTION = 100_000;
const STEP_TARGET = 1.5;
const BLOCK_TARGET_MS = 20;
const DELAY_TARGET_MS = 100;

/** The issue's sizes times `scale` (at least enough of each to measure). */
export function journalSizes(scale: number): JournalSizes {
  const of = (n: number, min: number, max = Number.POSITIVE_INFINITY) =>
    Math.min(max, Math.max(min, Math.round(n * scale)));
  return {
    decisions: of(JOURNAL_SIZES.decisions, 1_000),
    trades: of(JOURNAL_SIZES.trades, 100),
    steps: of(JOURNAL_SIZES.steps, 60, 20_000),
    replayDays: Math.min(20, Math.max(0.1, JOURNAL_SIZES.replayDays * scale)),
    oneRunCandles: of(JOURNAL_SIZES.oneRunCandles, 300, SAMPLE_CANDLES),
    postgres: JOURNAL_SIZES.postgres,
  };
}

/** Ten 1m runs on one symbol: every strategy, and two more EMA crosses. */
export const TEN_RUNS: readonly BenchRun[] = [
  { strategy: 'bb-breakout', timeframe: '1m' },
  { strategy: 'ema-cross', timeframe: '1m' },
  { strategy: 'rsi-reversion', timeframe: '1m' },
  { strategy: 'macd-momentum', timeframe: '1m' },
  { strategy: 'ma-trend', timeframe: '1m' },
  { strategy: 'momentum', timeframe: '1m' },
  { strategy: 'ma-accumulation', timeframe: '1m' },
  { strategy: 'ict-confluence', timeframe: '1m' },
  { strategy: 'ema-cross', timeframe: '1m', params: { fast: 5, slow: 20 } },
  { strategy: 'ema-cross', timeframe: '1m', params: { fast: 20, slow: 50 } },
];

/** Risk settings under which the ten runs trade side by side and nothing stops them. */
const TEN_RUNS_RISK = {
  sizing: 'fraction',
  fraction: 0.1,
  maxOpenPositions: RUNS,
  maxSymbolExposure: 1,
  dailyLossLimit: 1,
  maxDrawdown: 1,
  minRewardRisk: 0,
  cooldownMinutes: 0,
};

const quantile = (xs: readonly number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => bytes / 1024 / 1024;

// --- the stored history ---

const scope = { instance: 'main', book: 'paper' };

/** Six indicator values, like a strategy's. */
function indicators(price: number, i: number): Record<string, number | null> {
  return {
    ema12: price * (1 + Math.sin(i / 7) * 0.001),
    ema26: price * (1 + Math.sin(i / 11) * 0.002),
    rsi14: 50 + 30 * Math.sin(i / 13),
    atr14: price * 0.002,
    bbUpper: price * 1.01,
    bbLower: i % 97 === 0 ? null : price * 0.99,
  };
}

const priceAt = (i: number) => Math.round((20_000 + 500 * Math.sin(i / 300) + (i % 17)) * 100) / 100;

function decisionRow(j: number, n: number): Insertable<Database['decisions']> {
  const time = T0 - (n - j) * 30_000;
  return {
    ...scope,
    time,
    run_id: `R${(j % RUNS) + 1}`,
    kind: j % 3 === 0 ? 'entry-signal' : 'exit-signal',
    detail: j % 3 === 0 ? 'long approved' : `exit H${j} at the next open`,
    signal_id: j % 3 === 0 ? `H${j}` : null,
    indicators: JSON.stringify(indicators(priceAt(j), j)),
  };
}

function historyTrade(j: number, n: number) {
  const exitTime = T0 - (n - j) * 300_000;
  const entryTime = exitTime - 45 * MINUTE;
  const entryPrice = priceAt(j);
  const exitPrice = priceAt(j + 45);
  const quantity = 0.05;
  const pnl = (exitPrice - entryPrice) * quantity - 2;
  const exit = { time: exitTime, price: exitPrice, quantity, fee: 1, pnl, reason: 'signal' as const };
  return { id: `T${j}`, runId: `R${(j % RUNS) + 1}`, entryTime, entryPrice, quantity, exit };
}

function tradeRow(j: number, n: number): Insertable<Database['trades']> {
  const t = historyTrade(j, n);
  return {
    ...scope,
    id: t.id,
    run_id: t.runId,
    symbol: 'BTC/USDT',
    quote: 'USDT',
    side: 'long',
    entry_time: t.entryTime,
    entry_price: t.entryPrice,
    exit_time: t.exit.time,
    exit_price: t.exit.price,
    quantity: t.quantity,
    pnl: t.exit.pnl,
    return_pct: (t.exit.pnl / (t.entryPrice * t.quantity)) * 100,
    fees: 2,
    exit_reason: 'signal',
    bars: 45,
    exits: JSON.stringify([t.exit]),
  };
}

/** A trade's entry (even k) and exit (odd k) fill. */
function fillRow(k: number, n: number): Insertable<Database['fills']> {
  const t = historyTrade(Math.floor(k / 2), n);
  const base = { ...scope, position_id: t.id, run_id: t.runId, symbol: 'BTC/USDT', quote: 'USDT', side: 1 };
  return k % 2 === 0
    ? {
        ...base,
        kind: 'entry',
        time: t.entryTime,
        price: t.entryPrice,
        quantity: t.quantity,
        fee: 1,
        pnl: 0,
        reason: 'entry',
      }
    : { ...base, kind: 'exit', ...t.exit };
}

/** `count` rows into `table`: multi-row INSERTs in transactions of {@link ROWS_PER_TRANSACTION}. */
async function insertMany<T extends keyof Database>(
  db: Kysely<Database>,
  table: T,
  total: number,
  row: (j: number) => Insertable<Database[T]>,
): Promise<void> {
  for (let start = 0; start < total; start += ROWS_PER_TRANSACTION) {
    const end = Math.min(total, start + ROWS_PER_TRANSACTION);
    await db.transaction().execute(async (trx) => {
      for (let j = start; j < end; j += ROWS_PER_INSERT) {
        const rows: Array<Insertable<Database[T]>> = [];
        for (let k = j; k < Math.min(end, j + ROWS_PER_INSERT); k++) rows.push(row(k));
        await trx
          .insertInto(table)
          .values(rows as never)
          .execute();
      }
    });
  }
}

/** The full journal's history, written straight into its tables (not through update()); ms taken. */
export async function fillHistory(db: Kysely<Database>, sizes: JournalSizes): Promise<number> {
  const t0 = performance.now();
  await insertMany(db, 'decisions', sizes.decisions, (j) => decisionRow(j, sizes.decisions));
  await insertMany(db, 'trades', sizes.trades, (j) => tradeRow(j, sizes.trades));
  await insertMany(db, 'fills', sizes.trades * 2, (k) => fillRow(k, sizes.trades));
  return performance.now() - t0;
}

// --- the candle step ---

/** The working records of ten 1m runs that have been trading: the engine's documents, 200 signals. */
export function seedWorkingSet(s: State): void {
  for (let r = 1; r <= RUNS; r++) {
    const run: RunRecord = {
      id: `R${r}`,
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '1m',
      params: { fast: 10 + r, slow: 30 + r },
      approve: 'auto',
      state: 'active',
      createdAt: T0 - 365 * DAY,
      createdBy: 'telegram:1',
      lastBar: T0 - MINUTE,
      realizedPnl: 0,
      trades: 0,
    };
    s.runs[run.id] = run;
  }
  for (let k = 0; k < KEPT_SIGNALS; k++) addSignal(s, -KEPT_SIGNALS + k);
  s.balances.USDT = 10_000;
  s.engine.peak.USDT = 10_000;
  s.engine.recent = {
    lastLoss: { 'BTC/USDT': T0 - DAY },
    closedPnls: { USDT: Array.from({ length: 200 }, (_, k) => Math.round(Math.sin(k) * 1000) / 100) },
  };
  s.subscriptions['telegram:1'] = { since: T0 - 365 * DAY, muted: [] };
}

function addSignal(s: State, i: number): string {
  const id = `S${s.engine.nextId++}`;
  const price = priceAt(i);
  const sig: SignalRecord = {
    id,
    runId: `R${(Math.abs(i) % RUNS) + 1}`,
    symbol: 'BTC/USDT',
    timeframe: '1m',
    strategy: 'ema-cross',
    side: 'long',
    barTime: T0 + i * MINUTE,
    createdAt: T0 + i * MINUTE,
    price,
    signalStop: null,
    signalTarget: null,
    stop: price * 0.98,
    targets: [price * 1.03],
    quantity: 0.05,
    risk: 20,
    rewardRisk: 1.5,
    status: 'approved',
    decidedBy: 'auto',
    size: 1,
    messages: [{ chat: 'telegram:1', ref: String(1000 + i) }],
    indicators: indicators(price, i),
  };
  s.signals[id] = sig;
  return id;
}

/** Step `i`'s position: opened at i % 30 = 0, marked each step, closed into a trade at i % 30 = 20. */
function positionStep(s: State, i: number, time: number, price: number): void {
  const id = `P${i - (i % 30)}`;
  const run = s.runs.R1!;
  if (i % 30 === 0) {
    const pos: PositionRecord = {
      id,
      runId: run.id,
      signalId: Object.keys(s.signals).at(-1)!,
      symbol: 'BTC/USDT',
      quote: 'USDT',
      side: 1,
      entryIndex: i,
      entryTime: time,
      entryPrice: price,
      initialQty: 0.05,
      qty: 0.05,
      entryFee: 1,
      stop: price * 0.98,
      targetPrices: [price * 1.03],
      targetQty: [null],
      nextTarget: 0,
      trailActivation: null,
      trailOffset: 0,
      best: price,
      trailStop: null,
      barsHeld: 0,
      exits: [],
      mark: price,
    };
    s.positions[id] = pos;
    s.balances.USDT! -= price * 0.05 + 1;
    return;
  }
  const pos = s.positions[id];
  if (!pos) return;
  pos.mark = price;
  pos.best = Math.max(pos.best, price);
  pos.barsHeld++;
  if (i % 30 !== 20) return;
  const pnl = (price - pos.entryPrice) * pos.qty - 2;
  const exit = { time, price, quantity: pos.qty, fee: 1, pnl, reason: 'signal' as const };
  s.log.trades.push({
    id,
    runId: run.id,
    symbol: 'BTC/USDT',
    quote: 'USDT',
    side: 'long',
    entryTime: pos.entryTime,
    entryPrice: pos.entryPrice,
    exitTime: time,
    exitPrice: price,
    quantity: pos.qty,
    pnl,
    returnPct: (pnl / (pos.entryPrice * pos.qty)) * 100,
    fees: 2,
    exitReason: 'signal',
    bars: pos.barsHeld,
    exits: [exit],
  });
  delete s.positions[id];
  s.balances.USDT! += price * exit.quantity - 1;
  run.realizedPnl += pnl;
  run.trades++;
  const pnls = s.engine.recent!.closedPnls.USDT!;
  pnls.push(pnl);
  pnls.shift();
}

/** What the engine's candle step `i` changes (engine.ts process(): one update per closed candle). */
export function candleStep(s: State, i: number): void {
  const time = T0 + i * MINUTE;
  const price = priceAt(i);
  s.log.candles.push({
    source: 'bench',
    symbol: 'BTC/USDT',
    timeframe: '1m',
    time,
    open: priceAt(i - 1),
    high: price + 5,
    low: price - 5,
    close: price,
    volume: 12.5,
  });
  positionStep(s, i, time, price);
  for (const run of Object.values(s.runs)) run.lastBar = time;
  for (let k = 0; k <= i % 3; k++) {
    const runId = `R${((i + k) % RUNS) + 1}`;
    const entry = k === 0 && i % 5 === 0;
    const signalId = entry ? addSignal(s, i) : undefined;
    s.log.decisions.push({
      time,
      runId,
      kind: entry ? 'entry-signal' : 'exit-signal',
      detail: entry ? 'long approved' : `exit P${i} at the next open`,
      ...(signalId ? { signalId } : {}),
      indicators: indicators(price, i + k),
    });
  }
  // The engine keeps its latest signals in the working set (the rest are in the journal).
  const ids = Object.keys(s.signals);
  for (const id of ids.slice(0, Math.max(0, ids.length - KEPT_SIGNALS))) delete s.signals[id];
  const equity = s.balances.USDT! + Object.values(s.positions).reduce((v, p) => v + p.qty * p.mark, 0);
  s.log.equity.push({ time: time + MINUTE, quote: 'USDT', equity });
  s.engine.peak.USDT = Math.max(s.engine.peak.USDT ?? 0, equity);
  s.engine.replay = { file: SAMPLE, cursor: time };
}

export interface StepTimes {
  /** ms per step on each journal, in step order. */
  empty: number[];
  full: number[];
}

/** `steps` candle steps on each store, taken in turn (the order swapped every step), a turn between. */
export async function timeSteps(empty: StateStore, full: StateStore, steps: number): Promise<StepTimes> {
  const times: StepTimes = { empty: [], full: [] };
  const step = async (store: StateStore, into: number[], i: number) => {
    const t0 = performance.now();
    await store.update((s) => candleStep(s, i));
    into.push(performance.now() - t0);
    await turn();
  };
  for (let i = 0; i < steps; i++) {
    if (i % 2 === 0) {
      await step(empty, times.empty, i);
      await step(full, times.full, i);
    } else {
      await step(full, times.full, i);
      await step(empty, times.empty, i);
    }
  }
  return times;
}

// --- reading ---

export interface ScanOptions {
  /** Rows per page (default 5,000). */
  page?: number;
  /** Only this instance's and book's rows, as a report or an export reads them. */
  scoped?: boolean;
  /** Stop after this many rows. */
  max?: number;
}

/**
 * A keyset-paged scan of the decisions table through Kysely (`where seq > ? order by seq limit
 * 5000`): rows read and the ms it took.
 */
export async function scanDecisions(
  db: Kysely<Database>,
  o: ScanOptions = {},
): Promise<{ rows: number; ms: number }> {
  const t0 = performance.now();
  let rows = 0;
  let last = 0;
  while (rows < (o.max ?? Number.POSITIVE_INFINITY)) {
    let query = db.selectFrom('decisions').selectAll();
    if (o.scoped) query = query.where('instance', '=', scope.instance).where('book', '=', scope.book);
    const batch = await query
      .where('seq', '>', last)
      .orderBy('seq')
      .limit(o.page ?? 5_000)
      .execute();
    if (batch.length === 0) break;
    rows += batch.length;
    last = batch[batch.length - 1]!.seq;
  }
  return { rows, ms: performance.now() - t0 };
}

/** The same table read by better-sqlite3 alone: one statement, iterated. */
function scanDecisionsRaw(file: string): { rows: number; ms: number } {
  const raw = new BetterSqlite3(file, { readonly: true });
  try {
    const t0 = performance.now();
    let rows = 0;
    for (const _ of raw.prepare('select * from decisions order by seq').iterate()) rows++;
    return { rows, ms: performance.now() - t0 };
  } finally {
    raw.close();
  }
}

/** Bytes of the SQLite journal in `dir`: the database and what is left of its WAL. */
function journalBytes(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir))
    if (name.startsWith(SQLITE_FILE)) bytes += statSync(join(dir, name)).size;
  return bytes;
}

// --- the rows ---

interface StepFigures {
  fillMs: number;
  steps: StepTimes;
  /** The store's sections during the full journal's steps. */
  fullStore: StoreTimes;
  scan: { rows: number; ms: number };
  rawScan: { rows: number; ms: number };
  /** The scan scoped to an instance and book, over its first {@link SCOPED_SCAN_ROWS} rows. */
  scopedScan: { rows: number; ms: number };
}

/** Rows the scoped scan reads: enough pages to see what one costs on the full table. */
const SCOPED_SCAN_ROWS = 100_000;

/** The empty and the full journal, their steps and the scan; both removed afterwards. */
async function stepFigures(sizes: JournalSizes, say: (line: string) => void): Promise<StepFigures> {
  const root = mkdtempSync(join(tmpdir(), 'bosun-bench-journal-'));
  const stores: StateStore[] = [];
  try {
    const empty = await StateStore.open(join(root, 'empty'));
    const full = await StateStore.open(join(root, 'full'));
    stores.push(empty, full);
    say(`filling a journal with ${count(sizes.decisions)} decisions and ${count(sizes.trades)} trades`);
    const fillMs = await fillHistory(full.journal.db, sizes);
    for (const store of stores) await store.update(seedWorkingSet);
    say(`${count(sizes.steps)} candle steps on each journal`);
    const fullStore = timeStore(full);
    const steps = await timeSteps(empty, full, sizes.steps);
    const scan = await scanDecisions(full.journal.db);
    const scopedScan = await scanDecisions(full.journal.db, { scoped: true, max: SCOPED_SCAN_ROWS });
    for (const store of stores.splice(0)) await store.close();
    const rawScan = scanDecisionsRaw(join(root, 'full', SQLITE_FILE));
    return { fillMs, steps, fullStore, scan, rawScan, scopedScan };
  } finally {
    for (const store of stores) await store.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

function stepRows(sizes: JournalSizes, f: StepFigures): BenchRow[] {
  const held = `${count(sizes.decisions)} decisions + ${count(sizes.trades)} trades`;
  const scan = `journal read: Kysely keyset scan, ${count(f.scan.rows)} decisions, 5,000 a page`;
  const perSec = (r: { rows: number; ms: number }) => (r.rows / r.ms) * 1000;
  const row = (what: string, q: number): BenchRow => {
    const full = quantile(f.steps.full, q);
    const empty = quantile(f.steps.empty, q);
    return {
      name: `candle step write, ${what} (vs empty journal)`,
      value: full,
      unit: 'ms',
      baseline: empty,
      ratio: full / empty,
      target: `<= ${STEP_TARGET}x`,
      pass: full / empty <= STEP_TARGET,
    };
  };
  return [
    row(`median, journal of ${held} (filled in ${(f.fillMs / 1000).toFixed(1)} s)`, 0.5),
    row('p99, same journals', 0.99),
    {
      name: `${scan} (vs better-sqlite3 iterate; bosun export: its own bench)`,
      value: perSec(f.scan),
      unit: 'rows/s',
      baseline: perSec(f.rawScan),
      ratio: perSec(f.rawScan) / perSec(f.scan),
    },
    {
      name: `the same scan with where instance and book, first ${count(f.scopedScan.rows)} (vs unscoped)`,
      value: perSec(f.scopedScan),
      unit: 'rows/s',
      baseline: perSec(f.scan),
      ratio: perSec(f.scan) / perSec(f.scopedScan),
    },
  ];
}

interface TenRuns extends ReplayResult {
  /** The journal's bytes after the replay, and a new journal's. */
  bytes: number;
  emptyBytes: number;
}

/** Bytes of a journal just made: the schema, no rows. */
async function emptyJournalBytes(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-empty-'));
  try {
    await (await StateStore.open(dir)).close();
    return journalBytes(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Ten 1m runs over the first `days` of the sample, on SQLite; its size and disk writes. */
async function tenRunsOnSqlite(file: string): Promise<TenRuns> {
  let bytes = 0;
  const result = await replay({
    file,
    runs: TEN_RUNS,
    risk: TEN_RUNS_RISK,
    inspect: (dir) => {
      bytes = journalBytes(dir);
    },
  });
  return { ...result, bytes, emptyBytes: await emptyJournalBytes() };
}

/** A PostgreSQL database's bytes, after `first` (a statement) when given. */
async function databaseBytes(url: string, first?: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (first) await client.query(first);
    const r = await client.query<{ n: string }>('select pg_database_size(current_database()) as n');
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}

interface PostgresRuns extends TenRuns {
  /** The database's bytes before VACUUM FULL: with the dead row versions of every update. */
  unvacuumedBytes: number;
}

/**
 * The same on a durable PostgreSQL server of its own. Its size is read after VACUUM FULL (what the
 * rows take; every commit rewrites the runs' and the engine's rows, and the dead versions wait for
 * autovacuum), beside an empty journal's database.
 */
async function tenRunsOnPostgres(file: string): Promise<PostgresRuns> {
  const server = await startPostgres({ durable: true });
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-pg-'));
  try {
    const url = await server.createDatabase('bench');
    const emptyUrl = await server.createDatabase('empty');
    await (await StateStore.open(dir, Date.now(), 'paper', { url: emptyUrl })).close();
    const result = await replay({ file, runs: TEN_RUNS, risk: TEN_RUNS_RISK, url });
    const unvacuumedBytes = await databaseBytes(url);
    return {
      ...result,
      bytes: await databaseBytes(url, 'vacuum full'),
      emptyBytes: await databaseBytes(emptyUrl, 'vacuum full'),
      unvacuumedBytes,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The journal bench's rows. `say` reports progress (the whole section takes minutes at full size).
 */
export async function journalRows(
  root: string,
  sizes: JournalSizes = JOURNAL_SIZES,
  say: (line: string) => void = () => undefined,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const steps = await stepFigures(sizes, say);
  rows.push(...stepRows(sizes, steps));

  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-journal-sample-'));
  try {
    const candles = Math.round(sizes.replayDays * 1440);
    const days = `${+sizes.replayDays.toFixed(2)} days (${count(candles)} 1m candles)`;
    const tenFile = sampleFile(root, dir, candles);
    say(`replaying ${days} with ten 1m runs on SQLite`);
    const sqlite = await tenRunsOnSqlite(tenFile);
    // The bare loop's delays: what this machine gives with no store at all (its noise floor).
    const noise = await slicedLoop(Math.min(sqlite.ms, 5_000), SLICE_MS);
    let postgres: PostgresRuns | undefined;
    if (sizes.postgres) {
      say(`the same on PostgreSQL (durable)`);
      postgres = await tenRunsOnPostgres(tenFile);
    }
    say(`replaying ${count(sizes.oneRunCandles)} 1m candles with one 1m run`);
    const oneRun = await replay({
      file: sampleFile(root, dir, sizes.oneRunCandles),
      runs: [{ strategy: 'bb-breakout', timeframe: '1m' }],
    });

    rows.push(blockRow(steps.fullStore, sqlite.store, oneRun.store, noise.max));
    rows.push(...replayRowsOf(days, sqlite, noise.p99, postgres));
    rows.push({
      name: `replay of ${count(oneRun.candles)} 1m candles, one 1m run (v0.1: 526 s; vs less the store's ${(oneRun.store.totalMs / 1000).toFixed(1)} s)`,
      value: oneRun.ms / 1000,
      unit: 's',
      baseline: (oneRun.ms - oneRun.store.totalMs) / 1000,
      ratio: oneRun.ms / (oneRun.ms - oneRun.store.totalMs),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/**
 * The store's longest synchronous section anywhere in the bench, with the CPU time spent in it (the
 * rest was waiting: on the disk's flush, or for a core), beside the bare loop's longest delay.
 */
function blockRow(steps: StoreTimes, tenRuns: StoreTimes, oneRun: StoreTimes, noiseMs: number): BenchRow {
  const where: Array<[string, StoreTimes]> = [
    ['full-journal steps', steps],
    ['ten-run replay', tenRuns],
    ['one-run replay', oneRun],
  ];
  const [name, worst] = where.reduce((a, b) => (b[1].maxMs > a[1].maxMs ? b : a));
  const long = where.reduce((n, [, t]) => n + t.long, 0);
  const all = where.reduce((n, [, t]) => n + t.commits, 0);
  return {
    name: `longest store block: ${name}, ${worst.maxCpuMs.toFixed(1)} ms of it CPU; ${count(long)} of ${count(all)} over ${LONG_SECTION_MS} ms (vs bare loop's longest delay)`,
    value: worst.maxMs,
    unit: 'ms',
    baseline: noiseMs,
    ratio: worst.maxMs / noiseMs,
    target: `<= ${BLOCK_TARGET_MS} ms`,
    pass: worst.maxMs <= BLOCK_TARGET_MS,
  };
}

/** A journal's size after 30 days, from its growth over the replay (linear). */
function monthOf(r: TenRuns): { bytes: number; perDay: number } {
  const perDay = (r.bytes - r.emptyBytes) / (r.candles / 1440);
  return { bytes: r.emptyBytes + perDay * 30, perDay };
}

function replayRowsOf(
  days: string,
  sqlite: TenRuns,
  ideal: number,
  postgres: PostgresRuns | undefined,
): BenchRow[] {
  const label = `replay of ${days}, ten 1m runs`;
  const perSec = (ms: number) => (sqlite.candles / ms) * 1000;
  const month = monthOf(sqlite);
  const pgMonth = postgres ? monthOf(postgres) : undefined;
  const rows: BenchRow[] = [
    {
      name: `event-loop delay p99, ${label} (vs bare ${SLICE_MS} ms slices)`,
      value: sqlite.p99,
      unit: 'ms',
      baseline: ideal,
      ratio: sqlite.p99 / ideal,
      target: `<= ${DELAY_TARGET_MS} ms`,
      pass: sqlite.p99 <= DELAY_TARGET_MS,
    },
    {
      name: `${label}, SQLite (vs less the store's ${(sqlite.store.totalMs / 1000).toFixed(1)} s)`,
      value: perSec(sqlite.ms),
      unit: 'candles/s',
      baseline: perSec(sqlite.ms - sqlite.store.totalMs),
      ratio: sqlite.ms / (sqlite.ms - sqlite.store.totalMs),
    },
    {
      name: `journal size per 30 days, ten 1m runs (${+(sqlite.candles / 1440).toFixed(2)} days: ${mb(sqlite.bytes).toFixed(2)} MB, empty ${mb(sqlite.emptyBytes).toFixed(2)}; linear${postgres ? `; vs PostgreSQL vacuumed, ${mb(postgres.unvacuumedBytes).toFixed(1)} MB before` : ''})`,
      value: mb(month.bytes),
      unit: 'MB',
      ...(pgMonth ? { baseline: mb(pgMonth.bytes), ratio: month.bytes / pgMonth.bytes } : {}),
    },
  ];
  if (sqlite.writeBytes !== undefined)
    rows.push({
      name: `disk writes per day, ten 1m runs (v0.1: about 9 GB; vs journal growth per day)`,
      value: mb(sqlite.writeBytes / (sqlite.candles / 1440)),
      unit: 'MB',
      baseline: mb(month.perDay),
      ratio: sqlite.writeBytes / (sqlite.candles / 1440) / month.perDay,
    });
  if (postgres)
    rows.push({
      name: `${label}, PostgreSQL (vs SQLite; both durable)`,
      value: postgres.ms / 1000,
      unit: 's',
      baseline: sqlite.ms / 1000,
      ratio: postgres.ms / sqlite.ms,
    });
  return rows;
}
