/**
 * The state file and every atomically written file beside it: temporary files left by writers that
 * died are removed (only ours, only of dead writers), a failed write leaves no temporary file and is
 * undone in memory, and a data directory that cannot be written is one line naming the path and what
 * to do, at start and at run time.
 *
 * A read-only file system and a full disk are made for real with a small tmpfs when the tests can
 * mount one (root in a container); elsewhere those two tests are skipped and the portable ones (a
 * directory in the way) still cover the same code.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRef } from '../../src/chat/command.js';
import { type Reply, renderMessages } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { AppError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/store/atomic.js';
import { StateStore } from '../../src/store/state.js';
import { startTestBot } from '../helpers/bot.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-store-'));
const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A pid no process has any more: a child that already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

/** A temporary file name as writeFileAtomic makes them, for `file`, by `pid`, at `time`. */
const tempOf = (file: string, pid: number, time = Date.now()) => `${file}.${pid}.${time.toString(36)}.tmp`;

/** A small tmpfs, or undefined where this process may not mount one. */
function smallDisk(kb: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = tmp();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  });
  return dir;
}
const readOnly = (dir: string) => execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' });
const canMount = (() => {
  if (process.getuid?.() !== 0) return false;
  const d = mkdtempSync(join(tmpdir(), 'bosun-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', d], { stdio: 'ignore' });
    execFileSync('umount', [d], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

async function storageLine(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('STORAGE');
  const message = (err as AppError).message;
  expect(message.split('\n')).toHaveLength(1);
  return message;
}

describe('temporary files of killed writers', () => {
  it('are removed when the state opens: ours, of writers that are gone; nothing else', async () => {
    const dir = tmp();
    await StateStore.open(dir);
    const dead = deadPid();
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    cleanups.push(() => void alive.kill());
    const before = Date.now() - Math.ceil(process.uptime() * 1000) - 60_000;
    const stale = [
      tempOf('bosun.json', dead),
      tempOf('bosun-live.json', dead),
      tempOf('snapshots.json', dead),
      // Our pid, from before this process started: a dead namesake (a container's pid 1 restarted).
      tempOf('bosun.json', process.pid, before),
    ];
    const kept = [tempOf('bosun.json', alive.pid!), 'notes.tmp', 'bosun.json.bak', 'bosun.json.x.tmp'];
    for (const name of [...stale, ...kept]) writeFileSync(join(dir, name), '{"version":1,"ins');
    const store = await StateStore.open(dir);
    expect(store.data.install.id).toBeTruthy();
    expect(readdirSync(dir).sort()).toEqual(['bosun.json', ...kept].sort());
  });

  it('are removed from any directory bosun writes into (caches, snapshots, images)', () => {
    const dir = tmp();
    const stale = tempOf('2023-03.csv', deadPid());
    writeFileSync(join(dir, stale), 'timestamp,open');
    writeFileAtomic(join(dir, 'coverage.json'), '{}');
    expect(readdirSync(dir)).toEqual(['coverage.json']);
  });
});

describe('a write that fails', () => {
  it('leaves no temporary file, says so in one line, and is undone in memory', async () => {
    const dir = tmp();
    const store = await StateStore.open(dir);
    const path = join(dir, 'bosun.json');
    // A directory appears where the state file was.
    rmSync(path);
    mkdirSync(join(path, 'x'), { recursive: true });
    const line = await storageLine(
      store.update((s) => {
        s.subscriptions['telegram:1'] = { since: 1, muted: [] };
      }),
    );
    expect(line).toBe(
      `cannot write ${path}: a directory is in the way; move it away, or set DATA_DIR to a writable directory`,
    );
    expect(temps(dir)).toEqual([]);
    expect(store.data.subscriptions).toEqual({});
  });

  it.skipIf(!canMount)('on a full disk: one line, and no partial temporary file', async () => {
    const dir = smallDisk(64)!;
    const store = await StateStore.open(dir);
    const line = await storageLine(
      store.update((s) => {
        s.settings.pairlist.deny = 'X'.repeat(200_000);
      }),
    );
    expect(line).toBe(`cannot write ${join(dir, 'bosun.json')}: the disk is full; free some space on it`);
    expect(temps(dir)).toEqual([]);
    expect(store.data.settings.pairlist).toEqual({});
    // The file on disk is the last whole state, and it opens.
    expect((await StateStore.open(dir)).data.settings.pairlist).toEqual({});
  });
});

describe('a data directory that cannot be written', () => {
  it('a state path that is a directory stops start-up with one line', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'bosun.json'));
    expect(await storageLine(StateStore.open(dir))).toBe(
      `state file ${join(dir, 'bosun.json')} is a directory; move it away (bosun keeps its state in a file of that name), or set DATA_DIR to a writable directory`,
    );
  });

  it.skipIf(!canMount)('read-only: one line at start, and at run time for each change', async () => {
    const dir = smallDisk(256)!;
    const store = await StateStore.open(dir);
    readOnly(dir);
    const expected = `cannot write ${join(dir, 'bosun.json')}: the file system is read-only; mount ${dir} writable, or set DATA_DIR to a writable directory`;
    expect(
      await storageLine(
        store.update((s) => {
          s.subscriptions['telegram:1'] = { since: 1, muted: [] };
        }),
      ),
    ).toBe(expected);
    expect(store.data.subscriptions).toEqual({});
    expect(await storageLine(StateStore.open(dir))).toBe(expected);
  });
});

describe('a command whose change cannot be saved', () => {
  /** Run a command as an admin on Telegram; the replies' text, tags removed. */
  async function ask(t: Awaited<ReturnType<typeof startTestBot>>, command: string): Promise<string> {
    const said: string[] = [];
    const chat: ChatRef = { platform: 'telegram', id: '1', private: true };
    await t.bot.dispatcher.run({
      command,
      words: [],
      person: { platform: 'telegram', id: '1', name: 'ada', role: 'admin' },
      chat,
      transport: {
        send: async (r: Reply) => {
          said.push(...renderMessages(r.blocks, TELEGRAM_HTML));
          return { edit: async () => undefined };
        },
      },
    });
    return said.join('\n').replace(/<[^>]+>/g, '');
  }

  it('gets one line naming the path and what to do; the bot goes on answering', async () => {
    const t = await startTestBot({});
    cleanups.push(() => t.bot.stop());
    const path = join(t.dataDir, 'bosun.json');
    rmSync(path);
    mkdirSync(path);
    expect(await ask(t, 'subscribe')).toBe(
      `Sorry, /subscribe failed: cannot write ${path}: a directory is in the way; move it away, or set DATA_DIR to a writable directory`,
    );
    expect(t.bot.services.store.data.subscriptions).toEqual({});
    expect(await ask(t, 'status')).toMatch(/bosun status/);
    expect(temps(t.dataDir)).toEqual([]);
  });

  it.skipIf(!canMount)('on a read-only DATA_DIR too', async () => {
    const dir = smallDisk(1024)!;
    const t = await startTestBot({}, {}, dir);
    cleanups.push(() => t.bot.stop());
    readOnly(dir);
    expect(await ask(t, 'subscribe')).toBe(
      `Sorry, /subscribe failed: cannot write ${join(dir, 'bosun.json')}: the file system is read-only; mount ${dir} writable, or set DATA_DIR to a writable directory`,
    );
    expect(await ask(t, 'status')).toMatch(/bosun status/);
  });
});
