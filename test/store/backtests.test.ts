/**
 * Kept backtests, on SQLite and PostgreSQL: every figure and trade comes back as it went in, with
 * its chart byte for byte; the list is newest first; an unknown id is one line naming the latest.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { candleInfo } from '../../src/backtest/summary.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { sliceCandles } from '../../src/market/types.js';
import { EQUITY_POINTS, keptOf, openArchive } from '../../src/store/backtests.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { BACKENDS, useBackend } from '../fixtures/store/backends.js';
import { SAMPLES } from '../helpers/fixtures.js';

async function sampleResult(bars: number) {
  const all = loadCandlesFile(join(SAMPLES, 'binance_BTC-USDT_2h.csv'));
  const candles = sliceCandles(all, all.length - bars, all.length);
  const result = runBacktest(await loadStrategy('ema-cross'), { fast: 9, slow: 21 }, candles, {
    timeframeMs: 7_200_000,
  });
  return { result, info: candleInfo(result, 'the 2h sample', 'BTC/USDT') };
}

describe.each(BACKENDS)('kept backtests on %s', (backend) => {
  const { fresh } = useBackend(backend);

  it('come back whole: figures, trades, the thinned equity curve and the chart', async () => {
    const place = await fresh();
    const store = await place.open();
    const { result, info } = await sampleResult(3000);
    const chart = Uint8Array.from([137, 80, 78, 71, 0, 255, 1, 2]);
    const id = await store.backtests.keep(keptOf(result, info, { by: 'ada', now: 1_700_000_000_000 }), chart);
    expect(id).toMatch(/^B[2-9A-HJ-NP-Z]{5}$/);

    const k = await store.backtests.get(id.toLowerCase());
    expect(k.id).toBe(id);
    expect(k.by).toBe('ada');
    expect(k.params).toEqual({ fast: 9, slow: 21 });
    expect(k.metrics).toEqual(result.metrics);
    expect(k.trades).toEqual(JSON.parse(JSON.stringify(result.simulation.trades)));
    expect(k.rules).toBe('plain');
    expect([...k.chart!]).toEqual([...chart]);
    // 3,000 bars thinned to every 3rd close (1,000 points), the last close kept.
    expect(k.equity.length).toBeLessThanOrEqual(EQUITY_POINTS + 1);
    expect(k.equity[0]).toEqual([result.candles.time[0]! + 7_200_000, result.simulation.equity[0]]);
    expect(k.equity.at(-1)).toEqual([result.metrics.endTime, result.simulation.equity[2999]]);
  });

  it('are listed newest first, per instance, and an unknown id names the latest', async () => {
    const place = await fresh();
    const store = await place.open();
    const other = await place.open('paper', 'second');
    const { result, info } = await sampleResult(500);
    const ids: string[] = [];
    for (const now of [1000, 3000, 2000])
      ids.push(await store.backtests.keep(keptOf(result, info, { by: 'cli', now })));
    await other.backtests.keep(keptOf(result, info, { by: 'cli', now: 9000 }));

    const list = await store.backtests.list();
    expect(list.map((b) => b.id)).toEqual([ids[1], ids[2], ids[0]]);
    expect(list[0]).toMatchObject({
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '2h',
      rules: 'plain',
      totalReturn: result.metrics.totalReturn,
      trades: result.metrics.trades,
    });
    expect(await store.backtests.count()).toBe(3);
    expect(await other.backtests.count()).toBe(1);
    await expect(store.backtests.get('BZZZZZ')).rejects.toThrow(
      `no kept backtest BZZZZZ; the latest: ${[ids[1], ids[2], ids[0]].join(', ')}`,
    );
  });

  it('are kept by a process that holds no book (the CLI), beside a running store', async () => {
    const place = await fresh();
    const store = await place.open();
    const { result, info } = await sampleResult(500);
    const cli = await openArchive({ dataDir: place.dir, url: place.url, instance: 'main' });
    try {
      const id = await cli.archive.keep(keptOf(result, info, { by: 'cli' }));
      expect((await store.backtests.get(id)).by).toBe('cli');
    } finally {
      await cli.close();
    }
  });
});
