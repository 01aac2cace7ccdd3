/**
 * Exporting the journal for analysis: one kind of history (candles, decisions, signals, trades,
 * fills, equity, snapshots) streamed out as CSV, JSON lines or Parquet, with memory flat whatever
 * the size.
 *
 * - **Reading**: a page at a time by keyset pagination, `where (k1, k2) > (last k1, last k2) order by
 *   k1, k2 limit N`, over columns an index serves where the schema has one, so a page deep into the
 *   table costs what the first did, and the same SQL runs on SQLite and PostgreSQL. Kinds kept in
 *   series (candles: per source, symbol and timeframe; trades, fills, equity: per quote currency)
 *   are read series after series, each one an index range.
 * - **Writing**: the pages become chunks (a page of CSV or JSON lines, a Parquet row group) of an
 *   async generator read by a Node stream with a high-water mark of one chunk; the stream waits for
 *   its reader (a file, a pipe) before asking for the next, so at most a couple of pages are held.
 * - **Indicators**: decisions, signals and snapshots keep their indicator values as a JSON object;
 *   each indicator becomes a column. A CSV header and a Parquet schema must name every column
 *   before the first row, so a first pass over the same range reads only the keys and the JSON and
 *   keeps the union of the names (first seen, first placed): the range is read twice, and memory
 *   holds only the names.
 * - **Parquet**: hyparquet-writer's ParquetWriter is given {@link ROW_GROUP} rows at a time; each
 *   group is encoded, its bytes handed to the stream and let go. Only the footer's list of row
 *   groups grows, a few hundred bytes per group.
 *
 * Times are written twice: as ISO 8601 UTC (`time`; in Parquet a UTC millisecond timestamp) and as
 * epoch milliseconds (`time_ms`).
 *
 * The journal is opened read-only ({@link openJournalReader}); it is never migrated, and one from a
 * newer (or older) bosun is refused with one line.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import BetterSqlite3 from 'better-sqlite3';
import { stringify } from 'csv-stringify/sync';
import { ByteWriter, ParquetWriter } from 'hyparquet-writer';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { AppError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { pgNumbers, postgresError, SQLITE_FILE, sqliteError } from './database.js';
import { type Dialect, executedMigrations, MIGRATION_TABLE, migrations, refuseNewer } from './migrations.js';
import type { Database } from './schema.js';

export const EXPORT_KINDS = [
  'candles',
  'decisions',
  'signals',
  'trades',
  'fills',
  'equity',
  'snapshots',
] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export const EXPORT_FORMATS = ['csv', 'jsonl', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Filters a kind may take besides the time range. */
export type ExportFilterName = 'run' | 'symbol' | 'timeframe';

export interface ExportQuery {
  kind: ExportKind;
  /** Rows of this bosun and book (candles are shared by all and ignore both). */
  instance: string;
  book: string;
  /** Inclusive, epoch ms. */
  from?: number | undefined;
  /** Exclusive, epoch ms. */
  to?: number | undefined;
  runId?: string | undefined;
  symbol?: string | undefined;
  timeframe?: string | undefined;
}

export interface ExportResult {
  rows: number;
  columns: string[];
}

/** Rows per Parquet row group: what the Parquet writer holds at once. */
export const ROW_GROUP = 20_000;

/**
 * How a column's values are carried: `iso` and `ms` are both epoch ms in a row (written as ISO text
 * and as a number); `json` is JSON text (written verbatim in JSON lines, as a JSON value in Parquet).
 */
type ColumnType = 'text' | 'real' | 'int' | 'iso' | 'ms' | 'json';

export interface Column {
  name: string;
  type: ColumnType;
}

type Row = Record<string, unknown>;
type Indicators = Record<string, unknown>;

interface KindSpec {
  table: keyof Database;
  /** False for candles: market data, the same for every instance and book. */
  scoped: boolean;
  /** The column --from / --to apply to. */
  time: string;
  /**
   * Columns that split the rows into series (candles: source, symbol, timeframe; money: quote),
   * exported one after another: the leading columns of an index, so that within a series the
   * keyset below is an index range (SQLite will not use an index for a row-value range across
   * columns that a filter fixes).
   */
  series: string[];
  /** The keyset: columns that order a series' rows uniquely, an index's next columns where there is one. */
  keys: string[];
  filters: Partial<Record<ExportFilterName, string>>;
  /** Columns read for a row. */
  select: string[];
  /** The fixed columns, and a row's values for them. */
  columns: Column[];
  values(r: Row): unknown[];
  /** The column holding a JSON object of indicator values, each of which becomes a column. */
  spread?: { column: string; of(json: string): Indicators | undefined };
  /** Rows per page, where not {@link PAGE} (smaller where rows are large). */
  page?: number;
}

