/**
 * One bosun per data directory: `DATA_DIR/bosun.lock` holds the pid of the process that runs on it.
 * A second `npm start` on the same directory would trade the same runs twice into one journal; it
 * is refused with one line instead. A lock left by a process that died (kill -9, a power cut) is
 * taken over; one of this very process (a container whose pid 1 restarted) counts as ours.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { processExists, storageError } from './atomic.js';

export const LOCK_FILE = 'bosun.lock';

/** Take the data directory's lock; returns its release. Throws STORAGE when another bosun holds it. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2)
        throw storageError(err, path, { elsewhere: 'set DATA_DIR to a writable directory' });
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // Removed meanwhile: try again.
      }
      if (holder === process.pid) break;
      if (processExists(holder))
        throw new AppError(
          'STORAGE',
          `another bosun (pid ${holder}) is running on ${dataDir}; stop it first, or give this one its own DATA_DIR (if no bosun runs there, delete ${path})`,
        );
      try {
        unlinkSync(path); // its process is gone
      } catch {
        // Someone else took it over first: the next attempt sees theirs.
      }
    }
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
}
