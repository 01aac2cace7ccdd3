/**
 * bosun's state store: the engine's working records in memory, every change written to the journal
 * (SQLite in `DATA_DIR/bosun.db`, or PostgreSQL by `DATABASE_URL`) in one transaction before the
 * caller goes on to announce it.
 *
 * Callers read {@link StateStore.data} and change it only inside {@link StateStore.update}. A change
 * mutates the records in place and appends what happened to `s.log` (decisions, trades, equity
 * points, candles, ...). When it returns, the store works out what changed since the last commit
 * (each working record is compared with its last written JSON, so the cost follows the working set,
 * not the history), and writes the changed records and the log's rows in one transaction. A change
 * that throws, or whose write fails, is undone in memory: what bosun holds is what it saved.
 *
 * Records that leave the working set (a closed position, an old signal, a spent button) keep their
 * rows, marked as no longer current; history rows are never rewritten. Reports and exports read the
 * journal ({@link StateStore.journal}), so nothing needs cutting to stay fast.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledQuery, Kysely, OnConflictBuilder } from 'kysely';
import { AppError } from '../errors.js';
import { ensureDir, removeStaleTemps, storageError } from './atomic.js';
import { type JournalDatabase, openDatabase, postgresError, sqliteError } from './database.js';
import { type Install, loadInstall } from './install.js';
import { BacktestArchive } from './backtests.js';
import { Journal } from './journal.js';
import {
  type ButtonRecord,
  type CandleRow,
  type DecisionRecord,
  type EngineRecord,
  type EquityPoint,
  LegacyStateSchema,
  type LegacyState,
  type LiveRecord,
  type NotificationRecord,
  type OrderRecord,
  type PositionRecord,
  type RegimeChangeRecord,
  type RegimeRecord,
  type RunRecord,
  type SettingsChange,
  type SettingsRecord,
  type AlertRecord,
  type SignalRecord,
  type SnapshotRecord,
  type SubscriptionRecord,
  type TradeRecord,
} from './records.js';
import type { Database } from './schema.js';

export type {
  AlertRecord,
  ButtonRecord,
  CandleRow,
  DecisionRecord,
  EquityPoint,
  NotificationRecord,
  OrderRecord,
  PositionRecord,
  RegimeChangeRecord,
  RunRecord,
  SettingsChange,
  SignalRecord,
  SnapshotRecord,
  TradeRecord,
} from './records.js';

/** The two accounts a bosun keeps apart: simulated and real. */
export type Book = 'paper' | 'live';

/** v0.1 state files, one per book, imported into the journal on first start. */
export const LEGACY_FILES: Record<Book, string> = { paper: 'bosun.json', live: 'bosun-live.json' };

/** Rows a change adds to the journal's history; written with the change, then emptied. */
export interface JournalLog {
  decisions: DecisionRecord[];
  trades: TradeRecord[];
  equity: EquityPoint[];
  notifications: NotificationRecord[];
  settings: SettingsChange[];
  regime: RegimeChangeRecord[];
  snapshots: SnapshotRecord[];
  candles: CandleRow[];
}

/** The engine's working records: what is current, not what happened (that is in the journal). */
export interface State {
  install: Install;
  buttons: Record<string, ButtonRecord>;
  engine: EngineRecord;
  runs: Record<string, RunRecord>;
  signals: Record<string, SignalRecord>;
  positions: Record<string, PositionRecord>;
  /** Paper cash per quote currency. */
  balances: Record<string, number>;
  /** Chats that get notifications: `platform:chatId` -> muted categories. */
  subscriptions: Record<string, SubscriptionRecord>;
  settings: SettingsRecord;
  regime?: RegimeRecord | undefined;
  /** Live orders by client id (paper trading has none). */
  orders: Record<string, OrderRecord>;
  live: LiveRecord;
  /** People's alerts by id (/alert): kept in the paper book's journal, whatever the mode. */
  alerts: Record<string, AlertRecord>;
  log: JournalLog;
}

/** Set a signal's status, and its run's note of its last signal when this is that signal. */
export function markSignal(s: State, sig: SignalRecord, status: SignalRecord['status']): void {
  sig.status = status;
  const run = s.runs[sig.runId];
  if (run?.lastSignal?.id === sig.id) run.lastSignal.status = status;
}

