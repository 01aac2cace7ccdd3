/**
 * The regime on the engine's clock: a replay started as `npm start` starts it (startBot: the real
 * engine, market watch and regime gate) measures the regime from its own candles at each closed
 * REGIME_TIMEFRAME candle, never beyond its clock, and so makes the same trades at any speed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalTrades } from '../helpers/journal.js';
import { loadConfig } from '../../src/config.js';
import { classify, priceInputs, REGIME_DEFAULTS, RegimeTracker } from '../../src/engine/regime.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { sliceCandles } from '../../src/market/types.js';
import { startBot } from '../../src/main.js';
import { quietLogger, sampleSlice } from '../helpers/engine.js';

const H = 3_600_000;
/** Least time in a regime: not a whole number of hours, so a reading's time stamp matters. */
const DWELL = 90 * 60_000;
// Five days of 1m candles from 2023-03-08: a fall, then the turn of 2023-03-13 (several regimes).
const FILE = sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 7200, 7 * 1440);
const START = Date.UTC(2023, 2, 8);

/**
 * Replay FILE at `speed` through startBot to its end; the trades, signals and regime changes. With
 * `first`, a copy of the file's beginning under the same name is played first on the same state, so
 * the replay of FILE resumes exactly where that one ended, as after a restart.
 */
async function replayAt(speed: number, first?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bosun-regime-clock-'));
  const play = async (file: string) => {
    const config = loadConfig({
      env: {
        DATA_DIR: dataDir,
        REPLAY_FILE: file,
        REPLAY_SPEED: String(speed),
        REPLAY_RUNS: 'momentum BTC/USDT 15m approve=auto',
        REGIME_TIMEFRAME: '1h',
        REGIME_MIN_DWELL: '90m',
        CHAT_CONSOLE: 'off',
        // Nothing outside: an exchange that is not there.
        EXCHANGE_API_URL: 'http://127.0.0.1:9',
      },
      dotenv: false,
    });
    const bot = await startBot({ config, logger: quietLogger(), interactive: false });
    try {
      await new Promise<void>((resolve) => {
        const off = bot.services.trading.on((e) => {
          if (e.type === 'feed' && !e.up) {
            off();
            resolve();
          }
        });
      });
    } finally {
      await bot.stop();
    }
    return bot.services.store.data;
  };
  if (first !== undefined) await play(first);
  const s = await play(FILE);
  return {
    trades: journalTrades(dataDir),
    signals: Object.values(s.signals).map((g) => ({
      time: g.barTime,
      side: g.side,
      status: g.status,
      reason: g.reason,
      regime: g.regime,
      quantity: g.quantity,
    })),
    changes: (s.regime?.history ?? []).map((c) => ({ at: c.at, from: c.from, to: c.to })),
  };
}

/** The regime by hand: at each 1h close, the file's candles closed by then, through hysteresis. */
function expectedChanges() {
  const hourly = closedOnly(resample(loadCandlesFile(FILE), 60_000, H));
  const tracker = new RegimeTracker(DWELL);
  const out: Array<{ at: number; from: string | null; to: string }> = [];
  for (let n = REGIME_DEFAULTS.lookback; n <= hourly.length; n++) {
    const known = sliceCandles(hourly, Math.max(0, n - REGIME_DEFAULTS.lookback - 60), n);
    const reading = classify(priceInputs(known, [known], REGIME_DEFAULTS.lookback), [], {
      ...REGIME_DEFAULTS,
      minDwellMs: DWELL,
    });
    const change = tracker.update(hourly.time[n - 1]! + H, reading);
    if (change) out.push({ at: change.at, from: change.from, to: change.to });
  }
  return out;
}

describe('the regime on the replay clock', () => {
  it('is measured from the replayed candles at each 1h close, and the trades are the same at two speeds', async () => {
    const fast = await replayAt(1_000_000);
    const slow = await replayAt(4000);

    const expected = expectedChanges();
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(fast.changes).toEqual(expected);
    expect(slow.changes).toEqual(expected);

    // The gate bound: some entries were refused by the regime, and some went through sized by it.
    expect(fast.signals.some((g) => g.status === 'refused' && g.reason?.startsWith('regime '))).toBe(true);
    expect(fast.trades.length).toBeGreaterThan(0);
    // Each signal met the regime in force at its time (the last change at or before it).
    for (const g of fast.signals) {
      const at = g.time + 15 * 60_000;
      const state = expected.filter((c) => c.at <= at).at(-1)?.to;
      if (state === undefined) expect(g.regime).toBeUndefined();
      else if (g.status === 'refused' && g.reason?.startsWith('regime ')) expect(g.reason).toContain(state);
      else if (g.regime !== undefined) expect(g.regime.startsWith(`${state} x`)).toBe(true);
    }

    expect(slow.trades).toEqual(fast.trades);
    expect(slow.signals).toEqual(fast.signals);
  }, 120_000);

  it('holds and changes the same way when the replay is stopped and started again between two closes', async () => {
    const whole = await replayAt(1_000_000);
    // Stopped at 91h37m: CHOP since 90h, and the 91h reading (RISK_ON) held back by the 90-minute
    // dwell; the change is due at the 92h close, not at the first candle after the restart.
    expect(whole.changes).toContainEqual({ at: START + 90 * H, from: 'RISK_OFF', to: 'CHOP' });
    expect(whole.changes).toContainEqual({ at: START + 92 * H, from: 'CHOP', to: 'RISK_ON' });
    const resumed = await replayAt(
      1_000_000,
      sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 91 * 60 + 37, 7 * 1440),
    );
    expect(resumed.changes).toEqual(whole.changes);
    expect(resumed.signals).toEqual(whole.signals);
    expect(resumed.trades).toEqual(whole.trades);
  }, 120_000);
});
