/**
 * The replay bench: the engine replaying 1m candles (the bundled March 2023 sample) at full speed,
 * with a bb-breakout run on 15m candles made from them (one journal commit per 15m candle), in a
 * temporary data directory.
 *
 * Rows:
 * - the event loop's delay, p99, during the replay (perf_hooks monitorEventLoopDelay): how long a
 *   chat command, a button press or the notifier waits. Beside it, a bare loop that works in the
 *   same slices and yields between them (the least a replay that yields every slice can give), and
 *   in the name the same replay with yielding off (how it was). Target: 100 ms or less.
 * - the replay's speed in source candles/s, beside the same replay with yielding off: what the
 *   turns cost.
 *
 * {@link replay} is also what the journal bench (`journal.ts`) replays with: any runs, SQLite or
 * PostgreSQL, with the store's own share of each commit timed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../engine/engine.js';
import { ReplayFeed, SLICE_MS } from '../engine/feed.js';
import { createLogger } from '../logger.js';
import { type State, StateStore } from '../store/state.js';
import type { BenchRow } from './row.js';

export const SAMPLE = 'binanceus_BTC-USDT_1m_2023-03.csv';
const TARGET_MS = 100;

/** A run to start before the replay (symbol: the sample's; approval: automatic). */
export interface BenchRun {
  strategy: string;
  timeframe: string;
  params?: Record<string, unknown>;
}

export interface ReplaySetup {
  file: string;
  runs: readonly BenchRun[];
  /** The feed's work between event-loop turns (default {@link SLICE_MS}; Infinity: never yields). */
  sliceMs?: number;
  /** Risk settings (default: half the equity per position, one position per symbol). */
  risk?: Readonly<Record<string, unknown>>;
  /** `postgres://...`: the journal on that server instead of SQLite in the temporary directory. */
  url?: string;
  /** Looks at the data directory after the store is closed, before it is removed. */
  inspect?: (dir: string) => void;
}

export interface ReplayResult {
  /** Wall time from the feed's start to its end. */
  ms: number;
  /** Event-loop delay, p99 and max, ms. */
  p99: number;
  maxDelay: number;
  /** Source candles replayed. */
  candles: number;
  /**
   * The store's own part of each commit (working out the change, writing it, committing), from the
   * end of the engine's change to the commit's return. On SQLite all of it is synchronous, so the
   * longest is the longest time the store held the event loop.
   */
  store: StoreTimes;
  /** Bytes this process caused to be written to storage during the replay (Linux), else undefined. */
  writeBytes: number | undefined;
}

const DEFAULT_RISK = { sizing: 'fraction', fraction: 0.5, maxSymbolExposure: 1, cooldownMinutes: 0 };

/** The first `rows` candles of the 1m sample, in a file named like it (the feed reads the market from the name). */
export function sampleFile(root: string, dir: string, rows: number): string {
  const lines = readFileSync(join(root, 'data', 'samples', SAMPLE), 'utf8')
    .trimEnd()
    .split('\n');
  const file = join(dir, SAMPLE);
  writeFileSync(file, `${lines.slice(0, rows + 1).join('\n')}\n`);
  return file;
}

