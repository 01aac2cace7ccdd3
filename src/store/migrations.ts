/**
 * Schema migrations: forward only, one transaction each, run at start by {@link migrate}. They are
 * Kysely schema-builder code, so one list serves SQLite and PostgreSQL; {@link migrate} runs them
 * itself, each step in one transaction with its row in `bosun_migrations` (Kysely 0.28's Migrator
 * cannot run inside a transaction it was given, and on SQLite it runs DDL outside one). A journal
 * that has a migration this version does not know was written by a newer bosun and is refused with
 * one line.
 *
 * Adding a migration: add it to {@link migrations} with the next number; never edit or remove one
 * that has shipped (journals out there have run it).
 */
import { type Kysely, type Migration, sql, type Transaction } from 'kysely';
import { AppError } from '../errors.js';

export type Dialect = 'sqlite' | 'postgres';

/** The names of the migrations a journal has run, with when (the layout Kysely's Migrator uses). */
export const MIGRATION_TABLE = 'bosun_migrations';

// Kysely's schema builder is typed against an unknown schema here, as migrations must be.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/** Column types that differ between the two databases. */
function types(dialect: Dialect) {
  return {
    /** An auto-numbered primary key. */
    seq: dialect === 'postgres' ? ('bigserial' as const) : ('integer' as const),
    /** Epoch milliseconds and other whole numbers past 2^31. */
    big: 'bigint' as const,
    real: 'double precision' as const,
  };
}

