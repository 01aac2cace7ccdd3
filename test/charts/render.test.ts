import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { backtestChart } from '../../src/charts/backtest-chart.js';
import { marketChart, parseIndicators } from '../../src/charts/market-chart.js';
import { createRenderer } from '../../src/charts/render/index.js';
import { panelHeights } from '../../src/charts/render/renderer.js';
import { palette } from '../../src/charts/theme.js';
import { AppError } from '../../src/errors.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { sliceCandles } from '../../src/market/types.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { QuickChartStub } from '../emulators/quickchart/server.js';
import { SAMPLES } from '../helpers/fixtures.js';
import { pixelStats, pngSize } from '../helpers/png.js';

const candles = sliceCandles(loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`), 30_000, 32_000);

describe('local renderer', async () => {
  const renderer = await createRenderer({ renderer: 'local' });
  const result = runBacktest(await loadStrategy('ema-cross'), {}, candles);

  it.each(['dark', 'light'] as const)(
    'draws a %s backtest chart: a valid PNG of the requested size, not blank',
    async (theme) => {
      const doc = backtestChart({ result, symbol: 'BTC/USDT' }, { theme, width: 1280, height: 720 });
      const png = await renderer.render(doc);
      expect(pngSize(png)).toEqual({ width: 1280, height: 720 });
      const stats = await pixelStats(png, palette(theme).background);
      // The corner is the theme's background; a good share of the image is drawn on; many colours (antialiased lines, text).
      expect(stats.at(2, 715)).toBe(palette(theme).background);
      expect(stats.share).toBeGreaterThan(0.03);
      expect(stats.colours).toBeGreaterThan(200);
    },
  );

  it('honours other sizes and stacks panels to the full height', async () => {
    const doc = marketChart(
      { symbol: 'BTC/USDT', timeframe: '2h', candles, bars: 80, indicators: parseIndicators('ema20,rsi') },
      { width: 800, height: 1000 },
    );
    expect(panelHeights(doc).reduce((a, b) => a + b, 0)).toBe(1000);
    const png = await renderer.render(doc);
    expect(pngSize(png)).toEqual({ width: 800, height: 1000 });
    expect((await pixelStats(png, doc.background)).share).toBeGreaterThan(0.03);
  });
});

describe('QuickChart renderer against the local stub', () => {
  const stub = new QuickChartStub();
  beforeAll(() => stub.start());
  afterAll(() => stub.stop());

  it('posts each panel as a Chart.js v4 config and stacks the returned images into one PNG', async () => {
    const renderer = await createRenderer({ renderer: 'quickchart', quickchartUrl: stub.url });
    const result = runBacktest(await loadStrategy('ema-cross'), {}, candles);
    const doc = backtestChart({ result, symbol: 'BTC/USDT' });
    const png = await renderer.render(doc);
    expect(pngSize(png)).toEqual({ width: 1280, height: 720 });
    const posted = stub.requests.slice(-doc.panels.length);
    // Each panel is laid out at the layout size and drawn at the document's pixel ratio (2 at 1280).
    expect(doc.pixelRatio).toBe(2);
    expect(posted.map((r) => r.height)).toEqual(panelHeights(doc).map((h) => Math.round(h / 2)));
    expect(
      posted.every(
        (r) =>
          r.version === '4' &&
          r.width === 640 &&
          r.devicePixelRatio === 2 &&
          r.backgroundColor === doc.background,
      ),
    ).toBe(true);
    const labels = posted.map((r) =>
      (r.config.data as { datasets: Array<{ label: string }> }).datasets.map((d) => d.label),
    );
    expect(labels[0]).toEqual(expect.arrayContaining(['Close', 'Long entry', 'Exit']));
    expect(labels.at(-1)).toEqual(['Drawdown']);
    // The date formatter arrived as a working function.
    const tick = (
      posted.at(-1)!.config.options as { scales: { x: { ticks: { callback: (v: number) => string } } } }
    ).scales.x.ticks.callback;
    expect(tick(Date.UTC(2024, 0, 15))).toMatch(/2024|Jan/);
    const x = (
      posted.at(-1)!.config.options as {
        scales: { x: { min: number; max: number; afterBuildTicks: (s: object) => void } };
      }
    ).scales.x;
    const scale = { min: x.min, max: x.max, ticks: [] as Array<{ value: number }> };
    x.afterBuildTicks(scale);
    expect(scale.ticks.length).toBeGreaterThan(3);
    expect((await pixelStats(png, doc.background)).share).toBeGreaterThan(0);
  });

  it('turns a QuickChart failure into one NETWORK line', async () => {
    const renderer = await createRenderer({ renderer: 'quickchart', quickchartUrl: stub.url });
    stub.failNext(10);
    const doc = marketChart({ symbol: 'BTC/USDT', timeframe: '2h', candles, bars: 50 });
    const err = await renderer.render(doc).catch((e: unknown) => e);
    stub.failNext(0);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('NETWORK');
    expect((err as AppError).message).toMatch(
      /^QuickChart at http:\/\/127\.0\.0\.1:\d+ could not draw the chart: Chart creation failed with status code 500/,
    );
  });
});
