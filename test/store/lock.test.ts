/**
 * One bosun per data directory: a second `npm start` on the same DATA_DIR is refused with one line
 * (it would trade the same runs twice into one journal); a lock left by a dead process is taken over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../../src/store/lock.js';
import { MAIN, spawnNode } from '../helpers/process.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-lock-'));

describe('the data directory lock', () => {
  it('is refused while another live process holds it, taken over from a dead one, and released', async () => {
    const dir = tmp();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeFileSync(join(dir, LOCK_FILE), `${other.pid}\n`);
      expect(() => lockDataDir(dir)).toThrow(
        `another bosun (pid ${other.pid}) is running on ${dir}; stop it first, or give this one its own DATA_DIR`,
      );
    } finally {
      other.kill('SIGKILL');
    }
    // A pid no process has any more: its lock is stale.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
    const release = lockDataDir(dir);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('keeps a second bot off a DATA_DIR a running bot uses, with one line and exit code 1', async () => {
    const dir = tmp();
    const env = { DATA_DIR: dir, CHAT_CONSOLE: 'off', MARKET_DATA: 'samples', LOG_FORMAT: 'json' };
    const first = spawnNode([MAIN], { env });
    try {
      await first.waitFor(/bosun started/, 30_000);
      const second = spawnNode([MAIN], { env });
      const end = await second.exited;
      expect(end.code).toBe(1);
      expect(second.stderr()).toContain(
        `another bosun (pid ${first.child.pid}) is running on ${dir}; stop it first, or give this one its own DATA_DIR`,
      );
      // The first is untouched and stops cleanly, releasing the directory.
      first.child.kill('SIGTERM');
      expect((await first.exited).code).toBe(0);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    } finally {
      first.child.kill('SIGKILL');
    }
  });
});
