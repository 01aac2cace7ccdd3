/**
 * The install's identity, kept by lowdb in `DATA_DIR/install.json`: a small document a person can
 * read (and back up) beside the journal. It names this install and holds the secret that signs chat
 * buttons, which never leaves this file. It is written once, when bosun first starts in a DATA_DIR
 * (taken from a v0.1 state file when one is there, so its buttons stay valid), atomically and
 * durably.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

export const INSTALL_FILE = 'install.json';

const Install = z.object({
  id: z.string().min(8),
  /** Signs chat buttons (HMAC). */
  secret: z.string().min(32),
  createdAt: z.number(),
});
export type Install = z.infer<typeof Install>;

/** A lowdb adapter that reads strictly (a damaged file stops start-up) and writes atomically. */
class InstallFile implements Adapter<Install> {
  constructor(private readonly path: string) {}

  async read(): Promise<Install | null> {
    if (!existsSync(this.path)) return null;
    const stop = (why: string) =>
      new AppError(
        'BAD_DATA',
        `${this.path} ${why}; bosun will not start on it: restore it from a backup, or move it away (chat buttons already sent stop working)`,
      );
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      throw stop(`cannot be read as JSON (${(err as Error).message})`);
    }
    const parsed = Install.safeParse(value);
    if (!parsed.success) throw stop(`is not a bosun install file (${parsed.error.issues[0]!.message})`);
    return parsed.data;
  }

  async write(data: Install): Promise<void> {
    // Readable by bosun's user only: it holds the secret that signs chat buttons.
    writeFileAtomic(this.path, `${JSON.stringify(data, null, 2)}\n`, {
      elsewhere: 'set DATA_DIR to a writable directory',
      mode: 0o600,
    });
  }
}

/** This install's identity: read from `dataDir`, or made (from `inherit` when given) and written. */
export async function loadInstall(dataDir: string, now: number, inherit?: Install): Promise<Install> {
  const db = new Low<Install>(new InstallFile(join(dataDir, INSTALL_FILE)), freshInstall(now));
  const found = existsSync(join(dataDir, INSTALL_FILE));
  await db.read();
  if (!found) {
    if (inherit) db.data = { ...inherit };
    await db.write();
  }
  return db.data;
}

function freshInstall(now: number): Install {
  return {
    id: randomBytes(6).toString('hex'),
    secret: randomBytes(32).toString('base64url'),
    createdAt: now,
  };
}
