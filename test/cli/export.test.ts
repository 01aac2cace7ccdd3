/**
 * `bosun export` end to end: the compiled CLI run as a child process against a journal the state
 * store wrote (SQLite in DATA_DIR, or PostgreSQL by DATABASE_URL). Memory stays flat: the live heap
 * (measured after a full collection, sampled through the run) of an export of 200,000 decisions is
 * that of one of 50,000. A bad argument is one line; a failed or interrupted export leaves no file.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parquetMetadata } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../src/dev/postgres.js';
import { StateStore } from '../../src/store/state.js';
import { ROOT } from '../helpers/fixtures.js';
import { cleanEnv, closedPort } from '../helpers/process.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-export-cli-'));

const T0 = Date.UTC(2024, 0, 1); // 2024-01-01T00:00:00.000Z
const MINUTE = 60_000;
/** Decisions in the big journal: one a minute from T0. */
const BIG = 200_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bosun(
  args: string[],
  env: Record<string, string>,
  options: { node?: string[]; onStdout?: (child: ReturnType<typeof spawn>) => void } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(options.node ?? []), CLI, ...args], {
      cwd: ROOT,
      env: cleanEnv(env),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      options.onStdout?.(child);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A bad input: exit code 2 and exactly one line on stderr, with no stack trace. */
function expectOneLine(r: Run, line: string | RegExp, code = 2): void {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).not.toMatch(/\bat .+:\d+:\d+/);
  if (typeof line === 'string') expect(lines[0]).toBe(`error: ${line}`);
  else expect(lines[0]).toMatch(line);
  expect(r.stdout).toBe('');
}

/** A journal with a few decisions, as in the README's example. */
async function smallJournal(dataDir: string, url?: string): Promise<void> {
  const store = await StateStore.open(dataDir, T0, 'paper', { url });
  await store.update((s) => {
    s.log.decisions.push(
      { time: T0, runId: 'R1', kind: 'hold', detail: 'flat', indicators: { ema12: 100.5, ema26: 99.25 } },
      {
        time: T0 + MINUTE,
        runId: 'R1',
        kind: 'entry',
        detail: 'cross up',
        signalId: 'S3',
        indicators: { ema12: 101 },
      },
    );
  });
  await store.close();
}

/** Decisions of two runs with different indicators, written as the engine does, in batches. */
async function bigJournal(dataDir: string): Promise<void> {
  const store = await StateStore.open(dataDir, T0);
  for (let i = 0; i < BIG; i += 20_000)
    await store.update((s) => {
      for (let j = i; j < i + 20_000; j++)
        s.log.decisions.push(
          j % 2
            ? {
                time: T0 + j * MINUTE,
                runId: 'R1',
                kind: 'hold',
                detail: 'no cross',
                indicators: { ema12: 100 + j / 1000, ema26: 99 + j / 1000, rsi: 50 + (j % 20) },
              }
            : {
                time: T0 + j * MINUTE,
                runId: 'R2',
                kind: 'hold',
                detail: 'histogram below zero',
                indicators: { macd: j / 1e4, macdSignal: null, macdHistogram: -0.5 },
              },
        );
    });
  await store.close();
}

let smallDir: string;
let bigDir: string;
let server: PostgresServer;
let pgUrl: string;