/** The working-set collections, each kept in its table with the columns a query needs. */
const COLLECTIONS = {
  runs: (r: RunRecord) => ({
    strategy: r.strategy,
    symbol: r.symbol,
    timeframe: r.timeframe,
    state: r.state,
    created_at: r.createdAt,
  }),
  signals: (r: SignalRecord) => ({
    run_id: r.runId,
    symbol: r.symbol,
    side: r.side,
    status: r.status,
    bar_time: r.barTime,
    created_at: r.createdAt,
  }),
  positions: (r: PositionRecord) => ({
    run_id: r.runId,
    symbol: r.symbol,
    quote: r.quote,
    side: r.side,
    entry_time: r.entryTime,
  }),
  orders: (r: OrderRecord) => ({
    run_id: r.runId,
    position_id: r.positionId,
    symbol: r.symbol,
    purpose: r.purpose,
    status: r.status,
    created_at: r.createdAt,
  }),
  buttons: (r: ButtonRecord) => ({
    command: r.command,
    chat: r.chat,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
  }),
  subscriptions: (_r: SubscriptionRecord) => ({}),
} as const;
type Collection = keyof typeof COLLECTIONS;
const COLLECTION_NAMES = Object.keys(COLLECTIONS) as Collection[];

/** Records of which each book has one. */
const DOCUMENTS = ['engine', 'balances', 'settings', 'regime', 'live', 'alerts'] as const;
type DocumentKey = (typeof DOCUMENTS)[number];

const emptyLog = (): JournalLog => ({
  decisions: [],
  trades: [],
  equity: [],
  notifications: [],
  settings: [],
  regime: [],
  snapshots: [],
  candles: [],
});

const defaults: Record<DocumentKey, () => unknown> = {
  engine: () => ({ nextId: 1, peak: {} }),
  balances: () => ({}),
  settings: () => ({ risk: {}, pairlist: {} }),
  regime: () => undefined,
  live: () => ({ initial: {}, reported: [] }),
  alerts: () => ({}),
};

/** What the engine's jobs need of a store: the working records, and changes to them. */
export interface WorkingSet {
  readonly data: Readonly<State>;
  /** Change the working records; the change's result once it is kept. */
  update<T>(change: (state: State) => T): Promise<T>;
}

/**
 * Working records kept in memory only, with nothing journaled: a backtest's account, run by the
 * engine's own jobs. The history a change adds (`log`) accumulates until the caller takes it.
 */
export function memoryState(now = Date.now()): WorkingSet {
  const state = emptyState({ id: 'backtest', secret: 'backtest'.repeat(4), createdAt: now });
  return { data: state, update: (change) => Promise.resolve(change(state)) };
}

/** A book with nothing in it yet: each document at its default, each collection empty. */
function emptyState(install: Install): State {
  return {
    install,
    engine: defaults.engine(),
    balances: defaults.balances(),
    settings: defaults.settings(),
    regime: defaults.regime(),
    live: defaults.live(),
    alerts: defaults.alerts(),
    log: emptyLog(),
    ...Object.fromEntries(COLLECTION_NAMES.map((c) => [c, {}])),
  } as unknown as State;
}

/** The store options the configuration gives (DATABASE_URL, INSTANCE). */
export function storeOptions(config: {
  store: { url?: string | undefined; instance: string };
}): StoreOptions {
  return { url: config.store.url, instance: config.store.instance };
}

export interface StoreOptions {
  /** `postgres://...`: keep the journal on that server instead of in DATA_DIR. */
  url?: string | undefined;
  /** This bosun's name in a shared database (default `main`). */
  instance?: string | undefined;
}

/** What one commit writes: working rows changed or retired, documents, history, derived fills. */
interface Plan {
  upserts: Array<{ collection: Collection; id: string; json: string; record: unknown }>;
  /** Records that left the working set; `final`: the version they left with, when it was seen. */
  retired: Array<{ collection: Collection; id: string; final?: unknown }>;
  documents: Array<{ key: DocumentKey; json: string }>;
  log: JournalLog;
  fills: Database['fills'][];
  fillCounts: Map<string, number>;
}

export class StateStore implements WorkingSet {
  private queue: Promise<unknown> = Promise.resolve();
  /** When the last change was kept, and the failure of a write since (for the health check). */
  /**
   * How the journal's writes go: the last one kept (`at`), the last one failed (until one is kept
   * again), and since when the write in progress has waited (a database that stopped answering
   * holds it: the health check tells it from a slow one).
   */
  readonly writes: { at?: number; failed?: { at: number; message: string }; since?: number } = {};
  /** The JSON last committed for each working record (`collection/id`) and document. */
  private readonly saved = new Map<string, string>();
  /** Fills already written per position id (its entry counts as one). */
  private readonly fillCounts = new Map<string, number>();
  readonly journal: Journal;
  /** Set when this open imported a v0.1 state file: what, from where, kept where (for the log). */
  imported: string | undefined;

