/** An engine on a replay file in a temporary data directory, for engine tests. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineSettings } from '../../src/engine/context.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import { ReplayFeed } from '../../src/engine/feed.js';
import { createLogger } from '../../src/logger.js';
import type { LiveBroker } from '../../src/engine/live/broker.js';
import { StateStore } from '../../src/store/state.js';
import { SAMPLES } from './fixtures.js';

export const quietLogger = () => createLogger({ level: 'silent', format: 'json' });

/** Risk settings under which no rule binds: the engine then sizes exactly like the backtester. */
export const NO_LIMITS = {
  maxOpenPositions: 1000,
  maxSymbolExposure: 1,
  dailyLossLimit: 1,
  maxDrawdown: 1,
  minRewardRisk: 0,
  cooldownMinutes: 0,
  defaultStop: 0,
};

/** Write the first `rows` candles of a bundled sample to a temporary CSV named like the sample. */
export function sampleSlice(name: string, rows: number, skip = 0): string {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-replay-'));
  const lines = readFileSync(join(SAMPLES, name), 'utf8').trimEnd().split('\n');
  const path = join(dir, name);
  writeFileSync(path, `${[lines[0], ...lines.slice(1 + skip, 1 + skip + rows)].join('\n')}\n`);
  return path;
}

/** The engine settings of the tests: 10,000 USDT paper, 0.1 % fee, no slippage, UTC. */
export function testSettings(
  risk: Record<string, unknown> = {},
  over: Partial<EngineSettings> = {},
): EngineSettings {
  return {
    paperBalance: { USDT: 10_000 },
    fee: 0.001,
    slippageBps: 0,
    approvalTimeoutMs: 15 * 60_000,
    risk,
    timezone: 'UTC',
    reportTime: '00:00',
    ...over,
  };
}

export interface TestEngine {
  engine: Engine;
  feed: ReplayFeed;
  store: StateStore;
  dir: string;
}

export async function makeEngine(options: {
  file: string;
  dir?: string;
  speed?: number;
  /** The replay's slice of work between event-loop turns, ms (default: the feed's). */
  sliceMs?: number;
  risk?: Record<string, unknown>;
  settings?: Partial<EngineSettings>;
  wallClock?: () => number;
  /** Trade live through this broker (state in the live file) instead of paper. */
  live?: LiveBroker;
  regimeGate?: EngineOptions['regimeGate'];
  /** The exchange rules paper fills obey (as the bot takes them for its replay file; default none). */
  marketRules?: EngineOptions['marketRules'];
}): Promise<TestEngine> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'bosun-engine-'));
  const store = await StateStore.open(dir, Date.now(), options.live ? 'live' : 'paper');
  const logger = quietLogger();
  const cursor = store.data.engine.replay?.cursor;
  const feed = new ReplayFeed({
    file: options.file,
    speed: options.speed ?? Number.POSITIVE_INFINITY,
    logger,
    ...(options.sliceMs !== undefined ? { sliceMs: options.sliceMs } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
  });
  const engine = new Engine({
    store,
    feed,
    logger,
    settings: testSettings(options.risk, options.settings),
    ...(options.wallClock ? { wallClock: options.wallClock } : {}),
    ...(options.live ? { broker: options.live } : {}),
    ...(options.regimeGate ? { regimeGate: options.regimeGate } : {}),
    ...(options.marketRules ? { marketRules: options.marketRules } : {}),
  });
  return { engine, feed, store, dir };
}

/** Resolve when the replay has delivered its whole file. */
export function replayEnd(engine: Engine): Promise<void> {
  return new Promise((resolve) => {
    const off = engine.on((e) => {
      if (e.type === 'feed' && /end of its file/.test(e.detail)) {
        off();
        resolve();
      }
    });
  });
}
