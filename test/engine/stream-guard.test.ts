/**
 * The engine on the streaming feed, through real ccxt.pro against the exchange emulator: orders a
 * close decided fill as the next candle opens, stops act as the price crosses them, and the trades
 * are still the backtest's, to the cent (the README's parity contract, its reproducible side).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { loadConfig } from '../../src/config.js';
import { Engine } from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { StreamFeed } from '../../src/engine/stream-feed.js';
import { candlesFrom } from '../../src/market/types.js';
import { StateStore } from '../../src/store/state.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { ExchangeEmulator } from '../emulators/exchange/server.js';
import { NO_LIMITS, quietLogger, testSettings } from '../helpers/engine.js';
import { ALL_2H, TWO_HOURS as TF } from '../helpers/live.js';

const BARS = 900;
const DATA = ALL_2H.slice(0, BARS);
const RISK = { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.02 };

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('the engine on a streaming feed', () => {
  let emu: ExchangeEmulator | undefined;
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.stop();
    await emu?.stop();
  });

  it('fills at the next open as it opens, stops as the price crosses, and trades like the backtest', async () => {
    const strategy = await loadStrategy('rsi-reversion');
    const bt = runBacktest(strategy, {}, candlesFrom(DATA), {
      capital: 10_000,
      fee: 0.001,
      slippageBps: 5,
      sizing: { mode: 'risk', risk: 0.02 },
      timeframeMs: TF,
    });
    const trades = bt.simulation.trades.filter((t) => t.exitReason !== 'end');
    expect(trades.filter((t) => t.exitReason === 'stop').length).toBeGreaterThan(0);
    // The engine starts just after the close of the bar before the first entry signal's.
    const first = DATA.findIndex((c) => c.time === trades[0]!.entryTime) - 1;

    emu = await new ExchangeEmulator([{ symbol: 'BTC/USDT', candles: DATA, intervalMs: TF }]).start();
    emu.streams.advanceTo(DATA[first]!.time + 1000);
    const config = loadConfig({
      env: { EXCHANGE_API_URL: emu.url, MARKET_FEED: 'exchange', EXCHANGE: 'binance' },
      dotenv: false,
    });
    const feed = new StreamFeed(config, quietLogger(), {
      heartbeatMs: 30_000,
      backoffMs: 20,
      clock: () => emu!.now(),
      retries: 1,
    });
    const store = await StateStore.open(mkdtempSync(join(tmpdir(), 'bosun-guard-')), Date.now(), 'paper');
    engine = new Engine({
      store,
      feed,
      logger: quietLogger(),
      settings: testSettings(RISK, { slippageBps: 5 }),
      source: 'binance',
    });
    const run = await engine.startRun(
      { strategy: 'rsi-reversion', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'auto' },
      'test',
    );
    const heard: Array<{ at: number; e: EngineEvent }> = [];
    engine.on((e) => heard.push({ at: emu!.now(), e }));
    await engine.start();
    await emu.streams.subscribed('btcusdt@kline_2h');

    // The market moves a quarter of a candle at a time; each close is processed before the next.
    for (let i = first; i < BARS - 1; i++) {
      for (const q of [1, 2, 3]) {
        emu.streams.advanceTo(DATA[i]!.time + (q * TF) / 4);
        await new Promise((r) => setTimeout(r, 4));
      }
      emu.streams.advanceTo(DATA[i + 1]!.time);
      await until(`bar ${i}`, () => store.data.runs[run.id]!.lastBar === DATA[i]!.time);
    }
    await new Promise((r) => setTimeout(r, 20));

    const got = await store.journal.trades();
    const strip = (t: { exits: Array<{ time: number }> }) => t.exits.map(({ time: _t, ...f }) => f);
    const expected = trades.filter((t) => t.exitTime < DATA[BARS - 1]!.time);
    expect(got.length).toBe(expected.length);
    expect(got.length).toBeGreaterThan(3);
    got.forEach((t, k) => {
      const want = expected[k]!;
      expect({ ...t, exits: strip(t), exitTime: 0 }).toMatchObject({
        ...want,
        exits: strip(want),
        exitTime: 0,
      });
      // Each exit within the candle the backtest has it in: at its open, or as the price crossed.
      for (const [j, e] of t.exits.entries()) {
        expect(e.time).toBeGreaterThanOrEqual(want.exits[j]!.time);
        expect(e.time).toBeLessThan(want.exits[j]!.time + TF);
      }
    });
    // Stops were taken as the price crossed them, before their candle closed.
    const stops = got.flatMap((t) => t.exits.filter((e) => e.reason === 'stop'));
    expect(stops.length).toBeGreaterThan(0);
    expect(stops.every((e) => e.time % TF !== 0)).toBe(true);
    // Entries filled as their candle opened (its first updates), not when it closed.
    const entries = heard.filter(({ e }) => e.type === 'entry');
    expect(entries.length).toBe(got.length + Object.keys(store.data.positions).length);
    for (const { at, e } of entries)
      if (e.type === 'entry') expect(at).toBeLessThan(e.position.entryTime + TF);
  }, 120_000);
});