const time = (name: string): Column[] => [
  { name, type: 'iso' },
  { name: `${name}_ms`, type: 'ms' },
];
const col = (name: string, type: ColumnType): Column => ({ name, type });
const asObject = (v: unknown): Indicators | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Indicators) : undefined;
const flatObject = (json: string) => asObject(JSON.parse(json));

/** Each kind: where its rows are, how they are ordered and filtered, and their columns. */
export const KINDS: Record<ExportKind, KindSpec> = {
  candles: {
    table: 'candles',
    scoped: false,
    time: 'time',
    // The primary key: one series after another, oldest first.
    series: ['source', 'symbol', 'timeframe'],
    keys: ['time'],
    filters: { symbol: 'symbol', timeframe: 'timeframe' },
    select: ['source', 'symbol', 'timeframe', 'time', 'open', 'high', 'low', 'close', 'volume'],
    columns: [
      col('source', 'text'),
      col('symbol', 'text'),
      col('timeframe', 'text'),
      ...time('time'),
      col('open', 'real'),
      col('high', 'real'),
      col('low', 'real'),
      col('close', 'real'),
      col('volume', 'real'),
    ],
    values: (r) => [
      r.source,
      r.symbol,
      r.timeframe,
      r.time,
      r.time,
      r.open,
      r.high,
      r.low,
      r.close,
      r.volume,
    ],
  },
  decisions: {
    table: 'decisions',
    scoped: true,
    time: 'time',
    // Index decisions_time (instance, book, time); seq breaks ties in the order written.
    series: [],
    keys: ['time', 'seq'],
    filters: { run: 'run_id' },
    select: ['seq', 'time', 'run_id', 'kind', 'detail', 'signal_id', 'indicators'],
    columns: [
      col('seq', 'int'),
      ...time('time'),
      col('run_id', 'text'),
      col('kind', 'text'),
      col('detail', 'text'),
      col('signal_id', 'text'),
    ],
    values: (r) => [r.seq, r.time, r.time, r.run_id, r.kind, r.detail, r.signal_id],
    spread: { column: 'indicators', of: flatObject },
  },
  signals: {
    table: 'signals',
    scoped: true,
    time: 'bar_time',
    // No time index (a working-set table, one row per signal): each page is a scan of the book's
    // signals, fine at their numbers.
    series: [],
    keys: ['bar_time', 'id'],
    filters: { run: 'run_id', symbol: 'symbol' },
    select: ['id', 'bar_time', 'data'],
    columns: [
      col('id', 'text'),
      col('run_id', 'text'),
      col('symbol', 'text'),
      col('timeframe', 'text'),
      col('strategy', 'text'),
      col('side', 'text'),
      col('status', 'text'),
      ...time('bar_time'),
      ...time('created_at'),
      col('price', 'real'),
      col('signal_stop', 'real'),
      col('signal_target', 'real'),
      col('stop', 'real'),
      col('targets', 'json'),
      col('quantity', 'real'),
      col('risk', 'real'),
      col('reward_risk', 'real'),
      col('size', 'real'),
      col('reason', 'text'),
      col('decided_by', 'text'),
      ...time('decided_at'),
      ...time('expires_at'),
      col('note', 'text'),
      col('regime', 'text'),
      col('no_half', 'text'),
      col('messages', 'json'),
      col('signal_targets', 'json'),
      col('manual', 'json'),
      col('adds', 'json'),
    ],
    values: (r) => {
      const s = JSON.parse(r.data as string) as Record<string, unknown>;
      const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
      return [
        s.id ?? r.id,
        s.runId,
        s.symbol,
        s.timeframe,
        s.strategy,
        s.side,
        s.status,
        s.barTime,
        s.barTime,
        s.createdAt,
        s.createdAt,
        s.price,
        s.signalStop,
        s.signalTarget,
        s.stop,
        json(s.targets),
        s.quantity,
        s.risk,
        s.rewardRisk,
        s.size,
        s.reason,
        s.decidedBy,
        s.decidedAt,
        s.decidedAt,
        s.expiresAt,
        s.expiresAt,
        s.note,
        s.regime,
        s.noHalf,
        json(s.messages),
        json(s.signalTargets),
        json(s.manual),
        json(s.adds),
      ];
    },
    spread: {
      column: 'data',
      of: (json) => asObject((JSON.parse(json) as { indicators?: unknown }).indicators),
    },
  },
  trades: {
    table: 'trades',
    scoped: true,
    time: 'exit_time',
    // Index trades_exit (instance, book, quote, exit_time): by quote currency, then as they closed.
    series: ['quote'],
    keys: ['exit_time', 'id'],
    filters: { run: 'run_id', symbol: 'symbol' },
    select: [
      'id',
      'run_id',
      'symbol',
      'quote',
      'side',
      'entry_time',
      'entry_price',
      'exit_time',
      'exit_price',
      'quantity',
      'pnl',
      'return_pct',
      'fees',
      'exit_reason',
      'bars',
      'exits',
      'entries',
    ],
    columns: [
      col('id', 'text'),
      col('run_id', 'text'),
      col('symbol', 'text'),
      col('quote', 'text'),
      col('side', 'text'),
      ...time('entry_time'),
      col('entry_price', 'real'),
      ...time('exit_time'),
      col('exit_price', 'real'),
      col('quantity', 'real'),
      col('pnl', 'real'),
      col('return_pct', 'real'),
      col('fees', 'real'),
      col('exit_reason', 'text'),
      col('bars', 'int'),
      col('exits', 'json'),
      col('entries', 'json'),
    ],
    values: (r) => [
      r.id,
      r.run_id,
      r.symbol,
      r.quote,
      r.side,
      r.entry_time,
      r.entry_time,
      r.entry_price,
      r.exit_time,
      r.exit_time,
      r.exit_price,
      r.quantity,
      r.pnl,
      r.return_pct,
      r.fees,
      r.exit_reason,
      r.bars,
      r.exits,
      r.entries,
    ],
  },
  fills: {
    table: 'fills',
    scoped: true,
    time: 'time',
    // Index fills_time (instance, book, quote, time): by quote currency, then in time.
    series: ['quote'],
    keys: ['time', 'seq'],
    filters: { run: 'run_id', symbol: 'symbol' },
    select: [
      'seq',
      'position_id',
      'run_id',
      'symbol',
      'quote',
      'kind',
      'side',
      'time',
      'price',
      'quantity',
      'fee',
      'pnl',
      'reason',
    ],
    columns: [
      col('seq', 'int'),
      col('position_id', 'text'),
      col('run_id', 'text'),
      col('symbol', 'text'),
      col('quote', 'text'),
      col('kind', 'text'),
      col('side', 'text'),
      ...time('time'),
      col('price', 'real'),
      col('quantity', 'real'),
      col('fee', 'real'),
      col('pnl', 'real'),
      col('reason', 'text'),
    ],
    values: (r) => [
      r.seq,
      r.position_id,
      r.run_id,
      r.symbol,
      r.quote,
      r.kind,
      // The journal keeps the position's side as 1 / -1; trades say long / short.
      r.side === 1 ? 'long' : r.side === -1 ? 'short' : String(r.side),
      r.time,
      r.time,
      r.price,
      r.quantity,
      r.fee,
      r.pnl,
      r.reason,
    ],
  },
  equity: {
    table: 'equity',
    scoped: true,
    time: 'time',
    // The primary key (instance, book, quote, time).
    series: ['quote'],
    keys: ['time'],
    filters: {},
    select: ['quote', 'time', 'equity'],
    columns: [col('quote', 'text'), ...time('time'), col('equity', 'real')],
    values: (r) => [r.quote, r.time, r.time, r.equity],
  },
  snapshots: {
    table: 'snapshots',
    scoped: true,
    time: 'at',
    // Index snapshots_at (instance, book, at).
    series: [],
    keys: ['at', 'seq'],
    filters: { symbol: 'symbol', timeframe: 'timeframe' },
    select: [
      'seq',
      'at',
      'symbol',
      'timeframe',
      'bid',
      'bid_size',
      'ask',
      'ask_size',
      'correlation_btc',
      'candles',
      'indicators',
    ],
    columns: [
      col('seq', 'int'),
      ...time('at'),
      col('symbol', 'text'),
      col('timeframe', 'text'),
      col('bid', 'real'),
      col('bid_size', 'real'),
      col('ask', 'real'),
      col('ask_size', 'real'),
      col('correlation_btc', 'real'),
      col('candles', 'json'),
    ],
    values: (r) => [
      r.seq,
      r.at,
      r.at,
      r.symbol,
      r.timeframe,
      r.bid,
      r.bid_size,
      r.ask,
      r.ask_size,
      r.correlation_btc,
      r.candles,
    ],
    spread: { column: 'indicators', of: flatObject },
    // A snapshot carries its last candles: larger rows, smaller pages.
    page: 500,
  },
};