  private constructor(
    private readonly conn: JournalDatabase,
    private readonly state: State,
    readonly book: Book,
    readonly instance: string,
    /** Where the journal is, safe to show. */
    readonly where: string,
  ) {
    this.journal = new Journal(conn.db, instance, book);
  }

  /**
   * Open the journal for `book` (the paper account by default) and load the working records.
   * SQLite in `dataDir` unless `options.url` names a PostgreSQL server. On first start a v0.1 state
   * file in `dataDir` is imported in one transaction and kept beside as `<file>.v0.1.bak`. Throws
   * STORAGE when the journal cannot be opened or written, BAD_DATA for a damaged v0.1 file.
   */
  static async open(
    dataDir: string,
    now = Date.now(),
    book: Book = 'paper',
    options: StoreOptions = {},
  ): Promise<StateStore> {
    const instance = options.instance ?? 'main';
    ensureDir(dataDir, { elsewhere: 'set DATA_DIR to a writable directory' });
    removeStaleTemps(dataDir);
    const legacyPath = join(dataDir, LEGACY_FILES[book]);
    const legacy = existsSync(legacyPath) ? readLegacy(legacyPath) : undefined;
    const install = await loadInstall(dataDir, now, legacy?.install);
    const conn = await openDatabase({ dataDir, url: options.url, lockName: `bosun:${instance}:${book}` });
    try {
      const journal = new Journal(conn.db, instance, book);
      let imported: string | undefined;
      const already = legacy ? await journal.imported(LEGACY_FILES[book]) : false;
      // The same file again is a start that died before moving it aside; another is refused.
      if (legacy && already && !sameAsBackup(legacyPath))
        throw new AppError(
          'BAD_DATA',
          `${legacyPath} is a v0.1 state file, but one was imported into this journal already (kept as ${backupName(legacyPath)}) and this one differs; bosun will not mix them: move it away, or point DATA_DIR at an empty place to import it`,
        );
      if (legacy && !already) {
        if (await journal.inUse())
          throw new AppError(
            'BAD_DATA',
            `${legacyPath} is a v0.1 state file, but the journal at ${conn.where} already holds this book's state; bosun will not mix them: move the file away to go on with the journal, or point DATA_DIR${options.url ? ' (or DATABASE_URL)' : ''} at an empty place to import it`,
          );
        imported = await importLegacy(conn, instance, book, legacy, legacyPath, now);
      }
      if (legacy) keepBackup(legacyPath);
      const state = await load(conn.db, instance, book, install);
      const store = new StateStore(conn, state, book, instance, conn.where);
      store.remember();
      store.track();
      if (imported)
        store.imported = `${legacyPath} imported (${imported}), kept as ${backupName(legacyPath)}`;
      return store;
    } catch (err) {
      await conn.close().catch(() => undefined);
      throw journalError(conn, err, 'read');
    }
  }

  /** The backtests kept in this journal (the instance's, whichever book this store is). */
  get backtests(): BacktestArchive {
    this.archive ??= new BacktestArchive(this.conn.db, (q) => this.conn.write(q), this.instance);
    return this.archive;
  }

  private archive: BacktestArchive | undefined;

  /** The current working records, read-only by convention: change them through {@link update}. */
  get data(): Readonly<State> {
    return this.state;
  }

