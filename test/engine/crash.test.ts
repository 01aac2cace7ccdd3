/**
 * kill -9 while runs trade: the journal is always whole (SQLite's integrity check), and after each
 * restart the runs resume where they were, so the final trades are exactly those of a replay that
 * never stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCandlesFile } from '../../src/market/load.js';
import type { PositionRecord, RunRecord, TradeRecord } from '../../src/store/state.js';
import { knownRules } from '../../src/market/rules.js';
import { SAMPLES_DIR } from '../../src/paths.js';
import { makeEngine, NO_LIMITS, replayEnd, sampleSlice } from '../helpers/engine.js';
import { ROOT } from '../helpers/fixtures.js';
import { journalCurrent, journalDocument, journalIntegrity, journalTrades } from '../helpers/journal.js';

const RISK_ENV = {
  RISK_SIZING: 'fraction',
  RISK_FRACTION: '0.45',
  RISK_MAX_OPEN: '1000',
  RISK_MAX_SYMBOL_EXPOSURE: '1',
  RISK_DAILY_LOSS: '1',
  RISK_MAX_DRAWDOWN: '1',
  RISK_MIN_REWARD_RISK: '0',
  RISK_COOLDOWN_MINUTES: '0',
  RISK_DEFAULT_STOP: '0.03',
};
const RISK = { ...NO_LIMITS, sizing: 'fraction', fraction: 0.45, defaultStop: 0.03 };
const RUNS = 'ema-cross BTC/USDT 2h approve=auto; rsi-reversion BTC/USDT 2h approve=auto';

function start(dataDir: string, file: string): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'ignore'],
    env: {
      PATH: process.env.PATH,
      DATA_DIR: dataDir,
      CHAT_CONSOLE: 'on',
      LOG_FORMAT: 'json',
      REPLAY_FILE: file,
      REPLAY_SPEED: '400',
      REPLAY_RUNS: RUNS,
      // The uninterrupted replay below has no regime gate (the regime's own restarts are tested in
      // test/engine/regime-clock.test.ts).
      REGIME_GATE: 'off',
      ...RISK_ENV,
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 while runs are active', () => {
  it('loses and duplicates nothing across repeated kills', async () => {
    const file = sampleSlice('binance_BTC-USDT_2h.csv', 1400);
    const last = loadCandlesFile(file).time.at(-1)!;
    const dir = mkdtempSync(join(tmpdir(), 'bosun-crash-'));
    let kills = 0;
    for (;;) {
      const child = start(dir, file);
      const exited = new Promise((r) => child.on('exit', r));
      // Let it run for a random while, then kill it without warning.
      await sleep(700 + Math.random() * 900);
      const cursor = (() => {
        try {
          return journalDocument<{ replay?: { cursor: number } }>(dir, 'engine')?.replay?.cursor;
        } catch {
          return undefined;
        }
      })();
      if (cursor !== undefined && cursor >= last) {
        child.kill('SIGTERM');
        await exited;
        break;
      }
      child.kill('SIGKILL');
      await exited;
      kills++;
      // The journal is whole, and every run is still active (read as a restart reads it).
      expect(journalIntegrity(dir)).toBe('ok');
      const runs = journalCurrent<RunRecord>(dir, 'runs');
      expect(Object.values(runs).map((r) => r.state)).toEqual(Object.keys(runs).map(() => 'active'));
      for (const p of Object.values(journalCurrent<PositionRecord>(dir, 'positions')))
        expect(p.stop).not.toBeNull();
      if (kills > 40) throw new Error('the replay does not advance across restarts');
    }
    expect(kills).toBeGreaterThanOrEqual(3);

    // The rules the bot takes for a replay of a Binance file: those bundled with the samples.
    const whole = await makeEngine({
      file,
      risk: RISK,
      marketRules: (symbol) => knownRules('binance', symbol, { samplesDir: SAMPLES_DIR }),
    });
    for (const spec of RUNS.split(';')) {
      const [strategy, symbol, timeframe] = spec.trim().split(' ') as [string, string, string];
      await whole.engine.startRun({ strategy, symbol, timeframe, params: {}, approve: 'auto' }, 'test');
    }
    const ended = replayEnd(whole.engine);
    await whole.engine.start();
    await ended;
    await whole.engine.stop();

    const strip = (t: TradeRecord[]) => t.map(({ id: _id, ...rest }) => rest);
    const wholeTrades = await whole.store.journal.trades();
    expect(wholeTrades.length).toBeGreaterThan(10);
    expect(strip(journalTrades(dir))).toEqual(strip(wholeTrades));
    expect(journalDocument(dir, 'balances')).toEqual(whole.store.data.balances);
  }, 120_000);
});