/** The filters a kind takes, for the command's help and its one-line refusals. */
export function kindsWith(filter: ExportFilterName): ExportKind[] {
  return EXPORT_KINDS.filter((k) => KINDS[k].filters[filter] !== undefined);
}

// --- reading the journal ---

/** A read-only handle on the journal; {@link JournalReader.db} is never written through. */
export interface JournalReader {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the journal is, safe to show. */
  where: string;
  close(): Promise<void>;
}

/**
 * Open the journal to read: SQLite `DATA_DIR/bosun.db` read-only, or PostgreSQL with every
 * transaction read-only. Nothing is created or migrated: a missing journal is NOT_FOUND naming
 * where it looked; one whose schema is not this version's is one STORAGE line.
 */
export async function openJournalReader(o: {
  dataDir: string;
  url?: string | undefined;
}): Promise<JournalReader> {
  const reader = o.url ? openPostgresReader(o.url) : openSqliteReader(join(o.dataDir, SQLITE_FILE));
  try {
    await checkSchema(reader);
  } catch (err) {
    await reader.close().catch(() => undefined);
    throw readError(reader, err);
  }
  return reader;
}

function openSqliteReader(path: string): JournalReader {
  if (!existsSync(path))
    throw new AppError(
      'NOT_FOUND',
      `no journal in DATA_DIR yet: looked for ${path}; start bosun once to make it, or set DATA_DIR (or DATABASE_URL) to where its journal is`,
    );
  let raw: BetterSqlite3.Database;
  try {
    raw = new BetterSqlite3(path, { readonly: true, fileMustExist: true, timeout: 5_000 });
  } catch (err) {
    throw sqliteError(err, path, 'open');
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  return { db, dialect: 'sqlite', where: path, close: () => db.destroy() };
}

function openPostgresReader(url: string): JournalReader {
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: 10_000,
    application_name: 'bosun export',
    // The server refuses any write in these sessions, whatever the SQL.
    options: '-c default_transaction_read_only=on',
    types: pgNumbers(pg),
  });
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', where: redactUrl(url), close: () => db.destroy() };
}

