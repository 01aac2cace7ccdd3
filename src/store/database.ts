/**
 * Opening the journal's database: SQLite in `DATA_DIR/bosun.db` by default (better-sqlite3, WAL,
 * every commit flushed to disk), or PostgreSQL when `DATABASE_URL` names one (node-postgres pool).
 * Both are driven through one Kysely instance, so the rest of the store never asks which it has.
 *
 * Failures become one STORAGE line that names the place (a database URL with its password masked)
 * and what to do.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type CompiledQuery, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type pg from 'pg';
import type { default as PgDefault } from 'pg';
import { AppError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { storageError } from './atomic.js';
import { type Dialect, inTransaction, migrate } from './migrations.js';
import { SqliteWriter } from './sqlite-writer.js';
import type { Database } from './schema.js';

export { inTransaction } from './migrations.js';

export const SQLITE_FILE = 'bosun.db';

export interface JournalDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where the journal is, safe to show: a file path, or the URL without its password. */
  where: string;
  /** Migrations this open ran (a new journal runs them all). */
  migrated: string[];
  /**
   * Run compiled statements in one transaction, committed (to disk) when this resolves; each
   * statement's changed-row count. On SQLite a writer thread does it, so the disk's wait never
   * blocks the event loop; reads go through `db`.
   */
  write(queries: readonly CompiledQuery[]): Promise<number[]>;
  close(): Promise<void>;
}

/** Run compiled statements through Kysely in one transaction (PostgreSQL's write). */
async function writeThrough(db: Kysely<Database>, queries: readonly CompiledQuery[]): Promise<number[]> {
  if (queries.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const changes: number[] = [];
    for (const q of queries) {
      const r = await trx.executeQuery(q);
      changes.push(Number(r.numAffectedRows ?? 0));
    }
    return changes;
  });
}

export interface OpenOptions {
  dataDir: string;
  /** `postgres://...`: the journal lives there instead of in DATA_DIR. */
  url?: string | undefined;
  /**
   * The lock a process holds while it writes as this instance and book (PostgreSQL): a second
   * process under the same name is refused instead of interleaving its writes.
   */
  lockName?: string;
}

export async function openDatabase(o: OpenOptions): Promise<JournalDatabase> {
  return o.url ? openPostgres(o.url, o.lockName) : openSqlite(join(o.dataDir, SQLITE_FILE));
}

/**
 * Journals open in this process, by file: the paper and live stores share one connection, so their
 * transactions queue on Kysely's connection lock. Two connections would wait for each other's file
 * lock inside SQLite, which blocks the one thread both run on until the busy timeout fails them.
 */
const openSqliteFiles = new Map<string, { conn: Promise<JournalDatabase>; users: number }>();

async function openSqlite(path: string): Promise<JournalDatabase> {
  const key = resolve(path);
  let shared = openSqliteFiles.get(key);
  const first = shared === undefined;
  if (!shared) {
    shared = { conn: connectSqlite(path), users: 0 };
    openSqliteFiles.set(key, shared);
  }
  const entry = shared;
  entry.users++;
  let conn: JournalDatabase;
  try {
    conn = await entry.conn;
  } catch (err) {
    if (--entry.users === 0 && openSqliteFiles.get(key) === entry) openSqliteFiles.delete(key);
    throw err;
  }
  let closed = false;
  return {
    ...conn,
    migrated: first ? conn.migrated : [],
    async close() {
      if (closed) return;
      closed = true;
      if (--entry.users > 0) return;
      openSqliteFiles.delete(key);
      await conn.close();
    },
  };
}