  /**
   * Change the state and commit it to the journal; resolves after the commit, so the change can then
   * be announced. Updates run one at a time, in call order. A change that throws, or whose commit
   * fails, leaves memory and journal as they were, and the error goes to the caller.
   */
  update<T>(change: (state: State) => T): Promise<T> {
    const run = this.queue.then(async () => {
      let result: T;
      try {
        result = change(this.state);
      } catch (err) {
        this.undo(this.plan());
        throw err;
      }
      const plan = this.plan();
      this.writes.since = Date.now();
      try {
        await this.write(plan);
      } catch (err) {
        this.undo(plan);
        const e = journalError(this.conn, err, 'write');
        this.writes.failed = { at: Date.now(), message: e.message };
        throw e;
      } finally {
        delete this.writes.since;
      }
      this.commit(plan);
      this.writes.at = Date.now();
      delete this.writes.failed;
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Wait for the updates queued so far, then close the journal. */
  async close(): Promise<void> {
    await this.queue;
    await this.conn.close();
  }

  // --- working out what changed ---

  /**
   * Records deleted from the working set since the last commit, as they were when deleted: their
   * rows keep that final version (a closed position with its last exit), even if never committed.
   */
  private readonly removed = new Map<string, unknown>();

  /** Make each working collection note what is deleted from it (see {@link removed}). */
  private track(): void {
    for (const c of COLLECTION_NAMES) {
      const removed = this.removed;
      (this.state as unknown as Record<string, unknown>)[c] = new Proxy(
        this.state[c] as Record<string, unknown>,
        {
          deleteProperty(target, id) {
            if (typeof id === 'string' && Object.hasOwn(target, id)) removed.set(`${c}/${id}`, target[id]);
            return Reflect.deleteProperty(target, id);
          },
        },
      );
    }
  }

  private remember(): void {
    for (const c of COLLECTION_NAMES)
      for (const [id, rec] of Object.entries(this.state[c]))
        this.saved.set(`${c}/${id}`, JSON.stringify(rec));
    for (const key of DOCUMENTS) this.saved.set(`@${key}`, JSON.stringify(this.state[key]) ?? 'null');
    // A loaded position's fills are in the journal already: its entry and each of its exits.
    for (const p of Object.values(this.state.positions))
      this.fillCounts.set(p.id, positionEntries(p).length + p.exits.length);
  }

  private plan(): Plan {
    const plan: Plan = {
      upserts: [],
      retired: [],
      documents: [],
      log: this.state.log,
      fills: [],
      fillCounts: new Map(),
    };
    for (const c of COLLECTION_NAMES) {
      const records = this.state[c] as Record<string, unknown>;
      for (const id in records) {
        const json = JSON.stringify(records[id]);
        if (this.saved.get(`${c}/${id}`) !== json)
          plan.upserts.push({ collection: c, id, json, record: records[id] });
      }
    }
    for (const key of this.saved.keys()) {
      if (key.startsWith('@')) continue;
      const [c, id] = splitKey(key);
      if (!Object.hasOwn(this.state[c], id))
        plan.retired.push({ collection: c, id, final: this.removed.get(key) });
    }
    // Made and deleted within this change: never committed, kept as they left.
    for (const [key, final] of this.removed) {
      if (this.saved.has(key)) continue;
      const [c, id] = splitKey(key);
      if (!Object.hasOwn(this.state[c], id)) plan.retired.push({ collection: c, id, final });
    }
    for (const key of DOCUMENTS) {
      const json = JSON.stringify(this.state[key]) ?? 'null';
      if (this.saved.get(`@${key}`) !== json) plan.documents.push({ key, json });
    }
    this.planFills(plan);
    return plan;
  }

  /** Fills as they appear: a new position's entry, exits added to a position or to a closed trade. */
  private planFills(plan: Plan): void {
    const add = (id: string, base: FillBase, entries: EntryFill[], exits: PositionRecord['exits']) => {
      const written = plan.fillCounts.get(id) ?? this.fillCounts.get(id) ?? 0;
      plan.fills.push(...fillsFrom(base, entries, exits, written));
      plan.fillCounts.set(id, Math.max(written, entries.length + exits.length));
    };
    for (const u of plan.upserts) {
      if (u.collection !== 'positions') continue;
      const p = u.record as PositionRecord;
      add(p.id, positionFillBase(this.scope(), p), positionEntries(p), p.exits);
    }
    for (const t of plan.log.trades) add(t.id, tradeFillBase(this.scope(), t), tradeEntries(t), t.exits);
  }

  private empty(plan: Plan): boolean {
    return (
      plan.upserts.length === 0 &&
      plan.retired.length === 0 &&
      plan.documents.length === 0 &&
      plan.fills.length === 0 &&
      Object.values(plan.log).every((rows) => rows.length === 0)
    );
  }

  /** Memory back to the last commit: changed records restored, new ones removed, the log emptied. */
  private undo(plan: Plan): void {
    for (const u of plan.upserts) {
      const saved = this.saved.get(`${u.collection}/${u.id}`);
      const records = this.state[u.collection] as Record<string, unknown>;
      if (saved === undefined) delete records[u.id];
      else records[u.id] = JSON.parse(saved);
    }
    for (const r of plan.retired) {
      const saved = this.saved.get(`${r.collection}/${r.id}`);
      if (saved !== undefined)
        (this.state[r.collection] as Record<string, unknown>)[r.id] = JSON.parse(saved);
    }
    this.removed.clear();
    for (const d of plan.documents) {
      const saved = JSON.parse(this.saved.get(`@${d.key}`) ?? 'null') as unknown;
      (this.state as unknown as Record<string, unknown>)[d.key] = saved ?? defaults[d.key]();
    }
    this.state.log = emptyLog();
  }

  /** The plan is on disk: it becomes the last commit. */
  private commit(plan: Plan): void {
    for (const u of plan.upserts) this.saved.set(`${u.collection}/${u.id}`, u.json);
    for (const r of plan.retired) this.saved.delete(`${r.collection}/${r.id}`);
    for (const d of plan.documents) this.saved.set(`@${d.key}`, d.json);
    for (const [id, n] of plan.fillCounts) this.fillCounts.set(id, n);
    for (const r of plan.retired) if (r.collection === 'positions') this.fillCounts.delete(r.id);
    for (const t of plan.log.trades) this.fillCounts.delete(t.id);
    this.removed.clear();
    this.state.log = emptyLog();
  }

  private scope() {
    return { instance: this.instance, book: this.book };
  }

  // --- writing ---

  private async write(plan: Plan): Promise<void> {
    if (this.empty(plan)) return;
    const now = Date.now();
    const b = new Batch(this.conn.db);
    const scope = this.scope();
    // Each collection's changed records in one multi-row upsert (a candle changes every run).
    for (const c of COLLECTION_NAMES) {
      const rows = plan.upserts
        .filter((u) => u.collection === c)
        .map((u) => workingRow(scope, c, u.id, u.record, u.json, 1, now));
      insertChunked(b, c, rows, upsertOn(['instance', 'book', 'id']));
      // A record that left with a version seen: its final version, no longer current.
      const finals = plan.retired
        .filter((r) => r.collection === c && r.final !== undefined)
        .map((r) => workingRow(scope, c, r.id, r.final, JSON.stringify(r.final), 0, now));
      insertChunked(b, c, finals, upsertOn(['instance', 'book', 'id']));
      const retired = plan.retired
        .filter((r) => r.collection === c && r.final === undefined)
        .map((r) => r.id);
      for (let i = 0; i < retired.length; i += CHUNK)
        b.add(
          b.db
            .updateTable(c)
            .set({ current: 0, updated_at: now })
            .where('instance', '=', this.instance)
            .where('book', '=', this.book)
            .where('id', 'in', retired.slice(i, i + CHUNK)),
        );
    }
    insertChunked(
      b,
      'documents',
      plan.documents.map((d) => ({ ...scope, key: d.key, updated_at: now, data: d.json })),
      upsertOn(['instance', 'book', 'key']),
    );
    writeLog(b, scope, plan.log);
    insertChunked(b, 'fills', plan.fills as unknown as Record<string, unknown>[]);
    await this.conn.write(b.queries);
  }

  /**
   * Compiled statements written in one transaction outside a state change (retention's deletes):
   * through the same writer, so they never contend with the store's commits for the file.
   */
  writeQueries(queries: readonly CompiledQuery[]): Promise<number[]> {
    return this.conn.write(queries);
  }
}

/** The statements of one transaction, compiled as they are added, run by JournalDatabase.write. */
export class Batch {
  readonly queries: CompiledQuery[] = [];
  constructor(readonly db: Kysely<Database>) {}
  add(q: { compile(): CompiledQuery }): void {
    this.queries.push(q.compile());
  }
}

/** ON CONFLICT (key) DO UPDATE every other column to the new row's value. */
function upsertOn(key: string[]) {
  return (oc: OnConflictBuilder<Database, keyof Database>, row: Record<string, unknown>) =>
    oc.columns(key as never).doUpdateSet((eb) => {
      const set: Record<string, unknown> = {};
      for (const col of Object.keys(row))
        if (!key.includes(col)) set[col] = eb.ref(`excluded.${col}` as never);
      return set as never;
    });
}

/** The columns a position's fills rows share: scope, position, run, symbol, quote, side. */
type FillBase = Pick<
  Database['fills'],
  'instance' | 'book' | 'position_id' | 'run_id' | 'symbol' | 'quote' | 'side'
>;
type EntryFill = Pick<Database['fills'], 'time' | 'price' | 'quantity' | 'fee'>;
type Scope = { instance: string; book: string };

const positionFillBase = (scope: Scope, p: PositionRecord): FillBase => ({
  ...scope,
  position_id: p.id,
  run_id: p.runId,
  symbol: p.symbol,
  quote: p.quote,
  side: p.side,
});
const tradeFillBase = (scope: Scope, t: TradeRecord): FillBase => ({
  ...scope,
  position_id: t.id,
  run_id: t.runId,
  symbol: t.symbol,
  quote: t.quote,
  side: t.side === 'long' ? 1 : -1,
});
/** A position's entry fills: the first, then each add. */
const positionEntries = (p: PositionRecord): EntryFill[] =>
  p.adds?.fills ?? [{ time: p.entryTime, price: p.entryPrice, quantity: p.initialQty, fee: p.entryFee }];
/** A trade's entry: its fees less those of its exits. */
const tradeEntries = (t: TradeRecord): EntryFill[] =>
  t.entries ?? [
    {
      time: t.entryTime,
      price: t.entryPrice,
      quantity: t.quantity,
      fee: t.fees - t.exits.reduce((sum, e) => sum + e.fee, 0),
    },
  ];

/**
 * A position's fills rows not written yet, `written` of them being: its entry fills (the first, then
 * each add: `kind` entry and add), then its exits. Adds all come before the first exit (it withdraws
 * those not filled), so the rows only ever grow at the end.
 */
function fillsFrom(
  base: FillBase,
  entries: EntryFill[],
  exits: PositionRecord['exits'],
  written: number,
): Database['fills'][] {
  const rows: Database['fills'][] = entries.map(
    (e, k) =>
      ({
        ...base,
        ...e,
        kind: k === 0 ? 'entry' : 'add',
        pnl: 0,
        reason: k === 0 ? 'entry' : 'add',
      }) as Database['fills'],
  );
  for (const e of exits)
    rows.push({
      ...base,
      kind: 'exit',
      time: e.time,
      price: e.price,
      quantity: e.quantity,
      fee: e.fee,
      pnl: e.pnl,
      reason: e.reason,
    } as Database['fills']);
  return rows.slice(written);
}

/** A working record's row: its key, whether it is current, its JSON and its query columns. */
function workingRow(
  scope: Scope,
  c: Collection,
  id: string,
  record: unknown,
  json: string,
  current: 0 | 1,
  now: number,
): Record<string, unknown> {
  return { ...scope, id, current, updated_at: now, data: json, ...COLLECTIONS[c](record as never) };
}

/** `collection/id` (a key of the committed JSON) back into its parts. */
function splitKey(key: string): [Collection, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash) as Collection, key.slice(slash + 1)];
}

/** One line for a journal failure, in the words of its database. */
function journalError(conn: JournalDatabase, err: unknown, doing: string): AppError {
  return conn.dialect === 'sqlite' ? sqliteError(err, conn.where, doing) : postgresError(err, conn.where);
}

/** Rows per INSERT: well under SQLite's bound-parameter limit. */
const CHUNK = 200;

function insertChunked<T extends keyof Database>(
  b: Batch,
  table: T,
  rows: readonly Record<string, unknown>[],
  conflict?: (oc: OnConflictBuilder<Database, keyof Database>, row: Record<string, unknown>) => unknown,
): void {
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    let q = b.db.insertInto(table).values(chunk as never);
    if (conflict) q = q.onConflict((oc) => conflict(oc as never, chunk[0]!) as never);
    b.add(q);
  }
}

