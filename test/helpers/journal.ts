/**
 * Reading a SQLite journal as it is on disk, the way a restart (or an analyst) would: a separate
 * read-only connection to `DATA_DIR/bosun.db`, nothing shared with the store under test.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { OrderRecord, TradeRecord } from '../../src/store/state.js';

function withDb<T>(dir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(dir, 'bosun.db'), { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** Rows of a table for one book (all columns), in insertion order. */
export function journalRows(dir: string, table: string, book = 'paper'): Array<Record<string, unknown>> {
  return withDb(dir, (db) =>
    db.prepare(`select * from ${table} where book = ? order by rowid`).all(book),
  ) as Array<Record<string, unknown>>;
}

/** A working record (a run, order, position...) as last committed, current or not. */
export function journalRecord<T>(dir: string, table: string, id: string, book = 'paper'): T | undefined {
  const row = withDb(dir, (db) =>
    db.prepare(`select data from ${table} where book = ? and id = ?`).get(book, id),
  ) as { data: string } | undefined;
  return row ? (JSON.parse(row.data) as T) : undefined;
}

export const journalOrder = (dir: string, id: string, book = 'live') =>
  journalRecord<OrderRecord>(dir, 'orders', id, book);

/** Closed trades as committed, oldest first. */
export function journalTrades(dir: string, book = 'paper'): TradeRecord[] {
  return journalRows(dir, 'trades', book)
    .sort((a, b) => Number(a.exit_time) - Number(b.exit_time))
    .map((r) => ({
      id: String(r.id),
      runId: String(r.run_id),
      symbol: String(r.symbol),
      quote: String(r.quote),
      side: r.side as TradeRecord['side'],
      entryTime: Number(r.entry_time),
      entryPrice: Number(r.entry_price),
      exitTime: Number(r.exit_time),
      exitPrice: Number(r.exit_price),
      quantity: Number(r.quantity),
      pnl: Number(r.pnl),
      returnPct: Number(r.return_pct),
      fees: Number(r.fees),
      exitReason: String(r.exit_reason),
      bars: Number(r.bars),
      exits: JSON.parse(String(r.exits)) as TradeRecord['exits'],
    }));
}

/** A book's document (`engine`, `balances`, ...) as last committed. */
export function journalDocument<T>(dir: string, key: string, book = 'paper'): T | undefined {
  const row = withDb(dir, (db) =>
    db.prepare('select data from documents where book = ? and key = ?').get(book, key),
  ) as { data: string } | undefined;
  return row ? (JSON.parse(row.data) as T) : undefined;
}

/** The working records of a table that are current, by id. */
export function journalCurrent<T>(dir: string, table: string, book = 'paper'): Record<string, T> {
  const out: Record<string, T> = {};
  for (const r of journalRows(dir, table, book))
    if (Number(r.current) === 1) out[String(r.id)] = JSON.parse(String(r.data)) as T;
  return out;
}

/** SQLite's own check of the file: `ok` when every page and index is whole. */
export function journalIntegrity(dir: string): string {
  return withDb(dir, (db) =>
    (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
      .map((r) => r.integrity_check)
      .join('; '),
  );
}