/** A journal of exactly this version's schema, or one line saying why not. */
async function checkSchema(reader: JournalReader): Promise<void> {
  const { db, dialect, where } = reader;
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE))
    throw new AppError(
      'NOT_FOUND',
      dialect === 'sqlite'
        ? `no journal in ${where} yet (the file has no bosun tables); start bosun once to make it, or set DATA_DIR to where its journal is`
        : `no journal at ${where} yet; start bosun once with this DATABASE_URL, or point DATABASE_URL at the database that holds its journal`,
    );
  const ran = await executedMigrations(db);
  refuseNewer(ran, dialect, where, 'upgrade bosun to export it');
  const known = Object.keys(migrations(dialect));
  const missing = known.filter((name) => !ran.includes(name));
  if (missing.length > 0)
    throw new AppError(
      'STORAGE',
      `the journal at ${where} was written by an older bosun (it lacks schema ${missing.join(', ')}); export does not change it: start this bosun once to bring it up to date, then export`,
    );
}

/** A failure while reading the journal as one line naming it (an AppError passes as it is). */
export function readError(reader: JournalReader, err: unknown): AppError {
  if (err instanceof AppError) return err;
  return reader.dialect === 'sqlite'
    ? sqliteError(err, reader.where, 'read')
    : postgresError(err, reader.where);
}

// --- the query ---

// The kinds share one generic reader; Kysely's types follow a table chosen at run time no further.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** Rows per page unless a kind says otherwise. */
const PAGE = 5_000;

/** Pages of `columns` of the kind's rows in range: series after series, each in keyset order. */
async function* pages(
  db: Kysely<Database>,
  q: ExportQuery,
  columns: string[],
  pageSize?: number,
): AsyncGenerator<Row[]> {
  const spec = KINDS[q.kind];
  const select = [...new Set([...spec.series, ...spec.keys, ...columns])];
  const size = pageSize ?? spec.page ?? PAGE;
  for (const series of await seriesOf(db, q)) {
    let after: unknown[] | undefined;
    for (;;) {
      let query = filtered(db, q).select(select);
      for (const [column, value] of Object.entries(series)) query = query.where(column, '=', value);
      if (after) {
        // A row-value comparison: both databases read it as "after this key in key order".
        const keys = sql.join(spec.keys.map((k) => sql.ref(k)));
        query = query.where(sql<boolean>`(${keys}) > (${sql.join(after)})`);
      }
      for (const k of spec.keys) query = query.orderBy(k, 'asc');
      const rows = (await query.limit(size).execute()) as Row[];
      if (rows.length > 0) yield rows;
      if (rows.length < size) break;
      const last = rows.at(-1)!;
      after = spec.keys.map((k) => last[k]);
    }
  }
}