/** The history rows of one change, appended in its transaction. */
export function writeLog(b: Batch, scope: { instance: string; book: string }, log: JournalLog): void {
  insertChunked(
    b,
    'decisions',
    log.decisions.map((d) => ({
      ...scope,
      time: d.time,
      run_id: d.runId,
      kind: d.kind,
      detail: d.detail,
      signal_id: d.signalId ?? null,
      indicators: JSON.stringify(d.indicators),
    })),
  );
  insertChunked(
    b,
    'trades',
    log.trades.map((t) => ({
      ...scope,
      id: t.id,
      run_id: t.runId,
      symbol: t.symbol,
      quote: t.quote,
      side: t.side,
      entry_time: t.entryTime,
      entry_price: t.entryPrice,
      exit_time: t.exitTime,
      exit_price: t.exitPrice,
      quantity: t.quantity,
      pnl: t.pnl,
      return_pct: t.returnPct,
      fees: t.fees,
      exit_reason: t.exitReason,
      bars: t.bars,
      exits: JSON.stringify(t.exits),
      entries: t.entries ? JSON.stringify(t.entries) : null,
    })),
    (oc) => oc.columns(['instance', 'book', 'id']).doNothing(),
  );
  // One point per quote and time: a later one in the same change wins.
  const equity = new Map<string, EquityPoint>();
  for (const e of log.equity) equity.set(`${e.quote}@${e.time}`, e);
  insertChunked(
    b,
    'equity',
    [...equity.values()].map((e) => ({ ...scope, quote: e.quote, time: e.time, equity: e.equity })),
    upsertOn(['instance', 'book', 'quote', 'time']),
  );
  insertChunked(
    b,
    'notifications',
    log.notifications.map((n) => ({
      ...scope,
      time: n.time,
      chat: n.chat,
      category: n.category,
      text: n.text,
    })),
  );
  insertChunked(
    b,
    'settings_changes',
    log.settings.map((c) => ({
      ...scope,
      at: c.at,
      who: c.who,
      key: c.key,
      old_value: c.old,
      new_value: c.new,
    })),
  );
  insertChunked(
    b,
    'regime_changes',
    log.regime.map((r) => ({
      ...scope,
      at: r.at,
      from_state: r.from,
      to_state: r.to,
      confidence: r.confidence,
      why: r.why,
    })),
  );
  insertChunked(
    b,
    'snapshots',
    log.snapshots.map((s) => ({
      ...scope,
      at: s.at,
      symbol: s.symbol,
      timeframe: s.timeframe,
      bid: s.orderBook?.bid ?? null,
      bid_size: s.orderBook?.bidSize ?? null,
      ask: s.orderBook?.ask ?? null,
      ask_size: s.orderBook?.askSize ?? null,
      correlation_btc: s.correlationBtc,
      indicators: JSON.stringify(s.indicators),
      candles: JSON.stringify(s.candles),
    })),
  );
  const candles = new Map<string, CandleRow>();
  for (const c of log.candles) candles.set(`${c.source}|${c.symbol}|${c.timeframe}|${c.time}`, c);
  insertChunked(b, 'candles', [...candles.values()] as unknown as Record<string, unknown>[], (oc) =>
    oc.columns(['source', 'symbol', 'timeframe', 'time']).doNothing(),
  );
}

