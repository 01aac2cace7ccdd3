/**
 * Durable, atomic file writes: the content goes to a temporary file in the same directory, is
 * flushed to disk (fsync), and is renamed over the target; then the directory is flushed so the
 * rename itself survives a power cut. Readers see the old file or the new one, never a mix.
 *
 * Temporary files are named `<file>.<pid>.<time>.tmp`. A write that fails (a full disk, a read-only
 * file system, a directory in the way) removes its own and throws one STORAGE line that names the
 * path and what to do; one cut short by a kill is removed later, by {@link removeStaleTemps}, which
 * runs on the first write into each directory (and when the state store opens).
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { AppError } from '../errors.js';

/** `<file>.<pid>.<time in base 36>.tmp`: the names {@link writeFileAtomic} writes to. */
const TEMP_NAME = /^.+\.(\d+)\.([0-9a-z]+)\.tmp$/;

/** When this process started (epoch ms): a temp file of our pid made before it is a dead namesake's. */
const STARTED_AT = Date.now() - Math.ceil(process.uptime() * 1000);

/** Directories whose stale temporary files this process has already removed. */
const swept = new Set<string>();

export interface WriteOptions {
  /** The other way out when the place cannot be written, e.g. "set DATA_DIR to a writable directory". */
  elsewhere?: string;
  /** File permissions (default 0o644). */
  mode?: number;
}

export function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: WriteOptions = {},
): void {
  const dir = dirname(path);
  if (!swept.has(dir)) {
    swept.add(dir);
    removeStaleTemps(dir);
  }
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  try {
    const fd = openSync(tmp, 'w', options.mode ?? 0o644);
    try {
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written, data.length - written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    // A partial or unrenamed temporary file is never left behind.
    try {
      unlinkSync(tmp);
    } catch {
      // It was never created.
    }
    throw storageError(err, path, options);
  }
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some file systems do not allow fsync on a directory; the rename is still atomic.
  }
}

/** Create a directory (and its parents) for files bosun writes; one STORAGE line if it cannot. */
export function ensureDir(dir: string, options: WriteOptions = {}): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw storageError(err, dir, options, 'create the directory');
  }
}

/**
 * Remove the temporary files {@link writeFileAtomic} left in `dir` when a process died mid-write:
 * those whose writer is gone (no process with that pid, or our own pid from before this process
 * started). A live writer's file, and anything not named like ours, is left alone. Returns the names
 * removed.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const madeAt = parseInt(m[2]!, 36);
    const stale = pid === process.pid ? madeAt < STARTED_AT : !processExists(pid);
    if (!stale) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** Whether a process with this pid exists (ours or another user's). */
export function processExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One line for a file-system failure: the path, what is wrong, and what to do about it. */
export function storageError(
  err: unknown,
  path: string,
  options: WriteOptions = {},
  doing = 'write',
): AppError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const dir = dirname(path);
  const orElse = options.elsewhere ? `, or ${options.elsewhere}` : '';
  const why: Record<string, string> = {
    EROFS: `the file system is read-only; mount ${dir} writable${orElse}`,
    EACCES: `permission denied; give bosun's user write access to ${dir}${orElse}`,
    EPERM: `permission denied; give bosun's user write access to ${dir}${orElse}`,
    ENOSPC: 'the disk is full; free some space on it',
    EDQUOT: 'the disk quota is used up; free some space or raise the quota',
    EISDIR: `a directory is in the way; move it away${orElse}`,
    ENOTDIR: `a part of the path is a file, not a directory; move it away${orElse}`,
    EEXIST: `a file is in the way; move it away${orElse}`,
    ENOENT: `a directory on the way does not exist; create it${orElse}`,
  };
  const message = (err as Error | undefined)?.message ?? String(err);
  const reason = (code && why[code]) ?? `${message.split('\n')[0]}${orElse ? `; check it${orElse}` : ''}`;
  return new AppError('STORAGE', `cannot ${doing} ${path}: ${reason}`, { cause: err });
}
