/**
 * The state store's files on disk (SQLite): temporary files left by writers that died are removed
 * (only ours, only of dead writers); a journal that cannot be opened or written is one line naming
 * the path and what to do, at start and at run time; and a full disk or a read-only DATA_DIR loses
 * nothing that was committed, while what bosun holds in memory stays what the journal holds.
 *
 * A full disk and a read-only file system are made for real with a small tmpfs when the tests can
 * mount one (root in a container); elsewhere those tests are skipped and the portable ones (a
 * directory in the way) still cover the same code. The same behaviours on PostgreSQL are in
 * journal.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatRef } from '../../src/chat/command.js';
import { type Reply, renderMessages } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { writeFileAtomic } from '../../src/store/atomic.js';
import { type State, StateStore } from '../../src/store/state.js';
import { startTestBot } from '../helpers/bot.js';
import { oneLine, position, run, trade } from '../fixtures/store/backends.js';
import { canMount, fillDisk, readOnly, smallDisk, unmountAll } from '../fixtures/store/disk.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-store-'));
const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp'));
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  unmountAll();
});

async function open(dir: string): Promise<StateStore> {
  const store = await StateStore.open(dir);
  cleanups.push(() => store.close().catch(() => undefined));
  return store;
}

/** A pid no process has any more: a child that already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

/** A temporary file name as writeFileAtomic makes them, for `file`, by `pid`, at `time`. */
const tempOf = (file: string, pid: number, time = Date.now()) => `${file}.${pid}.${time.toString(36)}.tmp`;

/** What the engine holds, without the install (not in the journal) and the emptied log. */
function working(s: Readonly<State>) {
  const { install: _install, log: _log, ...rest } = s;
  return JSON.parse(JSON.stringify(rest)) as unknown;
}

/**
 * Change number `i` of a running bot: a counter, a decision, a position opened (even i) or closed
 * into a trade (odd i), cash and an equity point.
 */
function step(s: State, i: number): void {
  s.engine.nextId = i + 2;
  s.log.decisions.push({
    time: i,
    runId: 'R1',
    kind: 'step',
    detail: `step ${i} `.repeat(40),
    indicators: { i },
  });
  if (i % 2 === 0) s.positions[`P${i}`] = position(`P${i}`, 'R1', { entryTime: i });
  else {
    delete s.positions[`P${i - 1}`];
    s.log.trades.push(
      trade(`P${i - 1}`, 'R1', [{ time: i, price: 101, quantity: 2, fee: 0.2, pnl: 1.6, reason: 'signal' }], {
        time: i - 1,
        price: 100,
        fee: 0.2,
      }),
    );
    s.runs.R1!.trades++;
  }
  s.balances.USDT = 1_000 + i;
  s.log.equity.push({ time: i, quote: 'USDT', equity: 1_000 + i });
}

/** A writable copy of `dir` (journal, write-ahead log and install file), to read what was committed. */
function copyOf(dir: string): string {
  const copy = tmp();
  cpSync(dir, copy, { recursive: true, filter: (src) => !src.endsWith('filler') });
  return copy;
}

describe('temporary files of killed writers', () => {
  it('are removed when the store opens: ours, of writers that are gone; nothing else', async () => {
    const dir = tmp();
    await (await StateStore.open(dir)).close();
    const dead = deadPid();
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    cleanups.push(() => void alive.kill());
    const before = Date.now() - Math.ceil(process.uptime() * 1000) - 60_000;
    const stale = [
      tempOf('install.json', dead),
      tempOf('bosun.json', dead),
      tempOf('snapshots.json', dead),
      // Our pid, from before this process started: a dead namesake (a container's pid 1 restarted).
      tempOf('install.json', process.pid, before),
    ];
    const kept = [tempOf('install.json', alive.pid!), 'notes.tmp', 'bosun.json.bak', 'bosun.json.x.tmp'];
    for (const name of [...stale, ...kept]) writeFileSync(join(dir, name), '{"id":"ab');
    const store = await StateStore.open(dir);
    expect(store.data.install.id).toBeTruthy();
    await store.close();
    expect(readdirSync(dir).sort()).toEqual(['bosun.db', 'install.json', ...kept].sort());
  });

  it('are removed from any directory bosun writes into (caches, snapshots, images)', () => {
    const dir = tmp();
    const stale = tempOf('2023-03.csv', deadPid());
    writeFileSync(join(dir, stale), 'timestamp,open');
    writeFileAtomic(join(dir, 'coverage.json'), '{}');
    expect(readdirSync(dir)).toEqual(['coverage.json']);
  });
});

describe('a journal that cannot be opened', () => {
  it('because a directory is where it should be: one line at start', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'bosun.db'));
    expect(await oneLine(StateStore.open(dir))).toBe(
      `cannot open the journal ${join(dir, 'bosun.db')}: a directory is in the way; move it away, or set DATA_DIR to a writable directory`,
    );
  });

  it('because it is not a journal: one line at start, and the file left as it is', async () => {
    const dir = tmp();
    const text = 'notes, not a journal\n'.repeat(100);
    writeFileSync(join(dir, 'bosun.db'), text);
    expect(await oneLine(StateStore.open(dir))).toBe(
      `cannot open the journal ${join(dir, 'bosun.db')}: it is not an SQLite database; move it away (bosun makes a new one) or restore it from a backup`,
    );
    expect(readFileSync(join(dir, 'bosun.db'), 'utf8')).toBe(text);
  });
});