function initial(dialect: Dialect): Migration {
  const t = types(dialect);
  return {
    async up(db: AnyDb) {
      const scoped = (name: string) =>
        db.schema
          .createTable(name)
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('book', 'text', (c) => c.notNull());
      const working = (name: string) =>
        scoped(name)
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('current', 'integer', (c) => c.notNull())
          .addColumn('updated_at', t.big, (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint(`${name}_pk`, ['instance', 'book', 'id']);
      const history = (name: string) =>
        db.schema
          .createTable(name)
          .addColumn('seq', t.seq, (c) => c.primaryKey())
          .addColumn('instance', 'text', (c) => c.notNull())
          .addColumn('book', 'text', (c) => c.notNull());

      await working('runs')
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('timeframe', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', t.big, (c) => c.notNull())
        .execute();
      await working('signals')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('bar_time', t.big, (c) => c.notNull())
        .addColumn('created_at', t.big, (c) => c.notNull())
        .execute();
      await working('positions')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('quote', 'text', (c) => c.notNull())
        .addColumn('side', 'integer', (c) => c.notNull())
        .addColumn('entry_time', t.big, (c) => c.notNull())
        .execute();
      await working('orders')
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('position_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', t.big, (c) => c.notNull())
        .execute();
      await working('buttons')
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('chat', 'text', (c) => c.notNull())
        .addColumn('created_at', t.big, (c) => c.notNull())
        .addColumn('expires_at', t.big, (c) => c.notNull())
        .execute();
      await working('subscriptions').execute();
      for (const name of ['runs', 'signals', 'positions', 'orders', 'buttons', 'subscriptions'])
        await db.schema
          .createIndex(`${name}_current`)
          .on(name)
          .columns(['instance', 'book', 'current'])
          .execute();
      await db.schema
        .createIndex('signals_run')
        .on('signals')
        .columns(['instance', 'book', 'run_id'])
        .execute();
      await db.schema
        .createIndex('signals_time')
        .on('signals')
        .columns(['instance', 'book', 'bar_time'])
        .execute();
      await db.schema
        .createIndex('orders_position')
        .on('orders')
        .columns(['instance', 'book', 'position_id'])
        .execute();

      await scoped('documents')
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.big, (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('documents_pk', ['instance', 'book', 'key'])
        .execute();

      await history('decisions')
        .addColumn('time', t.big, (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('signal_id', 'text')
        .addColumn('indicators', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('decisions_time')
        .on('decisions')
        .columns(['instance', 'book', 'time'])
        .execute();
      await db.schema
        .createIndex('decisions_run')
        .on('decisions')
        .columns(['instance', 'book', 'run_id', 'time'])
        .execute();

      await scoped('trades')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('quote', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull())
        .addColumn('entry_time', t.big, (c) => c.notNull())
        .addColumn('entry_price', t.real, (c) => c.notNull())
        .addColumn('exit_time', t.big, (c) => c.notNull())
        .addColumn('exit_price', t.real, (c) => c.notNull())
        .addColumn('quantity', t.real, (c) => c.notNull())
        .addColumn('pnl', t.real, (c) => c.notNull())
        .addColumn('return_pct', t.real, (c) => c.notNull())
        .addColumn('fees', t.real, (c) => c.notNull())
        .addColumn('exit_reason', 'text', (c) => c.notNull())
        .addColumn('bars', 'integer', (c) => c.notNull())
        .addColumn('exits', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('trades_pk', ['instance', 'book', 'id'])
        .execute();
      await db.schema
        .createIndex('trades_exit')
        .on('trades')
        // pnl too: the reports' counts and sums read the index alone, however many trades there are.
        .columns(['instance', 'book', 'quote', 'exit_time', 'pnl'])
        .execute();
      await db.schema
        .createIndex('trades_run')
        .on('trades')
        .columns(['instance', 'book', 'run_id', 'exit_time'])
        .execute();

      await history('fills')
        .addColumn('position_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('quote', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('side', 'integer', (c) => c.notNull())
        .addColumn('time', t.big, (c) => c.notNull())
        .addColumn('price', t.real, (c) => c.notNull())
        .addColumn('quantity', t.real, (c) => c.notNull())
        .addColumn('fee', t.real, (c) => c.notNull())
        .addColumn('pnl', t.real, (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('fills_time')
        .on('fills')
        .columns(['instance', 'book', 'quote', 'time', 'kind', 'pnl'])
        .execute();

      await scoped('equity')
        .addColumn('quote', 'text', (c) => c.notNull())
        .addColumn('time', t.big, (c) => c.notNull())
        .addColumn('equity', t.real, (c) => c.notNull())
        .addPrimaryKeyConstraint('equity_pk', ['instance', 'book', 'quote', 'time'])
        .execute();
      // Across quotes by time: retention's oldest-first look.
      await db.schema.createIndex('equity_time').on('equity').columns(['instance', 'book', 'time']).execute();

      await history('notifications')
        .addColumn('time', t.big, (c) => c.notNull())
        .addColumn('chat', 'text', (c) => c.notNull())
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('notifications_time')
        .on('notifications')
        .columns(['instance', 'book', 'time'])
        .execute();

      await history('settings_changes')
        .addColumn('at', t.big, (c) => c.notNull())
        .addColumn('who', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('old_value', 'text')
        .addColumn('new_value', 'text')
        .execute();
      await db.schema
        .createIndex('settings_changes_at')
        .on('settings_changes')
        .columns(['instance', 'book', 'at'])
        .execute();

      await history('regime_changes')
        .addColumn('at', t.big, (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('confidence', t.real, (c) => c.notNull())
        .addColumn('why', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('regime_changes_at')
        .on('regime_changes')
        .columns(['instance', 'book', 'at'])
        .execute();

      await history('snapshots')
        .addColumn('at', t.big, (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('timeframe', 'text', (c) => c.notNull())
        .addColumn('bid', t.real)
        .addColumn('bid_size', t.real)
        .addColumn('ask', t.real)
        .addColumn('ask_size', t.real)
        .addColumn('correlation_btc', t.real)
        .addColumn('indicators', 'text', (c) => c.notNull())
        .addColumn('candles', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('snapshots_at')
        .on('snapshots')
        .columns(['instance', 'book', 'at'])
        .execute();

      await db.schema
        .createTable('candles')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('timeframe', 'text', (c) => c.notNull())
        .addColumn('time', t.big, (c) => c.notNull())
        .addColumn('open', t.real, (c) => c.notNull())
        .addColumn('high', t.real, (c) => c.notNull())
        .addColumn('low', t.real, (c) => c.notNull())
        .addColumn('close', t.real, (c) => c.notNull())
        .addColumn('volume', t.real, (c) => c.notNull())
        .addPrimaryKeyConstraint('candles_pk', ['source', 'symbol', 'timeframe', 'time'])
        .execute();
      await db.schema.createIndex('candles_time').on('candles').column('time').execute();

      await history('prunes')
        .addColumn('at', t.big, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('rows', t.big, (c) => c.notNull())
        .addColumn('before', t.big, (c) => c.notNull())
        .execute();

      await scoped('imports')
        .addColumn('file', 'text', (c) => c.notNull())
        .addColumn('at', t.big, (c) => c.notNull())
        .addColumn('backup', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('imports_pk', ['instance', 'book', 'file'])
        .execute();
    },
  };
}

/** Kept backtests (issue 21): one row each, with its chart. */
function backtests(dialect: Dialect): Migration {
  const t = types(dialect);
  return {
    async up(db: AnyDb) {
      await db.schema
        .createTable('backtests')
        .addColumn('instance', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('created_at', t.big, (c) => c.notNull())
        .addColumn('by', 'text', (c) => c.notNull())
        .addColumn('strategy', 'text', (c) => c.notNull())
        .addColumn('symbol', 'text', (c) => c.notNull())
        .addColumn('timeframe', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('start_time', t.big, (c) => c.notNull())
        .addColumn('end_time', t.big, (c) => c.notNull())
        .addColumn('total_return', t.real, (c) => c.notNull())
        .addColumn('trades', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('chart', dialect === 'postgres' ? 'bytea' : 'blob')
        .addPrimaryKeyConstraint('backtests_pk', ['instance', 'id'])
        .execute();
      await db.schema
        .createIndex('backtests_created')
        .on('backtests')
        .columns(['instance', 'created_at'])
        .execute();
    },
  };
}

/** A trade's entry fills when adds (an entry ladder, DCA) filled (issue 24): JSON, null otherwise. */
function tradeEntries(): Migration {
  return {
    async up(db: AnyDb) {
      await db.schema.alterTable('trades').addColumn('entries', 'text').execute();
    },
  };
}

/** Every migration, by name; names sort in the order they run. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_journal': initial(dialect),
    '0002_backtests': backtests(dialect),
    '0003_trade_entries': tradeEntries(),
  };
}

/**
 * Bring the journal's schema up to this version's, one migration per transaction. Refuses (STORAGE)
 * a journal that has run a migration this version does not know. Returns the names it ran.
 * `explain` turns a database error into the words of the one line (what happened, what to do).
 */
export async function migrate(
  db: AnyDb,
  dialect: Dialect,
  where: string,
  explain: (err: unknown) => string = firstLine,
): Promise<string[]> {
  const known = migrations(dialect);
  refuseNewer(await executedMigrations(db), dialect, where, 'upgrade bosun');
  const done: string[] = [];
  for (;;) {
    let step: string | undefined;
    try {
      // The migrator is given our transaction, so the step and its row in bosun_migrations commit
      // together or not at all, and a failure is reported as itself (see inTransaction).
      step = await inTransaction(db, async (trx) => {
        // Instances starting together on a new PostgreSQL database take turns.
        if (dialect === 'postgres')
          await sql`select pg_advisory_xact_lock(hashtext(${MIGRATION_TABLE}))`.execute(trx);
        await trx.schema
          .createTable(MIGRATION_TABLE)
          .ifNotExists()
          .addColumn('name', 'varchar(255)', (c) => c.primaryKey())
          .addColumn('timestamp', 'varchar(255)', (c) => c.notNull())
          .execute();
        const done = new Set(await executedMigrations(trx));
        const next = Object.keys(known)
          .sort()
          .find((name) => !done.has(name));
        if (next === undefined) return undefined;
        // The step and its row commit together or not at all (Kysely's schema builder does the step).
        await known[next]!.up(trx);
        await trx
          .insertInto(MIGRATION_TABLE as never)
          .values({ name: next, timestamp: new Date().toISOString() } as never)
          .execute();
        return next;
      });
    } catch (error) {
      throw new AppError(
        'STORAGE',
        `the journal at ${where} could not be brought up to date (${explain(error)}); nothing was changed by the failed step`,
        { cause: error },
      );
    }
    if (step === undefined) return done;
    done.push(step);
  }
}

const firstLine = (err: unknown) => ((err as Error).message ?? String(err)).split('\n')[0]!;

/**
 * Run `work` in one transaction and commit it. Unlike Kysely's `transaction().execute()`, the error
 * thrown is the one that failed the transaction: SQLite rolls a transaction back by itself on some
 * errors (a full disk), and the ROLLBACK sent after them then fails with "no transaction is active",
 * which Kysely would throw instead, hiding the reason.
 */
export async function inTransaction<D, T>(
  db: Kysely<D>,
  work: (trx: Transaction<D>) => Promise<T>,
): Promise<T> {
  const trx = await db.startTransaction().execute();
  try {
    const result = await work(trx);
    await trx.commit().execute();
    return result;
  } catch (err) {
    await trx
      .rollback()
      .execute()
      .catch(() => undefined);
    throw err;
  }
}

/**
 * Refuse (one STORAGE line) a journal that ran a migration this version does not know: a newer
 * bosun wrote it. `upgrade` says what to do, e.g. "upgrade bosun".
 */
export function refuseNewer(ran: readonly string[], dialect: Dialect, where: string, upgrade: string): void {
  const known = Object.keys(migrations(dialect));
  const newer = ran.filter((name) => !known.includes(name));
  if (newer.length > 0)
    throw new AppError(
      'STORAGE',
      `the journal at ${where} was written by a newer bosun (it has schema ${newer.at(-1)}; this version knows up to ${known.at(-1)}); ${upgrade}, or point ${dialect === 'postgres' ? 'DATABASE_URL' : 'DATA_DIR'} at another journal`,
    );
}

/** Names of the migrations this journal has run (none for a new one). */
export async function executedMigrations(db: AnyDb | Transaction<unknown>): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === MIGRATION_TABLE)) return [];
  const rows = await sql<{
    name: string;
  }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}