// --- loading ---

async function load(db: Kysely<Database>, instance: string, book: Book, install: Install): Promise<State> {
  const state = emptyState(install);
  for (const c of COLLECTION_NAMES) {
    const rows = await db
      .selectFrom(c)
      .select(['id', 'data'])
      .where('instance', '=', instance)
      .where('book', '=', book)
      .where('current', '=', 1)
      .execute();
    const records: Record<string, unknown> = {};
    for (const r of rows) records[r.id] = JSON.parse(r.data);
    (state as unknown as Record<string, unknown>)[c] = records;
  }
  const docs = await db
    .selectFrom('documents')
    .select(['key', 'data'])
    .where('instance', '=', instance)
    .where('book', '=', book)
    .execute();
  for (const d of docs) {
    const value = JSON.parse(d.data) as unknown;
    if (value !== null && (DOCUMENTS as readonly string[]).includes(d.key))
      (state as unknown as Record<string, unknown>)[d.key] = value;
  }
  return state;
}

// --- v0.1 state files ---

function readLegacy(path: string): LegacyState {
  const stop = (why: string) =>
    new AppError(
      'BAD_DATA',
      `state file ${path} ${why}; bosun will not start on it and will not overwrite it: restore it from a backup, or move it away to start afresh`,
    );
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw storageError(err, path, { elsewhere: 'set DATA_DIR to a readable directory' }, 'read');
  }
  if (text.trim() === '') throw stop('is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw stop(`is not valid JSON (${(err as Error).message})`);
  }
  const parsed = LegacyStateSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw stop(`is not a bosun state (${issue.path.join('.') || 'top level'}: ${issue.message})`);
  }
  return parsed.data;
}

