/**
 * Charts that inform at phone size: every strategy says how each of its lines is drawn, no two series
 * of one chart share a colour, equity against buy-and-hold turns logarithmic when they end far apart,
 * the heatmap prints its values, and a 1280-pixel image is laid out at half that, so its text is
 * twice the size a 1:1 layout would give.
 */
import { describe, expect, it } from 'vitest';
import { informativeSeries, runBacktest } from '../../src/backtest/run.js';
import {
  backtestChart,
  MAX_INDICATOR_PANELS,
  plotGroups,
  wantsLogScale,
} from '../../src/charts/backtest-chart.js';
import type { HeatmapGrid } from '../../src/backtest/sweep-report.js';
import { sweepHeatmap } from '../../src/charts/heatmap-chart.js';
import { marketChart, parseIndicators } from '../../src/charts/market-chart.js';
import { performanceChart } from '../../src/charts/performance-chart.js';
import { createRenderer } from '../../src/charts/render/index.js';
import type { ChartDocument, Dataset } from '../../src/charts/types.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { timeframeMs } from '../../src/market/timeframe.js';
import { type Candles, sliceCandles } from '../../src/market/types.js';
import type { Strategy } from '../../src/strategy/define.js';
import { parseParams } from '../../src/strategy/params.js';
import { loadAllStrategies, loadStrategy } from '../../src/strategy/registry.js';
import { SAMPLES } from '../helpers/fixtures.js';
import { pngSize } from '../helpers/png.js';

const MINUTE = 60_000;
const TWO_HOURS = 7_200_000;
const twoHour = sliceCandles(loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`), 0, 3000);
const minutes = loadCandlesFile(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`);

function dataFor(strategy: Strategy): Candles {
  const tfMs = timeframeMs(strategy.timeframes.main);
  if (tfMs >= TWO_HOURS) return twoHour;
  return tfMs === MINUTE ? minutes : closedOnly(resample(minutes, MINUTE, tfMs));
}

/** Each strategy with every preset (or type) it has, so each variant's lines are checked. */
function variants(strategy: Strategy): Array<Record<string, unknown>> {
  const shape = (strategy.params as unknown as { shape?: Record<string, { options?: unknown[] }> }).shape;
  const out: Array<Record<string, unknown>> = [{}];
  for (const key of ['preset', 'type']) {
    const options = shape?.[key]?.options;
    if (Array.isArray(options)) for (const o of options) out.push({ [key]: o });
  }
  return out;
}

/** Every line (or point) series of a chart with a colour of its own, by the colour it is drawn in. */
function seriesColours(doc: ChartDocument): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const panel of doc.panels)
    for (const d of panel.config.data.datasets as Dataset[]) {
      if (typeof d.borderColor !== 'string' || (d.type !== 'line' && d.type !== 'scatter')) continue;
      // Guide levels and band edges ride with their series; box outlines share the box's legend entry.
      const name = d.label || (d.data as Array<{ label?: string }>)[1]?.label;
      if (name) out.push([name, d.borderColor]);
    }
  return out;
}

function expectDistinctColours(doc: ChartDocument): void {
  const byColour = new Map<string, Set<string>>();
  for (const [name, colour] of seriesColours(doc)) {
    const names = byColour.get(colour) ?? new Set<string>();
    names.add(name.replace(/ \d[\d,.]*$/, '')); // "run 1 stop 108,000" and its kind share a colour
    byColour.set(colour, names);
  }
  const shared = [...byColour].filter(([, names]) => names.size > 1).map(([c, n]) => `${c}: ${[...n]}`);
  expect(shared).toEqual([]);
}