/**
 * The series (distinct values of the kind's series columns) with rows in range, in order; one
 * empty series for a kind without. Within a series every page is an index range, on both databases.
 */
async function seriesOf(db: Kysely<Database>, q: ExportQuery): Promise<Row[]> {
  const { series } = KINDS[q.kind];
  if (series.length === 0) return [{}];
  let query = filtered(db, q).select(series).distinct();
  for (const column of series) query = query.orderBy(column, 'asc');
  return (await query.execute()) as Row[];
}

/** The kind's table, scoped to the instance and book, with the range and filters applied. */
function filtered(db: Kysely<Database>, q: ExportQuery) {
  const spec = KINDS[q.kind];
  let query = (db as unknown as AnyDb).selectFrom(spec.table);
  if (spec.scoped) query = query.where('instance', '=', q.instance).where('book', '=', q.book);
  if (q.from !== undefined) query = query.where(spec.time, '>=', q.from);
  if (q.to !== undefined) query = query.where(spec.time, '<', q.to);
  const wanted: Record<ExportFilterName, string | undefined> = {
    run: q.runId,
    symbol: q.symbol,
    timeframe: q.timeframe,
  };
  for (const [filter, value] of Object.entries(wanted))
    if (value !== undefined) query = query.where(spec.filters[filter as ExportFilterName]!, '=', value);
  return query;
}

/** The union of indicator names in range, in the order first seen: a pass over keys and JSON only. */
async function spreadNames(db: Kysely<Database>, q: ExportQuery, pageSize?: number): Promise<string[]> {
  const spread = KINDS[q.kind].spread!;
  const names = new Set<string>();
  let previous: string | undefined;
  for await (const page of pages(db, q, [spread.column], pageSize))
    for (const r of page) {
      const json = r[spread.column] as string;
      // Runs repeat the same object (often `{}`): parse a text only when it changed.
      if (json === previous) continue;
      previous = json;
      for (const name of Object.keys(spread.of(json) ?? {})) names.add(name);
    }
  return [...names];
}

/** An indicator's column: its name, unless a fixed column has it (then `indicator_<name>`). */
function spreadColumns(fixed: Column[], names: string[]): Column[] {
  const taken = new Set(fixed.map((c) => c.name));
  return names.map((n) => col(taken.has(n) ? `indicator_${n}` : n, 'real'));
}

export interface ExportOptions {
  /** End `out` when done (default true; false for stdout, which stays open). */
  end?: boolean;
  /** Rows per query, instead of the kind's own (tests use a small one to cross many pages). */
  pageSize?: number;
}

/**
 * Stream one kind of the journal's rows in range to `out` in `format`. Resolves when the last byte
 * is handed to `out` (ended unless `end` is false, as for stdout). Rejects with the stream's error,
 * e.g. EPIPE when the reader of a pipe went away.
 */
export async function exportJournal(
  db: Kysely<Database>,
  q: ExportQuery,
  format: ExportFormat,
  out: Writable,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const spec = KINDS[q.kind];
  const names = spec.spread ? await spreadNames(db, q, options.pageSize) : [];
  const columns = [...spec.columns, ...spreadColumns(spec.columns, names)];
  const result: ExportResult = { rows: 0, columns: columns.map((c) => c.name) };
  async function* rows(): AsyncGenerator<unknown[][]> {
    for await (const page of pages(db, q, spec.select, options.pageSize)) {
      const values = page.map((r) => {
        const v = spec.values(r);
        if (spec.spread) {
          const ind = spec.spread.of(r[spec.spread.column] as string) ?? {};
          for (const n of names) v.push(ind[n]);
        }
        return v;
      });
      result.rows += values.length;
      yield values;
    }
  }
  const chunks = WRITERS[format](columns, rows());
  await pipeline(Readable.from(chunks, { objectMode: true, highWaterMark: 1 }), out, {
    end: options.end ?? true,
  });
  return result;
}

// --- the formats ---

type Chunks = AsyncGenerator<string | Uint8Array>;