beforeAll(async () => {
  if (!existsSync(CLI)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  smallDir = tmp();
  await smallJournal(smallDir);
  bigDir = tmp();
  await bigJournal(bigDir);
  server = await startPostgres({ durable: false });
  pgUrl = await server.createDatabase('export_cli');
  await smallJournal(tmp(), pgUrl);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  // The big journal is some 40 MB: not left in the temporary directory.
  rmSync(bigDir, { recursive: true, force: true });
});

const SMALL_CSV = [
  'seq,time,time_ms,run_id,kind,detail,signal_id,ema12,ema26',
  '1,2024-01-01T00:00:00.000Z,1704067200000,R1,hold,flat,,100.5,99.25',
  '2,2024-01-01T00:01:00.000Z,1704067260000,R1,entry,cross up,S3,101,',
  '',
].join('\n');

describe('bosun export', () => {
  it('writes a kind of the SQLite journal in DATA_DIR to a file, and says what it wrote', async () => {
    const out = join(tmp(), 'decisions.csv');
    const r = await bosun(['export', 'decisions', '--out', out], { DATA_DIR: smallDir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(SMALL_CSV);
    expect(r.stdout).toMatch(
      new RegExp(
        `^Exported 2 decisions \\(9 columns, csv\\) from ${join(smallDir, 'bosun.db')} to ${out} in \\d+\\.\\d s\\n$`,
      ),
    );
    expect(r.stderr).toBe('');
    expect(readdirSync(join(out, '..'))).toEqual(['decisions.csv']);
  });

  it('says what it was asked when nothing matched (a mistyped run is not taken for no history)', async () => {
    const r = await bosun(['export', 'decisions', '--run', 'R99', '--format', 'jsonl'], {
      DATA_DIR: smallDir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^Exported 0 decisions .*; nothing matched \(instance main, book paper, run R99\)\n$/,
    );
  });

  it('writes to stdout (the summary to stderr), and reads PostgreSQL by DATABASE_URL', async () => {
    const r = await bosun(['export', 'decisions', '--from', '2024-01-01T00:01Z', '--format', 'jsonl'], {
      DATA_DIR: tmp(),
      DATABASE_URL: pgUrl,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      '{"seq":2,"time":"2024-01-01T00:01:00.000Z","time_ms":1704067260000,"run_id":"R1","kind":"entry","detail":"cross up","signal_id":"S3","ema12":101}\n',
    );
    expect(r.stderr).toMatch(
      /^Exported 1 decisions \(8 columns, jsonl\) from postgres:\/\/bosun@127\.0\.0\.1:\d+\/export_cli in /,
    );
  });

  it('takes the format from the file name, and writes Parquet a row group at a time', async () => {
    const out = join(tmp(), 'decisions.parquet');
    const r = await bosun(['export', 'decisions', '--to', String(T0 + 50_000 * MINUTE), '--out', out], {
      DATA_DIR: bigDir,
    });
    expect(r.code, r.stderr).toBe(0);
    const buf = readFileSync(out);
    expect(buf.subarray(0, 4).toString()).toBe('PAR1');
    const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    expect(meta.num_rows).toBe(50_000n);
    // 20,000 rows a group: 20,000 + 20,000 + 10,000.
    expect(meta.row_groups.map((g) => g.num_rows)).toEqual([20_000n, 20_000n, 10_000n]);
  });

  it('stops quietly when the reader of its output goes away (| head)', async () => {
    const r = await bosun(
      ['export', 'decisions'],
      { DATA_DIR: bigDir },
      {
        onStdout: (child) => child.stdout!.destroy(),
      },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('the heap of an export', () => {
  /** Samples the live heap (after a full collection) every 50 ms; prints the peak at exit. */
  const sampler = join(tmp(), 'peak-heap.mjs');
  writeFileSync(
    sampler,
    `let peak = 0;
const sample = () => { globalThis.gc(); peak = Math.max(peak, process.memoryUsage().heapUsed); };
setInterval(sample, 50).unref();
process.on('exit', () => { sample(); process.stderr.write('peak-heap ' + peak + '\\n'); });
`,
  );

  async function peakHeap(format: string, rows: number): Promise<{ peak: number; seconds: number }> {
    const out = join(tmp(), `decisions.${format}`);
    const args = ['export', 'decisions', '--to', String(T0 + rows * MINUTE), '--out', out];
    const started = Date.now();
    const r = await bosun(args, { DATA_DIR: bigDir }, { node: ['--expose-gc', '--import', sampler] });
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Exported ${rows.toLocaleString('en-US')} decisions`);
    return { peak: Number(/peak-heap (\d+)/.exec(r.stderr)![1]), seconds };
  }

  it.each(['csv', 'parquet'])(
    'stays flat as %s: 200,000 decisions need what 50,000 do',
    async (format) => {
      const small = await peakHeap(format, 50_000);
      const large = await peakHeap(format, BIG);
      const mb = (n: number) => (n / 1e6).toFixed(1);
      console.log(
        `export decisions ${format}: peak live heap ${mb(small.peak)} MB for 50k, ${mb(large.peak)} MB for 200k (${(large.peak / small.peak).toFixed(2)}x); 200k in ${large.seconds.toFixed(1)} s`,
      );
      expect(large.peak / small.peak).toBeLessThan(1.25);
    },
    120_000,
  );
});

/** A small tmpfs, or undefined where this process may not mount one (as in test/store/state.test.ts). */
function smallDisk(kb: number): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = tmp();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return dir;
}

describe('a failed or interrupted export', () => {
  it('on a full disk: one line, and no file, whole or half', async (ctx) => {
    const dir = smallDisk(256);
    if (!dir) return ctx.skip();
    try {
      const out = join(dir, 'decisions.csv');
      const r = await bosun(['export', 'decisions', '--out', out], { DATA_DIR: bigDir });
      expectOneLine(r, `cannot write ${out}: the disk is full; free some space on it`, 1);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    }
  });

  it('leaves no file when interrupted (Ctrl-C)', async () => {
    const dir = tmp();
    const out = join(dir, 'decisions.csv');
    const child = spawn(process.execPath, [CLI, 'export', 'decisions', '--out', out], {
      cwd: ROOT,
      env: cleanEnv({ DATA_DIR: bigDir }),
    });
    const exited = new Promise<number | null>((r) => child.on('close', r));
    // Interrupt once the temporary file has something in it.
    for (let i = 0; i < 400 && readdirSync(dir).length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dir)[0]).toMatch(/^decisions\.csv\.\d+\.[0-9a-z]+\.tmp$/);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('on a journal from a newer bosun: one line, and the journal untouched', async () => {
    const dir = tmp();
    await smallJournal(dir);
    const db = new Database(join(dir, 'bosun.db'));
    db.prepare("insert into bosun_migrations (name, timestamp) values ('9999_future', '2030-01-01')").run();
    db.close();
    const hash = () =>
      createHash('sha256')
        .update(readFileSync(join(dir, 'bosun.db')))
        .digest('hex');
    const before = hash();
    const r = await bosun(['export', 'decisions', '--out', join(dir, 'x.csv')], { DATA_DIR: dir });
    expectOneLine(
      r,
      `the journal at ${join(dir, 'bosun.db')} was written by a newer bosun (it has schema 9999_future; this version knows up to 0003_trade_entries); upgrade bosun to export it, or point DATA_DIR at another journal`,
      1,
    );
    expect(hash()).toBe(before);
    expect(existsSync(join(dir, 'x.csv'))).toBe(false);
  });

  it('on a journal from an older bosun: one line, and no migration run', async () => {
    const dir = tmp();
    await smallJournal(dir);
    const db = new Database(join(dir, 'bosun.db'));
    db.prepare("delete from bosun_migrations where name = '0001_journal'").run();
    db.close();
    const r = await bosun(['export', 'trades'], { DATA_DIR: dir });
    expectOneLine(
      r,
      `the journal at ${join(dir, 'bosun.db')} was written by an older bosun (it lacks schema 0001_journal); export does not change it: start this bosun once to bring it up to date, then export`,
      1,
    );
    const after = new Database(join(dir, 'bosun.db'), { readonly: true });
    // Only the rows it still had (0002_backtests, 0003_trade_entries): nothing was run.
    expect(after.prepare('select count(*) as n from bosun_migrations').get()).toEqual({ n: 2 });
    after.close();
  });
});

describe('bad arguments get one line each', () => {
  const empty = tmp();
  const cases: Array<[string, string[], string | RegExp, Record<string, string>?]> = [
    [
      'no kind',
      ['--from', '2024-01-01'],
      'export: which kind? give one first, e.g. bosun export decisions --from 2024-01-01; allowed: candles, decisions, signals, trades, fills, equity, snapshots',
    ],
    [
      'an unknown kind',
      ['decisons'],
      'export: unknown kind "decisons" (did you mean decisions?); allowed: candles, decisions, signals, trades, fills, equity, snapshots',
    ],
    [
      'a bad date',
      ['decisions', '--from', '2024-13-45'],
      '--from "2024-13-45" is not valid; allowed: YYYY-MM-DD, an ISO time, or epoch milliseconds',
    ],
    [
      '--from after --to',
      ['trades', '--from', '2024-03-01', '--to', '2024-02-01'],
      'export: --from 2024-03-01T00:00:00.000Z is not before --to 2024-02-01T00:00:00.000Z; --from is inclusive and --to exclusive, so --from must be earlier',
    ],
    ['an unknown format', ['fills', '--format', 'xlsx'], '--format is "xlsx"; allowed: csv, jsonl, parquet'],
    [
      'a format the file name contradicts',
      ['fills', '--format', 'csv', '--out', 'fills.parquet'],
      'export: --format csv but --out fills.parquet ends in .parquet; give a file name ending in .csv, or leave --format out',
    ],
    [
      'a filter the kind does not have',
      ['equity', '--run', 'R1'],
      'export: --run does not apply to equity; it filters decisions, signals, trades, fills',
    ],
    [
      'a book for candles',
      ['candles', '--book', 'live'],
      'export: candles are market data shared by every instance and book; --book does not apply (filter them with --symbol and --timeframe)',
    ],
    ['an unknown book', ['decisions', '--book', 'demo'], '--book is "demo"; allowed: paper, live'],
    [
      'a bad instance name',
      ['decisions', '--instance', 'a b'],
      '--instance is "a b"; allowed: letters, digits, - and _, at most 40, starting with a letter or digit',
    ],
    [
      'a bad timeframe',
      ['candles', '--timeframe', '1x'],
      'timeframe "1x" is not valid; allowed: a number and a unit m, h, d or w (e.g. 15m, 37m, 4h, 1d)',
    ],
    [
      'an unknown option',
      ['decisions', '--form', '2024-01-01'],
      /^error: export: unknown option --form \(did you mean --from\?\); allowed: --from, --to, /,
    ],
    [
      '--out a directory',
      ['decisions', '--out', empty],
      `export: --out ${empty} is a directory; give a file name, e.g. ${empty}/export.csv`,
    ],
    [
      'no journal in DATA_DIR yet',
      ['decisions'],
      `no journal in DATA_DIR yet: looked for ${join(empty, 'bosun.db')}; start bosun once to make it, or set DATA_DIR (or DATABASE_URL) to where its journal is`,
    ],
  ];

  it.each(cases)('%s', async (_name, args, line, env) => {
    expectOneLine(await bosun(['export', ...args], { DATA_DIR: empty, ...env }), line);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('a PostgreSQL server that does not answer', async () => {
    const port = await closedPort();
    const r = await bosun(['export', 'trades'], {
      DATA_DIR: empty,
      DATABASE_URL: `postgres://bosun:secret@127.0.0.1:${port}/bosun`,
    });
    expectOneLine(
      r,
      // The credentials are never shown (DATABASE_URL is a secret: the CLI's redaction takes both).
      `cannot use the journal at postgres://[REDACTED]@127.0.0.1:${port}/bosun: nothing answers there; start the server, or check the host and port in DATABASE_URL`,
      1,
    );
  });
});