describe('strategy plot declarations', () => {
  it('every strategy declares how each line it returns is drawn, in at most one indicator panel', async () => {
    const strategies = await loadAllStrategies();
    expect(strategies.length).toBeGreaterThanOrEqual(8);
    for (const strategy of strategies) {
      for (const raw of variants(strategy)) {
        const params = parseParams(strategy, raw);
        const c = sliceCandles(dataFor(strategy), 0, 4000);
        const tfMs = c.time[1]! - c.time[0]!;
        const s = strategy.signals(c, params, {
          timeframeMs: tfMs,
          informative: informativeSeries(strategy, c, tfMs),
        });
        const plot = strategy.plot?.(params) ?? {};
        const where = `${strategy.name} ${JSON.stringify(raw)}`;
        expect(
          Object.keys(s.indicators).filter((k) => !(k in plot)),
          where,
        ).toEqual([]);
        const panels = new Set(
          Object.values(plot).flatMap((how) =>
            typeof how === 'object' && 'panel' in how ? [how.panel] : [],
          ),
        );
        expect(panels.size, where).toBeLessThanOrEqual(MAX_INDICATOR_PANELS);
      }
    }
  });

  it('draws ict-confluence scores on a 0 to 6 scale with the entry threshold, and no timestamps', async () => {
    const ict = await loadStrategy('ict-confluence');
    const result = runBacktest(ict, { preset: 'conservative' }, closedOnly(resample(minutes, MINUTE, '15m')));
    const doc = backtestChart({ result });
    const labels = doc.panels.flatMap((p) => p.config.data.datasets.map((d) => d.label));
    expect(labels).not.toContain('biasCandle');
    expect(labels).not.toContain('zoneCandle');
    const scores = doc.panels[1]!.config;
    // Named as the strategy labels them, not by their field names.
    expect(scores.data.datasets.map((d) => d.label)).toEqual(['Long score of 6', 'Short score of 6', '']);
    expect((scores.options.scales as { y: object }).y).toMatchObject({ min: 0, max: 6 });
    expect((scores.data.datasets[2]!.data as Array<{ y: number }>)[0]!.y).toBe(4); // conservative: 4 of 6
    expectDistinctColours(doc);
  });

  it('draws ma-accumulation MAs on the price and leaves out lines with no value', async () => {
    const ma = await loadStrategy('ma-accumulation');
    const result = runBacktest(ma, { preset: 'aggressive' }, minutes);
    const doc = backtestChart({ result });
    // price, equity, drawdown: no indicator panel
    expect(doc.panels).toHaveLength(3);
    const onPrice = doc.panels[0]!.config.data.datasets.map((d) => d.label);
    expect(onPrice).toEqual(expect.arrayContaining(['MA44 37m', 'MA125 37m', 'MA44 148m', 'MA125 148m']));
    expect(onPrice.filter((l) => /close|1d/.test(l))).toEqual([]);
    expectDistinctColours(doc);
    // Undeclared and all-NaN lines: a line with no value is never drawn, wherever it was declared.
    const groups = plotGroups(
      { empty: new Float64Array(3).fill(Number.NaN), osc: Float64Array.of(30, 70, 50) },
      { empty: 'price' },
      Float64Array.of(60_000, 61_000, 60_500),
    );
    expect(groups.overlays).toEqual([]);
    expect(groups.panels.map((g) => g.name)).toEqual(['osc']);
  });

  it('gives every series of every strategy chart its own colour', async () => {
    for (const strategy of await loadAllStrategies()) {
      const params = strategy.name === 'ma-accumulation' ? { preset: 'aggressive' } : {};
      expectDistinctColours(backtestChart({ result: runBacktest(strategy, params, dataFor(strategy)) }));
    }
  });
});