/** Bytes written to storage by this process so far (`/proc/self/io`), where the OS tells. */
export function writtenBytes(): number | undefined {
  try {
    const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The store's sections longer than this are counted (the bound on blocking the loop). */
export const LONG_SECTION_MS = 20;

export interface StoreTimes {
  commits: number;
  totalMs: number;
  /** The longest section, ms, and the CPU time this process spent in it (the rest was waiting). */
  maxMs: number;
  maxCpuMs: number;
  /** Sections longer than {@link LONG_SECTION_MS}. */
  long: number;
}

/**
 * Time the store's own part of every update from now on: from the moment the caller's change
 * returns to the moment the commit resolves. The bench wraps the instance's method (state.ts has no
 * hook for it); nothing else changes.
 */
export function timeStore(store: StateStore): StoreTimes {
  const times: StoreTimes = { commits: 0, totalMs: 0, maxMs: 0, maxCpuMs: 0, long: 0 };
  const update = store.update.bind(store);
  store.update = <T>(change: (state: State) => T): Promise<T> => {
    let changed = 0;
    let cpu = process.cpuUsage();
    return update((state) => {
      const result = change(state);
      changed = performance.now();
      cpu = process.cpuUsage();
      return result;
    }).then((result) => {
      const ms = performance.now() - changed;
      times.commits++;
      times.totalMs += ms;
      if (ms > LONG_SECTION_MS) times.long++;
      if (ms > times.maxMs) {
        const used = process.cpuUsage(cpu);
        times.maxMs = ms;
        times.maxCpuMs = (used.user + used.system) / 1000;
      }
      return result;
    });
  };
  return times;
}

/** One full-speed replay of `file` with `runs`, in a temporary data directory removed afterwards. */
export async function replay(setup: ReplaySetup): Promise<ReplayResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-replay-'));
  try {
    const logger = createLogger({ level: 'silent', format: 'json' });
    const store = await StateStore.open(dir, Date.now(), 'paper', { url: setup.url });
    const feed = new ReplayFeed({
      file: setup.file,
      speed: Number.POSITIVE_INFINITY,
      logger,
      sliceMs: setup.sliceMs ?? SLICE_MS,
    });
    const engine = new Engine({
      store,
      feed,
      logger,
      settings: {
        paperBalance: { USDT: 10_000 },
        fee: 0.001,
        slippageBps: 0,
        approvalTimeoutMs: 15 * 60_000,
        risk: setup.risk ?? DEFAULT_RISK,
        timezone: 'UTC',
        reportTime: '00:00',
      },
    });
    for (const run of setup.runs)
      await engine.startRun(
        {
          strategy: run.strategy,
          symbol: feed.symbol,
          timeframe: run.timeframe,
          params: run.params ?? {},
          approve: 'auto',
        },
        'bench',
      );
    const ended = new Promise<void>((resolve) =>
      engine.on((e) => {
        if (e.type === 'feed' && !e.up) resolve();
      }),
    );
    const times = timeStore(store);
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // The monitor's timer starts on the next turns: let it, or a replay that never yields goes unseen.
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    const written = writtenBytes();
    const t0 = performance.now();
    await engine.start();
    await ended;
    const ms = performance.now() - t0;
    // One more turn, so a sample the replay held back (all of it, when it never yields) is counted.
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
    delay.disable();
    const writtenAfter = writtenBytes();
    await engine.stop();
    await store.close();
    setup.inspect?.(dir);
    return {
      ms,
      p99: delay.percentile(99) / 1e6,
      maxDelay: delay.max / 1e6,
      candles: feed.source.length,
      store: times,
      writeBytes: written !== undefined && writtenAfter !== undefined ? writtenAfter - written : undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A loop that works `sliceMs` at a time for `totalMs` and yields between slices, as the replay
 * should: its event-loop delay, p99 and max, ms.
 */
export async function slicedLoop(totalMs: number, sliceMs: number): Promise<{ p99: number; max: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const end = performance.now() + totalMs;
  while (performance.now() < end) {
    const start = performance.now();
    while (performance.now() - start < sliceMs) {
      // busy: the work of one slice
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  delay.disable();
  return { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Medians of `runs` replays each way, taken in turn so a noisy moment hits both alike. */
export async function replayRows(root: string, runs: number, quick: boolean): Promise<BenchRow[]> {
  const rows = quick ? 3_000 : 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-sample-'));
  try {
    const file = sampleFile(root, dir, rows);
    const bench = [{ strategy: 'bb-breakout', timeframe: '15m' }];
    const yields: ReplayResult[] = [];
    const blocks: ReplayResult[] = [];
    for (let i = 0; i < Math.min(runs, 3); i++) {
      yields.push(await replay({ file, runs: bench, sliceMs: SLICE_MS }));
      blocks.push(await replay({ file, runs: bench, sliceMs: Number.POSITIVE_INFINITY }));
    }
    const yielding = { ms: median(yields.map((r) => r.ms)), p99: median(yields.map((r) => r.p99)) };
    const blocking = { ms: median(blocks.map((r) => r.ms)), p99: median(blocks.map((r) => r.p99)) };
    const ideal = (await slicedLoop(Math.min(yielding.ms, 3_000), SLICE_MS)).p99;
    const perSec = (ms: number) => (rows / ms) * 1000;
    const label = `full-speed replay of ${rows.toLocaleString('en-US')} 1m candles, a 15m run`;
    return [
      {
        name: `event-loop delay p99, ${label} (not yielding: ${blocking.p99.toFixed(0)} ms)`,
        value: yielding.p99,
        unit: 'ms',
        baseline: ideal,
        ratio: yielding.p99 / ideal,
        target: `<= ${TARGET_MS} ms`,
        pass: yielding.p99 <= TARGET_MS,
      },
      {
        name: `${label}, yielding every ${SLICE_MS} ms (baseline: not yielding)`,
        value: perSec(yielding.ms),
        unit: 'candles/s',
        baseline: perSec(blocking.ms),
        ratio: yielding.ms / blocking.ms,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
