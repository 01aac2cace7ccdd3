import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import type { Sizing } from '../../src/backtest/sizing.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { timeframeMs } from '../../src/market/timeframe.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { makeEngine, NO_LIMITS, replayEnd, sampleSlice } from '../helpers/engine.js';

interface Case {
  strategy: string;
  params?: Record<string, unknown>;
  file: string;
  rows: number;
  timeframe: string;
  risk: Record<string, unknown>;
  sizing: Sizing;
  slippageBps?: number;
  /** Some trades must have filled adds. */
  adds?: boolean;
}

const CASES: Case[] = [
  {
    strategy: 'ema-cross',
    params: { fast: 9, slow: 21 },
    file: 'binance_BTC-USDT_2h.csv',
    rows: 1500,
    timeframe: '2h',
    risk: { ...NO_LIMITS, sizing: 'fraction', fraction: 1 },
    sizing: { mode: 'all-in' },
  },
  {
    // A stop and a time exit from the strategy, risk sizing from the stop, slippage on market fills.
    strategy: 'rsi-reversion',
    file: 'binance_BTC-USDT_2h.csv',
    rows: 1500,
    timeframe: '2h',
    risk: { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.02 },
    sizing: { mode: 'risk', risk: 0.02 },
    slippageBps: 5,
  },
  {
    // An entry ladder: DCA's two adds resting 2 % and 4 % under the first fill, the stop following
    // the average entry, cash moved at each add.
    strategy: 'rsi-reversion',
    params: { dcaTimes: 2, dcaStep: 0.02 },
    file: 'binance_BTC-USDT_2h.csv',
    rows: 1500,
    timeframe: '2h',
    risk: { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.02 },
    sizing: { mode: 'risk', risk: 0.02 },
    slippageBps: 5,
    adds: true,
  },
  {
    // 1m candles replayed, the run on 15m candles made from them on the fly.
    strategy: 'bb-breakout',
    file: 'binanceus_BTC-USDT_1m_2023-03.csv',
    rows: 20_000,
    timeframe: '15m',
    risk: { ...NO_LIMITS, sizing: 'fraction', fraction: 0.5 },
    sizing: { mode: 'fraction', fraction: 0.5 },
  },
];

describe('replay through the engine vs the backtester', () => {
  for (const c of CASES) {
    it(`trades ${c.strategy} on ${c.timeframe} exactly like the backtest`, async () => {
      const file = sampleSlice(c.file, c.rows);
      const { engine, store } = await makeEngine({
        file,
        risk: c.risk,
        settings: { slippageBps: c.slippageBps ?? 0 },
      });
      await engine.startRun(
        {
          strategy: c.strategy,
          symbol: 'BTC/USDT',
          timeframe: c.timeframe,
          params: c.params ?? {},
          approve: 'auto',
        },
        'test',
      );
      const ended = replayEnd(engine);
      await engine.start();
      await ended;
      await engine.stop();

      const source = loadCandlesFile(file);
      const sourceMs = timeframeMs(c.file.includes('_1m_') ? '1m' : c.timeframe);
      const tfMs = timeframeMs(c.timeframe);
      const candles = tfMs === sourceMs ? source : closedOnly(resample(source, sourceMs, tfMs));
      const strategy = await loadStrategy(c.strategy);
      const bt = runBacktest(strategy, c.params ?? {}, candles, {
        capital: 10_000,
        fee: 0.001,
        slippageBps: c.slippageBps ?? 0,
        sizing: c.sizing,
        timeframeMs: tfMs,
      });
      const expected = bt.simulation.trades
        .filter((t) => t.exitReason !== 'end')
        .map((t) => ({ ...t, exits: t.exits.map((e) => ({ ...e })) }));
      const actual = (await store.journal.trades()).map(
        ({ id: _id, runId: _r, symbol: _s, quote: _q, ...t }) => t,
      );
      expect(expected.length).toBeGreaterThan(5);
      if (c.adds) expect(expected.filter((t) => (t.entries?.length ?? 0) > 1).length).toBeGreaterThan(5);
      expect(actual).toEqual(expected);
      // The cash left agrees to the cent (no position open in either at the same point).
      const open = Object.values(store.data.positions);
      const lastBt = bt.simulation.trades[bt.simulation.trades.length - 1]!;
      if (open.length === 0 && lastBt.exitReason !== 'end')
        expect(store.data.balances.USDT!.toFixed(2)).toBe(bt.metrics.finalEquity.toFixed(2));
      else expect(open.length).toBe(lastBt.exitReason === 'end' ? 1 : 0);
    }, 60_000);
  }
});