const WRITERS: Record<ExportFormat, (columns: Column[], rows: AsyncIterable<unknown[][]>) => Chunks> = {
  csv: csvChunks,
  jsonl: jsonlChunks,
  parquet: parquetChunks,
};

const isNone = (v: unknown): v is null | undefined => v === null || v === undefined;
const iso = (ms: unknown) => new Date(ms as number).toISOString();
/** A finite number, or nothing (JSON and CSV have no NaN; a non-number is not an indicator value). */
const finite = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

async function* csvChunks(columns: Column[], rows: AsyncIterable<unknown[][]>): Chunks {
  yield stringify([columns.map((c) => c.name)]);
  const cell = columns.map((c): ((v: unknown) => unknown) => {
    if (c.type === 'iso') return (v) => (isNone(v) ? null : iso(v));
    if (c.type === 'real' || c.type === 'int' || c.type === 'ms') return finite;
    return (v) => v;
  });
  for await (const page of rows) yield stringify(page.map((r) => r.map((v, i) => cell[i]!(v))));
}

async function* jsonlChunks(columns: Column[], rows: AsyncIterable<unknown[][]>): Chunks {
  const keys = columns.map((c) => `${JSON.stringify(c.name)}:`);
  const value = columns.map((c): ((v: unknown) => string) => {
    if (c.type === 'iso') return (v) => (isNone(v) ? 'null' : `"${iso(v)}"`);
    if (c.type === 'real' || c.type === 'int' || c.type === 'ms') return (v) => String(finite(v));
    // JSON text from the journal goes out as it is: a value, not a string holding one.
    if (c.type === 'json') return (v) => (isNone(v) ? 'null' : (v as string));
    return (v) => (isNone(v) ? 'null' : JSON.stringify(v));
  });
  for await (const page of rows) {
    let text = '';
    for (const r of page) {
      let line = '{';
      for (let i = 0; i < keys.length; i++) line += `${i > 0 ? ',' : ''}${keys[i]}${value[i]!(r[i])}`;
      text += `${line}}\n`;
    }
    yield text;
  }
}

/** The Parquet schema of the columns: all optional (a missing value is null). */
function parquetSchema(columns: Column[]) {
  const element = (c: Column) => {
    const base = { name: c.name, repetition_type: 'OPTIONAL' as const };
    switch (c.type) {
      case 'text':
        return { ...base, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const };
      case 'json':
        return { ...base, type: 'BYTE_ARRAY' as const, converted_type: 'JSON' as const };
      case 'real':
        return { ...base, type: 'DOUBLE' as const };
      case 'int':
      case 'ms':
        return { ...base, type: 'INT64' as const };
      case 'iso':
        return {
          ...base,
          type: 'INT64' as const,
          converted_type: 'TIMESTAMP_MILLIS' as const,
          logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MILLIS' as const },
        };
    }
  };
  return [{ name: 'root', num_children: columns.length }, ...columns.map(element)];
}

/** A row group's values of one column, as hyparquet-writer takes them for its type. */
function parquetValues(c: Column, rows: unknown[][], i: number): unknown[] {
  const out = new Array<unknown>(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const v = rows[r]![i];
    if (isNone(v)) out[r] = null;
    else if (c.type === 'int' || c.type === 'ms')
      out[r] = Number.isSafeInteger(v) ? BigInt(v as number) : null;
    else if (c.type === 'real') out[r] = finite(v);
    else if (c.type === 'json') out[r] = JSON.parse(v as string);
    else out[r] = v;
  }
  return out;
}

async function* parquetChunks(columns: Column[], rows: AsyncIterable<unknown[][]>): Chunks {
  const writer = new ByteWriter();
  const pq = new ParquetWriter({ writer, schema: parquetSchema(columns), createdBy: 'bosun export' });
  /** The bytes written since the last take, copied out; the writer's buffer is then reused. */
  const take = () => {
    const bytes = writer.getBytes().slice();
    writer.index = 0;
    return bytes;
  };
  const write = (group: unknown[][]) =>
    pq.write({
      columnData: columns.map((c, i) => ({ name: c.name, data: parquetValues(c, group, i) })),
      rowGroupSize: group.length,
    }) as void;
  let group: unknown[][] = [];
  for await (const page of rows) {
    for (const r of page) group.push(r);
    while (group.length >= ROW_GROUP) {
      write(group.splice(0, ROW_GROUP));
      yield take();
    }
  }
  if (group.length > 0) write(group);
  group = [];
  pq.finish();
  yield take();
}