/** Whether a v0.1 file is byte for byte the backup of the one imported before. */
function sameAsBackup(path: string): boolean {
  try {
    return readFileSync(path, 'utf8') === readFileSync(backupName(path), 'utf8');
  } catch {
    return false;
  }
}

/** Where a v0.1 file is kept once imported. */
export const backupName = (path: string) => `${path}.v0.1.bak`;

/** A v0.1 state file into the journal, all of it in one transaction, and a row saying so. */
async function importLegacy(
  conn: JournalDatabase,
  instance: string,
  book: Book,
  legacy: LegacyState,
  path: string,
  now: number,
): Promise<string> {
  const scope = { instance, book };
  const snapshotsPath = join(path, '..', 'snapshots.json');
  const snapshots = book === 'paper' ? readLegacySnapshots(snapshotsPath) : [];
  const detail = `${Object.keys(legacy.runs).length} runs, ${legacy.trades.length} trades, ${legacy.decisions.length} decisions, ${legacy.equity.length} equity points, ${snapshots.length} snapshots`;
  try {
    const b = new Batch(conn.db);
    {
      const working: Record<Collection, Record<string, unknown>> = {
        runs: legacy.runs,
        signals: legacy.signals,
        positions: legacy.positions,
        orders: legacy.orders,
        buttons: legacy.buttons,
        subscriptions: legacy.subscriptions,
      };
      for (const c of COLLECTION_NAMES)
        insertChunked(
          b,
          c,
          Object.entries(working[c]).map(([id, rec]) =>
            workingRow(scope, c, id, rec, JSON.stringify(rec), 1, now),
          ),
        );
      const engine = { ...legacy.engine, recent: recentOf(legacy.trades) };
      const docs: Record<DocumentKey, unknown> = {
        engine,
        balances: legacy.balances,
        settings: legacy.settings,
        regime: legacy.regime ?? null,
        live: legacy.live,
        alerts: {},
      };
      insertChunked(
        b,
        'documents',
        DOCUMENTS.map((key) => ({
          ...scope,
          key,
          updated_at: now,
          data: JSON.stringify(docs[key]) ?? 'null',
        })),
      );
      const log = emptyLog();
      log.decisions = legacy.decisions;
      log.trades = legacy.trades;
      log.equity = legacy.equity;
      log.regime = legacy.regime?.history ?? [];
      log.snapshots = snapshots;
      writeLog(b, scope, log);
      // Fills: the entries and exits of every trade and open position.
      const fills = [
        ...legacy.trades.flatMap((t) => fillsFrom(tradeFillBase(scope, t), tradeEntries(t), t.exits, 0)),
        ...Object.values(legacy.positions).flatMap((p) =>
          fillsFrom(positionFillBase(scope, p), positionEntries(p), p.exits, 0),
        ),
      ] as unknown as Record<string, unknown>[];
      insertChunked(b, 'fills', fills);
      b.add(
        b.db.insertInto('imports').values({
          ...scope,
          file: LEGACY_FILES[book],
          at: now,
          backup: backupName(path),
          detail,
        }),
      );
    }
    await conn.write(b.queries);
    return detail;
  } catch (err) {
    // Nothing of it was written; the file stays where it is, to be imported at the next start.
    throw journalError(conn, err, `import ${path} into`);
  }
}

