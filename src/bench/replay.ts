/**
 * The replay bench: the engine replaying 1m candles (the bundled March 2023 sample) at full speed,
 * with a bb-breakout run on 15m candles made from them (one durable state write per 15m candle), in
 * a temporary data directory.
 *
 * Rows:
 * - the event loop's delay, p99, during the replay (perf_hooks monitorEventLoopDelay): how long a
 *   chat command, a button press or the notifier waits. Beside it, a bare loop that works in the
 *   same slices and yields between them (the least a replay that yields every slice can give), and
 *   in the name the same replay with yielding off (how it was). Target: 100 ms or less.
 * - the replay's speed in source candles/s, beside the same replay with yielding off: what the
 *   turns cost.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../engine/engine.js';
import { ReplayFeed, SLICE_MS } from '../engine/feed.js';
import { createLogger } from '../logger.js';
import { StateStore } from '../store/state.js';
import type { BenchRow } from './row.js';

const SAMPLE = 'binanceus_BTC-USDT_1m_2023-03.csv';
const TARGET_MS = 100;

interface ReplayRun {
  ms: number;
  p99: number;
}

/** The first `rows` candles of the 1m sample, in a file named like it (the feed reads the market from the name). */
function sampleFile(root: string, dir: string, rows: number): string {
  const lines = readFileSync(join(root, 'data', 'samples', SAMPLE), 'utf8')
    .trimEnd()
    .split('\n');
  const file = join(dir, SAMPLE);
  writeFileSync(file, `${lines.slice(0, rows + 1).join('\n')}\n`);
  return file;
}

async function replayOnce(file: string, sliceMs: number): Promise<ReplayRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-replay-'));
  try {
    const logger = createLogger({ level: 'silent', format: 'json' });
    const store = await StateStore.open(dir);
    const feed = new ReplayFeed({ file, speed: Number.POSITIVE_INFINITY, logger, sliceMs });
    const engine = new Engine({
      store,
      feed,
      logger,
      settings: {
        paperBalance: { USDT: 10_000 },
        fee: 0.001,
        slippageBps: 0,
        approvalTimeoutMs: 15 * 60_000,
        risk: { sizing: 'fraction', fraction: 0.5, maxSymbolExposure: 1, cooldownMinutes: 0 },
        timezone: 'UTC',
        reportTime: '00:00',
      },
    });
    await engine.startRun(
      { strategy: 'bb-breakout', symbol: 'BTC/USDT', timeframe: '15m', params: {}, approve: 'auto' },
      'bench',
    );
    const ended = new Promise<void>((resolve) =>
      engine.on((e) => {
        if (e.type === 'feed' && !e.up) resolve();
      }),
    );
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // The monitor's timer starts on the next turns: let it, or a replay that never yields goes unseen.
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    const t0 = performance.now();
    await engine.start();
    await ended;
    const ms = performance.now() - t0;
    // One more turn, so a sample the replay held back (all of it, when it never yields) is counted.
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
    delay.disable();
    await engine.stop();
    return { ms, p99: delay.percentile(99) / 1e6 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A loop that works `sliceMs` at a time for `totalMs` and yields between slices, as the replay should. */
async function slicedLoop(totalMs: number, sliceMs: number): Promise<number> {
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
  return delay.percentile(99) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Medians of `runs` replays each way, taken in turn so a noisy moment hits both alike. */
export async function replayRows(root: string, runs: number, quick: boolean): Promise<BenchRow[]> {
  const rows = quick ? 3_000 : 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'bosun-bench-sample-'));
  try {
    const file = sampleFile(root, dir, rows);
    const yields: ReplayRun[] = [];
    const blocks: ReplayRun[] = [];
    for (let i = 0; i < Math.min(runs, 3); i++) {
      yields.push(await replayOnce(file, SLICE_MS));
      blocks.push(await replayOnce(file, Number.POSITIVE_INFINITY));
    }
    const yielding = { ms: median(yields.map((r) => r.ms)), p99: median(yields.map((r) => r.p99)) };
    const blocking = { ms: median(blocks.map((r) => r.ms)), p99: median(blocks.map((r) => r.p99)) };
    const ideal = await slicedLoop(Math.min(yielding.ms, 3_000), SLICE_MS);
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
