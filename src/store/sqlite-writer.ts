/**
 * Writing to the SQLite journal from a worker thread (see sqlite-writer-worker.ts): `write()` sends
 * a transaction's compiled statements and resolves once they are committed to disk, so the caller
 * announces only what is saved, and the event loop goes on meanwhile. Transactions run one at a
 * time, in the order they were sent. A failed one rejects with SQLite's own error (its `code`
 * kept), and nothing of it was written.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompiledQuery } from 'kysely';
import { PACKAGE_ROOT } from '../paths.js';
import type { WriterReply, WriterRequest } from './sqlite-writer-worker.js';

/** The compiled worker: beside this file when running from dist/, else dist's (tests run sources). */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'sqlite-writer-worker.js');
  return join(PACKAGE_ROOT, 'dist', 'src', 'store', 'sqlite-writer-worker.js');
}

export class SqliteWriter {
  private readonly worker: Worker;
  private next = 1;
  private readonly waiting = new Map<
    number,
    { resolve(changes: number[]): void; reject(err: Error): void }
  >();
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;
  private exited = false;

  private constructor(path: string, busyTimeoutMs: number) {
    this.worker = new Worker(workerFile(), { workerData: { path, busyTimeoutMs } });
    this.worker.on('message', (msg: WriterReply | 'closed' | 'ready') => {
      if (msg === 'closed' || msg === 'ready') return;
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.changes);
      else
        w.reject(Object.assign(new Error(msg.error.message), msg.error.code ? { code: msg.error.code } : {}));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      this.exited = true;
      if (!this.closing) this.fail(new Error(`the journal's writer thread stopped (exit code ${code})`));
    });
  }

  /** Start the writer thread on `path` (the file exists and is migrated). */
  static async start(path: string, busyTimeoutMs = 5_000): Promise<SqliteWriter> {
    const w = new SqliteWriter(path, busyTimeoutMs);
    // Its connection is open before the store may write (an error opening rejects here).
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown) => {
        if (m !== 'ready') return;
        w.worker.off('message', onMessage);
        resolve();
      };
      w.worker.on('message', onMessage);
      w.worker.once('error', reject);
      w.worker.once('exit', (code) =>
        reject(new Error(`the journal's writer thread could not start (exit code ${code})`)),
      );
    });
    // An idle writer does not keep the process alive; one with work in hand does (see write()).
    w.worker.unref();
    return w;
  }

  /** Run `queries` in one transaction; resolves with each statement's changed-row count. */
  write(queries: readonly CompiledQuery[]): Promise<number[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closing) return Promise.reject(new Error('the journal is closed'));
    if (queries.length === 0) return Promise.resolve([]);
    const id = this.next++;
    const req: WriterRequest = {
      id,
      statements: queries.map((q) => ({ sql: q.sql, parameters: q.parameters })),
    };
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise<number[]>((resolve, reject) => {
      this.waiting.set(id, {
        resolve: (c) => {
          this.settled();
          resolve(c);
        },
        reject: (e) => {
          this.settled();
          reject(e);
        },
      });
      this.worker.postMessage(req);
    });
  }

  private settled(): void {
    if (this.waiting.size === 0) this.worker.unref();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  /** Wait for what was sent, then close the connection and stop the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // A thread already gone (it failed) has nothing to close.
      if (this.exited) return;
      this.worker.ref();
      const closed = new Promise<void>((resolve) => {
        this.worker.on('message', (m) => {
          if (m === 'closed') resolve();
        });
        this.worker.once('exit', () => resolve());
      });
      this.worker.postMessage('close');
      await closed;
      await this.worker.terminate();
    })();
    return this.closing;
  }
}