describe('colours, scales and labels', () => {
  it('gives each market chart series its own colour, SMC included (EMA 20 and VWAP were both orange)', () => {
    for (const theme of ['dark', 'light'] as const) {
      const doc = marketChart(
        {
          symbol: 'BTC/USDT',
          timeframe: '2h',
          candles: twoHour,
          indicators: parseIndicators('ema20,ema50,sma200,bb,vwap,rsi,macd,smc'),
          positions: [{ side: 'long', entry: 110_000, stop: 108_000, targets: [115_000] }],
        },
        { theme },
      );
      expectDistinctColours(doc);
      expect(seriesColours(doc).length).toBeGreaterThanOrEqual(12);
    }
  });

  it('switches equity against buy-and-hold to a log scale, said in the legend, past 10x apart', async () => {
    expect(wantsLogScale(Float64Array.of(100, 2000), Float64Array.of(100, 150))).toBe(true);
    expect(wantsLogScale(Float64Array.of(100, 90), Float64Array.of(100, 1200))).toBe(true);
    expect(wantsLogScale(Float64Array.of(100, 900), Float64Array.of(100, 100))).toBe(false);
    // Zero or negative equity cannot be drawn on a log scale.
    expect(wantsLogScale(Float64Array.of(100, 0, 5000), Float64Array.of(100, 100, 100))).toBe(false);

    // The whole 2h sample from 2017: buy-and-hold ends about 25x up; an RSI that never falls to 1
    // never trades, so equity stays flat.
    const rsiReversion = await loadStrategy('rsi-reversion');
    const flat = runBacktest(
      rsiReversion,
      { oversold: 1 },
      loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`),
    );
    expect(flat.simulation.trades).toHaveLength(0);
    const doc = backtestChart({ result: flat });
    const equityPanel = doc.panels.at(-2)!.config;
    const hold = flat.candles.close.at(-1)! / flat.candles.close[0]!;
    const ratio = flat.simulation.equity.at(-1)! / flat.capital / hold;
    const log = ratio > 10 || ratio < 0.1;
    expect(log).toBe(true);
    expect((equityPanel.options.scales as { y: { type?: string } }).y.type).toBe('logarithmic');
    expect(equityPanel.data.datasets.map((d) => d.label)).toEqual([
      'Equity (log scale)',
      'Buy & hold (log scale)',
    ]);
  });

  it('prints each heatmap cell its value on a stepped colour scale', () => {
    const values = [1.2, -0.4, 0.3, 2.5];
    const grid: HeatmapGrid = {
      x: { name: 'fast', values: ['5', '10'] },
      y: { name: 'slow', values: ['20', '30'] },
      folded: [],
      cells: values.map((value, k) => ({
        x: k % 2,
        y: Math.floor(k / 2),
        value,
        params: { fast: ['5', '10'][k % 2]!, slow: ['20', '30'][Math.floor(k / 2)]! },
      })),
      metric: 'sharpe',
      better: 'higher',
    };
    const doc = sweepHeatmap({ grid, title: 'Sharpe' });
    const bands = doc.panels[0]!.config.data.datasets.filter((d) => / to /.test(d.label));
    const printed = bands.flatMap((d) => {
      const dl = d.datalabels as { display: boolean; formatter: (v: { text: string }) => string };
      expect(dl.display).toBe(true);
      const formatter = new Function(`return (${dl.formatter.toString()})`)() as typeof dl.formatter;
      return (d.data as Array<{ text: string }>).map((pt) => formatter(pt));
    });
    expect(printed.sort()).toEqual(['-0.40', '0.30', '1.20', '2.50']);
    // Each band a visibly different colour.
    const colours = bands.map((d) => d.backgroundColor);
    expect(new Set(colours).size).toBe(colours.length);
  });
});

describe('phone-size layout', () => {
  it('keeps the time labels inside every panel, so stacked plots share one width (a long first date widened one)', () => {
    const D = 86_400_000;
    const days = [0, 1, 2].map((k) => ({
      time: Date.UTC(2023, 2, 1) + k * D,
      pnl: 10 - k,
      equity: 10_000 + k,
    }));
    const doc = performanceChart(days, 'Report');
    for (const panel of doc.panels) {
      const x = (panel.config.options.scales as { x: { ticks: { align: string } } }).x;
      expect(x.ticks.align).toBe('inner');
    }
  });

  it('lays a 1280x720 chart out at 640x360 and draws it at twice that, whatever the renderer', async () => {
    const doc = performanceChart(
      [
        { time: 0, pnl: 10, equity: 10_010 },
        { time: 86_400_000, pnl: -5, equity: 10_005 },
      ],
      'Report',
    );
    expect(doc.pixelRatio).toBe(2);
    const png = await (await createRenderer({ renderer: 'local' })).render(doc);
    expect(pngSize(png)).toEqual({ width: 1280, height: 720 });
    const small = marketChart({ symbol: 'BTC/USDT', timeframe: '2h', candles: twoHour }, { width: 600 });
    expect(small.pixelRatio).toBe(1);
  });
});