/** The risk manager's memory of closed trades, rebuilt from a v0.1 file's trades. */
export function recentOf(trades: readonly TradeRecord[]): NonNullable<EngineRecord['recent']> {
  const recent: NonNullable<EngineRecord['recent']> = { lastLoss: {}, closedPnls: {} };
  for (const t of trades) noteClosed(recent, t);
  return recent;
}

/** How many closed PnLs per quote the risk manager looks back over. */
export const RECENT_PNLS = 200;

/**
 * Book a closed position's trade: into the journal, the risk manager's recent results and its run's
 * totals, in the same change that closes it (paper and live alike).
 */
export function bookTrade(s: State, trade: TradeRecord): void {
  s.log.trades.push(trade);
  noteClosed((s.engine.recent ??= { lastLoss: {}, closedPnls: {} }), trade);
  const run = s.runs[trade.runId];
  if (run) {
    run.realizedPnl += trade.pnl;
    run.trades++;
  }
}

/** Remember a closed trade for the risk manager (cooldown after a loss, recent PnLs). */
export function noteClosed(recent: NonNullable<EngineRecord['recent']>, t: TradeRecord): void {
  if (t.pnl < 0) recent.lastLoss[t.symbol] = Math.max(recent.lastLoss[t.symbol] ?? 0, t.exitTime);
  const pnls = (recent.closedPnls[t.quote] ??= []);
  pnls.push(t.pnl);
  if (pnls.length > RECENT_PNLS) pnls.splice(0, pnls.length - RECENT_PNLS);
}

function readLegacySnapshots(path: string): SnapshotRecord[] {
  if (!existsSync(path)) return [];
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return Array.isArray(value) ? (value as SnapshotRecord[]) : [];
  } catch {
    // Snapshots were a cache of scans; a damaged file is kept as it is, not imported.
    return [];
  }
}

/** The imported v0.1 file (and snapshots.json) moved aside, never deleted. */
function keepBackup(path: string): void {
  const move = (from: string) => {
    if (!existsSync(from)) return;
    // A backup of that name from an earlier import is kept too: the next free number.
    let to = backupName(from);
    for (let n = 2; existsSync(to); n++) to = `${from}.v0.1.${n}.bak`;
    try {
      renameSync(from, to);
    } catch (err) {
      throw storageError(err, from, { elsewhere: 'set DATA_DIR to a writable directory' }, 'move aside');
    }
  };
  move(path);
  if (path.endsWith(LEGACY_FILES.paper)) move(join(path, '..', 'snapshots.json'));
}