async function connectSqlite(path: string): Promise<JournalDatabase> {
  let raw: BetterSqlite3.Database | undefined;
  try {
    raw = new BetterSqlite3(path, { timeout: 5_000 });
    raw.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before update() resolves, so nothing announced can be lost.
    raw.pragma('synchronous = FULL');
  } catch (err) {
    raw?.close();
    throw whyNotOpened(path) ?? sqliteError(err, path, 'open');
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  const migrated = await migrate(db, 'sqlite', path, sqliteReason).catch(async (err) => {
    await db.destroy();
    throw err instanceof AppError ? err : sqliteError(err, path, 'prepare');
  });
  let writer: SqliteWriter;
  try {
    writer = await SqliteWriter.start(path);
  } catch (err) {
    await db.destroy();
    throw sqliteError(err, path, 'open');
  }
  return {
    db,
    dialect: 'sqlite',
    where: path,
    migrated,
    write: (queries) => writer.write(queries),
    async close() {
      await writer.close();
      await db.destroy();
    },
  };
}

/**
 * Why SQLite could not open `path`, when its own words ("unable to open database file") do not say:
 * a directory in the way, or a directory that cannot be written (a read-only file system, access).
 */
function whyNotOpened(path: string): AppError | undefined {
  const options = { elsewhere: 'set DATA_DIR to a writable directory' };
  try {
    if (statSync(path).isDirectory())
      return storageError({ code: 'EISDIR' }, path, options, 'open the journal');
  } catch {
    // Not there yet: SQLite makes it.
  }
  try {
    accessSync(dirname(path), constants.W_OK);
    return undefined;
  } catch (err) {
    return storageError(err, path, options, 'open the journal');
  }
}

async function openPostgres(url: string, lockName?: string): Promise<JournalDatabase> {
  const where = redactUrl(url);
  // Loaded only here: a bosun on SQLite does not pay for the PostgreSQL driver at start.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: 10_000,
    // A server that stops answering fails the change (undone, one line) instead of holding it.
    statement_timeout: 30_000,
    query_timeout: 35_000,
    types: pgNumbers(pg),
  });
  // An idle client's error (the server restarted) must not crash the process; the next query fails
  // with its own clear line instead.
  pool.on('error', () => undefined);
  let lock: pg.PoolClient | undefined;
  try {
    lock = await pool.connect();
    if (lockName) {
      const held = await lock.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtext($1)) as ok', [
        lockName,
      ]);
      if (!held.rows[0]?.ok)
        throw new AppError(
          'STORAGE',
          `another bosun is already writing to ${where} as ${lockLabel(lockName)}; give this one its own name with INSTANCE, or stop the other`,
        );
    }
  } catch (err) {
    lock?.release();
    await pool.end().catch(() => undefined);
    throw err instanceof AppError ? err : postgresError(err, where);
  }
  // The lock lives as long as its session: if the server drops it (a restart), another bosun may
  // take the name, so this one stops writing rather than interleave with it.
  let lockLost = false;
  lock.on('error', () => {
    lockLost = true;
  });
  lock.on('end', () => {
    lockLost = true;
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    // Unlocked here, not by the session's end: the server may see the disconnect after a next
    // open (a restart, a switch of mode) already asked for the lock, and refuse it.
    if (lockName)
      await lock.query('select pg_advisory_unlock(hashtext($1))', [lockName]).catch(() => undefined);
    lock.release();
    await db.destroy();
  };
  const migrated = await migrate(db, 'postgres', where, postgresReason).catch(async (err) => {
    await close().catch(() => undefined);
    throw err instanceof AppError ? err : postgresError(err, where);
  });
  const write = (queries: readonly CompiledQuery[]) =>
    lockLost && lockName && !closed
      ? Promise.reject(
          new AppError(
            'STORAGE',
            `lost the connection that holds ${lockLabel(lockName)} on ${where} (the server restarted?); nothing more is written: restart bosun`,
          ),
        )
      : writeThrough(db, queries);
  return { db, dialect: 'postgres', where, migrated, write, close };
}

/** `bosun:main:paper` as a person reads it: instance "main" (paper book). */
function lockLabel(lockName: string): string {
  const [, instance, book] = lockName.split(':');
  return instance && book ? `instance "${instance}" (${book} book)` : `"${lockName}"`;
}

/** bigint columns (epoch ms, seq) read as numbers: well inside a double's exact range. */
export function pgNumbers(pg: typeof PgDefault) {
  return {
    getTypeParser: (oid: number, format?: string) =>
      oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text'),
  };
}

/** One line for an SQLite failure: what, where, and what to do. */
export function sqliteError(err: unknown, path: string, doing: string): AppError {
  if (err instanceof AppError) return err;
  return new AppError('STORAGE', `cannot ${doing} the journal ${path}: ${sqliteReason(err)}`, { cause: err });
}

/** What an SQLite error means for the person running bosun, and what to do. */
function sqliteReason(err: unknown): string {
  const code = String((err as { code?: string }).code ?? '');
  const message = (err as Error).message?.split('\n')[0] ?? String(err);
  const why: Record<string, string> = {
    SQLITE_FULL: 'the disk is full; free some space on it',
    SQLITE_READONLY: `the file or its directory is read-only; give bosun's user write access, or set DATA_DIR to a writable directory`,
    SQLITE_CANTOPEN: `it cannot be opened (${message}); check that DATA_DIR exists and bosun's user can write it`,
    SQLITE_NOTADB:
      'it is not an SQLite database; move it away (bosun makes a new one) or restore it from a backup',
    SQLITE_CORRUPT: 'it is damaged; restore it from a backup, or move it away to start afresh',
    SQLITE_BUSY: 'another process holds it locked; stop the other bosun using this DATA_DIR',
  };
  const base = Object.keys(why).find((k) => code === k || code.startsWith(`${k}_`));
  return base ? why[base]! : message;
}

/** One line for a PostgreSQL failure; the URL's password never appears. */
export function postgresError(err: unknown, where: string): AppError {
  if (err instanceof AppError) return err;
  return new AppError('STORAGE', `cannot use the journal at ${where}: ${postgresReason(err)}`, {
    cause: err,
  });
}

/** What a PostgreSQL (or network) error means for the person running bosun, and what to do. */
function postgresReason(err: unknown): string {
  const code = String((err as { code?: string }).code ?? '');
  const message = ((err as Error).message ?? String(err)).split('\n')[0]!;
  const why: Record<string, string> = {
    ECONNREFUSED: 'nothing answers there; start the server, or check the host and port in DATABASE_URL',
    ENOTFOUND: 'the host name is unknown; check DATABASE_URL',
    ETIMEDOUT: 'the server did not answer in time; check the network and DATABASE_URL',
    '28P01': 'the password was refused; check the user and password in DATABASE_URL',
    '28000': "the server refused this user; check DATABASE_URL and the server's pg_hba.conf",
    '3D000': 'that database does not exist; create it (createdb) or name another in DATABASE_URL',
    '53100': "the server's disk is full; free some space on it",
    '25006': 'the server is read-only (a standby?); point DATABASE_URL at the primary',
  };
  return why[code] ?? message;
}
