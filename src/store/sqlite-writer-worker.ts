/**
 * The SQLite journal's writer thread: it owns the connection that writes, so a commit's wait for the
 * disk (the WAL's fsync, tens of milliseconds on a busy disk) never holds up the event loop. Each
 * message is one transaction: every statement runs, then COMMIT, or nothing does (ROLLBACK), and the
 * reply says which. Statements are prepared once per SQL text.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

export interface WriterRequest {
  id: number;
  statements: Array<{ sql: string; parameters: readonly unknown[] }>;
}

export type WriterReply =
  | { id: number; ok: true; changes: number[] }
  | { id: number; ok: false; error: { message: string; code?: string } };

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
const db = new BetterSqlite3(path, { timeout: busyTimeoutMs });
db.pragma('journal_mode = WAL');
// FULL: the commit is on disk before the reply, so nothing announced after it can be lost.
db.pragma('synchronous = FULL');
// Open and set: the store may write now (an error opening ends the thread, and start() reports it).
parentPort!.postMessage('ready');

const statements = new Map<string, BetterSqlite3.Statement>();
function prepared(sql: string): BetterSqlite3.Statement {
  let s = statements.get(sql);
  if (!s) {
    s = db.prepare(sql);
    // Bounded: the store's statements are a few dozen shapes, multi-row inserts a few more.
    if (statements.size > 500) statements.clear();
    statements.set(sql, s);
  }
  return s;
}

/** better-sqlite3 binds booleans as nothing; SQLite keeps them as 0/1. */
const bindable = (v: unknown) => (typeof v === 'boolean' ? Number(v) : v);

function run(req: WriterRequest): WriterReply {
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const changes = req.statements.map((s) => prepared(s.sql).run(...s.parameters.map(bindable)).changes);
      db.exec('COMMIT');
      return { id: req.id, ok: true, changes };
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  } catch (err) {
    const e = err as { message?: string; code?: string };
    return {
      id: req.id,
      ok: false,
      error: { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) },
    };
  }
}

parentPort!.on('message', (msg: WriterRequest | 'close') => {
  if (msg === 'close') {
    db.close();
    parentPort!.postMessage('closed');
    return;
  }
  parentPort!.postMessage(run(msg));
});