describe('the install file (install.json)', () => {
  it('is made at the first start, readable, and kept by every later one', async () => {
    const dir = tmp();
    const first = await open(dir);
    const install = JSON.parse(readFileSync(join(dir, 'install.json'), 'utf8'));
    expect(install).toEqual(first.data.install);
    expect(install.secret.length).toBeGreaterThanOrEqual(32);
    await first.close();
    expect((await open(dir)).data.install).toEqual(install);
  });

  it('stops start-up with one line when damaged, and is left as it is', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'install.json'), '{"id": "abc');
    const line = await oneLine(StateStore.open(dir), 'BAD_DATA');
    expect(line).toMatch(
      new RegExp(
        `^${join(dir, 'install.json')} cannot be read as JSON \\(.*\\); bosun will not start on it: restore it from a backup, or move it away \\(chat buttons already sent stop working\\)$`,
      ),
    );
    expect(readFileSync(join(dir, 'install.json'), 'utf8')).toBe('{"id": "abc');
  });
});

describe.skipIf(!canMount)('a full disk', () => {
  it('fails the change with one line; memory and journal stay at the last commit; nothing committed is lost', async () => {
    const dir = smallDisk(4_096);
    const store = await open(dir);
    await store.update((s) => {
      s.runs.R1 = run('R1');
    });
    for (let i = 0; i < 20; i++) await store.update((s) => step(s, i));
    const held = working(store.data);
    const free = fillDisk(dir);
    const line = await oneLine(store.update((s) => step(s, 20)));
    expect(line).toBe(
      `cannot write the journal ${join(dir, 'bosun.db')}: the disk is full; free some space on it`,
    );
    expect(working(store.data)).toEqual(held);
    expect(store.data.log.decisions).toEqual([]);
    // What the journal holds, read on a copy: all 20 steps, the one that failed not at all.
    const copy = await StateStore.open(copyOf(dir));
    expect(working(copy.data)).toEqual(held);
    // Steps 0..19: 20 decisions and equity points; positions opened at the 10 even steps and closed
    // at the 10 odd ones: 10 trades, each with an entry and an exit fill, 20 fills.
    expect(await copy.journal.count('decisions')).toBe(20);
    expect(await copy.journal.count('equity')).toBe(20);
    expect(await copy.journal.count('trades')).toBe(10);
    expect(await copy.journal.count('fills')).toBe(20);
    expect(copy.data.runs.R1!.trades).toBe(10);
    await copy.close();
    // Room again: the store goes on from where it was.
    free();
    await store.update((s) => step(s, 20));
    expect(store.data.engine.nextId).toBe(22);
    expect(await store.journal.count('decisions')).toBe(21);
  });

  it('at the first start: one line, and the next start, with room, makes the journal', async () => {
    const dir = smallDisk(128);
    // 128 kB: the journal's tables do not fit.
    expect(await oneLine(StateStore.open(dir))).toBe(
      `the journal at ${join(dir, 'bosun.db')} could not be brought up to date (the disk is full; free some space on it); nothing was changed by the failed step`,
    );
    const bigger = smallDisk(4_096);
    cpSync(dir, bigger, { recursive: true });
    const store = await open(bigger);
    await store.update((s) => step(s, 0));
    expect(await store.journal.count('decisions')).toBe(1);
  });
});

describe.skipIf(!canMount)('a read-only DATA_DIR', () => {
  it('stops start-up with one line naming it; everything committed before is there', async () => {
    const dir = smallDisk(4_096);
    const store = await StateStore.open(dir);
    await store.update((s) => {
      s.runs.R1 = run('R1');
    });
    for (let i = 0; i < 5; i++) await store.update((s) => step(s, i));
    const held = working(store.data);
    // While the journal is open the kernel does not make its file system read-only ("mount point is
    // busy"): a DATA_DIR turns read-only across a restart.
    expect(() => readOnly(dir)).toThrow();
    await store.close();
    readOnly(dir);
    expect(await oneLine(StateStore.open(dir))).toBe(
      `cannot open the journal ${join(dir, 'bosun.db')}: the file system is read-only; mount ${dir} writable, or set DATA_DIR to a writable directory`,
    );
    const copy = await open(copyOf(dir));
    expect(working(copy.data)).toEqual(held);
    expect(await copy.journal.count('decisions')).toBe(5);
  });

  it('at the first start: one line naming the file it could not write', async () => {
    const dir = smallDisk(256);
    readOnly(dir);
    expect(await oneLine(StateStore.open(dir))).toBe(
      `cannot write ${join(dir, 'install.json')}: the file system is read-only; mount ${dir} writable, or set DATA_DIR to a writable directory`,
    );
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

  it.skipIf(!canMount)(
    'on a full disk gets one line naming the path and what to do; the bot goes on answering',
    async () => {
      const dir = smallDisk(8_192);
      const t = await startTestBot({}, {}, dir);
      cleanups.push(() => t.bot.stop());
      const free = fillDisk(dir);
      expect(await ask(t, 'subscribe')).toBe(
        `Sorry, /subscribe failed: cannot write the journal ${join(dir, 'bosun.db')}: the disk is full; free some space on it`,
      );
      expect(t.bot.services.store.data.subscriptions).toEqual({});
      expect(await ask(t, 'status')).toMatch(/bosun status/);
      free();
      expect(await ask(t, 'subscribe')).not.toMatch(/Sorry/);
      expect(Object.keys(t.bot.services.store.data.subscriptions)).toEqual(['telegram:1']);
      expect(temps(dir)).toEqual([]);
    },
  );
});
