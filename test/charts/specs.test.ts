import { describe, expect, it } from 'vitest';
import { calendarTicks, dateTickFormatter, timeStep } from '../../src/charts/axes.js';
import { CANDLE_LIMIT } from '../../src/charts/datasets.js';
import { backtestChart, isPriceOverlay, markerScale, tradeMarkers } from '../../src/charts/backtest-chart.js';
import { marketChart, parseIndicators } from '../../src/charts/market-chart.js';
import { performanceChart } from '../../src/charts/performance-chart.js';
import type { Dataset } from '../../src/charts/types.js';
import { runBacktest } from '../../src/backtest/run.js';
import { AppError } from '../../src/errors.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { sliceCandles } from '../../src/market/types.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { bars, flat, HOUR, T0 } from '../helpers/candles.js';
import { SAMPLES } from '../helpers/fixtures.js';

const byLabel = (datasets: Dataset[], label: string) => datasets.find((d) => d.label === label);
const twoHour = loadCandlesFile(`${SAMPLES}binance_BTC-USDT_2h.csv`);

describe('backtest chart spec', async () => {
  const bbBreakout = await loadStrategy('bb-breakout');
  const emaCross = await loadStrategy('ema-cross');

  it('puts a marker at the time and price of every entry and exit fill, by kind', () => {
    // Hand-made: a long that takes profit at +5% on bar 2, then a long stopped at -2% on bar 5.
    const c = bars([
      flat(100),
      flat(100),
      [100, 106, 99, 105],
      flat(105),
      flat(100),
      [100, 100, 97, 98],
      flat(98),
    ]);
    const strategy = {
      ...emaCross,
      warmup: () => 1,
      signals: (cs: typeof c) => {
        const s = {
          enterLong: new Uint8Array(cs.length),
          exitLong: new Uint8Array(cs.length),
          enterShort: new Uint8Array(cs.length),
          exitShort: new Uint8Array(cs.length),
          indicators: {},
        };
        s.enterLong[0] = 1;
        s.enterLong[3] = 1;
        return s;
      },
    };
    const result = runBacktest(strategy, {}, c, {
      fee: 0,
      exits: { takeProfit: [{ at: 0.05, close: 1 }], stopLoss: 0.02 },
    });
    const markers = tradeMarkers(result.simulation.trades);
    expect(markers).toEqual([
      { kind: 'long-entry', time: T0 + HOUR, price: 100 },
      { kind: 'target-exit', time: T0 + 2 * HOUR, price: 105 },
      { kind: 'long-entry', time: T0 + 4 * HOUR, price: 100 },
      { kind: 'stop-exit', time: T0 + 5 * HOUR, price: 98 },
    ]);
    const doc = backtestChart({ result, symbol: 'TEST/USDT' });
    const price = doc.panels[0]!.config;
    expect(price.type).toBe('candlestick');
    expect(byLabel(price.data.datasets, 'Long entry')!.data).toEqual([
      { x: T0 + HOUR, y: 100 },
      { x: T0 + 4 * HOUR, y: 100 },
    ]);
    expect(byLabel(price.data.datasets, 'Take-profit exit')!.data).toEqual([{ x: T0 + 2 * HOUR, y: 105 }]);
    expect(byLabel(price.data.datasets, 'Stop-loss exit')!.data).toEqual([{ x: T0 + 5 * HOUR, y: 98 }]);
    // Kinds that did not happen are left out of the legend.
    expect(byLabel(price.data.datasets, 'Short entry')).toBeUndefined();
  });

  it('gives each marker kind its own shape or colour', () => {
    const c = sliceCandles(twoHour, 0, 3000);
    const r = runBacktest(emaCross, {}, c, {
      direction: 'both',
      exits: { stopLoss: 0.03, takeProfit: [{ at: 0.04, close: 1 }] },
    });
    const sets = backtestChart({ result: r }).panels[0]!.config.data.datasets.filter(
      (d) => d.type === 'scatter',
    );
    expect(sets.map((d) => d.label).sort()).toEqual([
      'Exit',
      'Long entry',
      'Short entry',
      'Stop-loss exit',
      'Take-profit exit',
    ]);
    const looks = sets.map((d) => `${d.pointStyle}/${d.rotation ?? 0}/${d.backgroundColor}`);
    expect(new Set(looks).size).toBe(5);
  });

  it('draws candlesticks for few bars and a reduced close line for many, never dropping a marker', () => {
    const few = runBacktest(bbBreakout, {}, sliceCandles(twoHour, 0, CANDLE_LIMIT));
    expect(backtestChart({ result: few }).panels[0]!.config.type).toBe('candlestick');

    const many = runBacktest(emaCross, {}, twoHour);
    const doc = backtestChart({ result: many, symbol: 'BTC/USDT' });
    const price = doc.panels[0]!.config;
    expect(price.type).toBe('line');
    const close = byLabel(price.data.datasets, 'Close')!.data as Array<{ x: number; y: number }>;
    expect(close.length).toBeLessThan(twoHour.length / 4);
    // At most a handful of points per pixel column (first, last, and each drawn series' min and max).
    expect(close.length).toBeLessThanOrEqual(6 * 1280);
    // The extremes of the close survive reduction.
    const max = Math.max(...twoHour.close);
    expect(close.some((pt) => pt.y === max)).toBe(true);
    const markers = price.data.datasets
      .filter((d) => d.type === 'scatter')
      .reduce((n, d) => n + d.data.length, 0);
    const fills = many.simulation.trades.reduce((n, t) => n + 1 + t.exits.length, 0);
    expect(markers).toBe(fills);
    // Every panel covers the same time span, so they line up.
    const spans = doc.panels.map((pnl) => {
      const x = (pnl.config.options.scales as { x: { min: number; max: number } }).x;
      return [x.min, x.max];
    });
    expect(new Set(spans.map((s) => s.join('-'))).size).toBe(1);
  });

  it('titles the chart with strategy, symbol, timeframe and period, and the key metrics', () => {
    const r = runBacktest(emaCross, {}, twoHour);
    const plugins = backtestChart({ result: r, symbol: 'BTC/USDT' }).panels[0]!.config.options
      .plugins as Record<string, { text: string }>;
    expect(plugins.title!.text).toBe('ema-cross · BTC/USDT · 2h · 2017-08-17 → 2025-08-26');
    expect(plugins.subtitle!.text).toMatch(
      /^Return \+2,656\.1% .* Max DD -61\.7% .* Win 29\.6% .* Trades 557 .* Sharpe 1\.10/,
    );
  });

  it('shows equity against buy-and-hold, and the drawdown as an area at or below zero', () => {
    const r = runBacktest(emaCross, {}, sliceCandles(twoHour, 0, 2000));
    const doc = backtestChart({ result: r });
    const equityPanel = doc.panels.at(-2)!.config;
    const hold = byLabel(equityPanel.data.datasets, 'Buy & hold')!.data as Array<{ x: number; y: number }>;
    expect(hold[0]!.y).toBe(10_000);
    const dd = doc.panels.at(-1)!.config.data.datasets[0]!;
    expect(dd.fill).toBe('origin');
    expect((dd.data as Array<{ y: number }>).every((pt) => pt.y <= 0)).toBe(true);
    expect(Math.min(...(dd.data as Array<{ y: number }>).map((pt) => pt.y))).toBeCloseTo(
      -r.metrics.maxDrawdown * 100,
      6,
    );
  });

  it('puts price-scale indicators on the price and the others in their own panel', async () => {
    expect(isPriceOverlay(Float64Array.of(100, 101, 99), Float64Array.of(100, 100, 100))).toBe(true);
    expect(isPriceOverlay(Float64Array.of(30, 70, 50), Float64Array.of(60_000, 61_000, 60_500))).toBe(false);
    const rsiReversion = await loadStrategy('rsi-reversion');
    const doc = backtestChart({ result: runBacktest(rsiReversion, {}, sliceCandles(twoHour, 0, 3000)) });
    expect(doc.panels).toHaveLength(4);
    // RSI in its own panel on 0 to 100, with the strategy's oversold and overbought levels as guides.
    const rsiPanel = doc.panels[1]!.config;
    expect(rsiPanel.data.datasets.map((d) => d.label)).toEqual(['RSI 14', '', '']);
    expect(rsiPanel.data.datasets.slice(1).map((d) => (d.data as Array<{ y: number }>)[0]!.y)).toEqual([
      30, 70,
    ]);
    expect((rsiPanel.options.scales as { y: { min: number; max: number } }).y).toMatchObject({
      min: 0,
      max: 100,
    });
  });

  it('sizes markers down as they crowd, within bounds', () => {
    expect(markerScale(10, 1000)).toBe(1);
    expect(markerScale(5000, 1000)).toBe(0.35);
    expect(markerScale(700, 1000)).toBeGreaterThan(0.35);
  });
});

describe('market chart spec', () => {
  it('parses indicator lists and refuses unknown ones in one line', () => {
    expect(parseIndicators('ema20, sma200,bb,rsi,macd vwap')).toEqual([
      { kind: 'ema', period: 20 },
      { kind: 'sma', period: 200 },
      { kind: 'bb', period: 20, stdDev: 2 },
      { kind: 'rsi', period: 14 },
      { kind: 'macd', fast: 12, slow: 26, signal: 9 },
      { kind: 'vwap' },
    ]);
    expect(() => parseIndicators('ichimoku')).toThrow(AppError);
    expect(() => parseIndicators('ichimoku')).toThrow(
      'unknown indicator "ichimoku"; allowed: ema<N>, sma<N>, bb or bb<N>, vwap, rsi or rsi<N>, macd, smc or smc<N> (e.g. ema20,bb,rsi,smc)',
    );
    expect(() => parseIndicators('ema')).toThrow(/needs a period, e\.g\. ema20/);
    expect(() => parseIndicators('rsi1')).toThrow(
      'indicator "rsi1": period 1 is out of range; allowed: 2 to 200',
    );
  });

  it('draws the last bars with volume, overlays, oscillator panels and position levels', () => {
    const doc = marketChart({
      symbol: 'BTC/USDT',
      timeframe: '2h',
      candles: twoHour,
      bars: 100,
      indicators: parseIndicators('ema20,bb,rsi,macd'),
      positions: [{ side: 'long', entry: 110_000, stop: 108_000, targets: [115_000], label: 'run 1' }],
    });
    expect(doc.panels.map((p) => p.config.data.datasets[0]!.label)).toEqual([
      'BTC/USDT',
      'RSI 14',
      'Histogram',
    ]);
    const price = doc.panels[0]!.config;
    const candles = price.data.datasets[0]!.data as Array<{ x: number; c: number }>;
    expect(candles).toHaveLength(100);
    expect(candles.at(-1)!.c).toBe(twoHour.close[twoHour.length - 1]);
    // EMA 20 is warm from the first bar drawn (computed over all the candles).
    const ema = byLabel(price.data.datasets, 'EMA 20')!.data as Array<{ y: number | null }>;
    expect(ema[0]!.y).not.toBeNull();
    const stop = byLabel(price.data.datasets, 'run 1 stop 108,000')!.data as Array<{ y: number }>;
    expect(stop.map((pt) => pt.y)).toEqual([108_000, 108_000]);
    expect(byLabel(price.data.datasets, 'run 1 target 1 115,000')).toBeDefined();
    // Only the bottom panel labels the dates.
    const showsDates = doc.panels.map(
      (p) => (p.config.options.scales as { x: { ticks: { display: boolean } } }).x.ticks.display,
    );
    expect(showsDates).toEqual([false, false, true]);
    // Volume: bars along the bottom of the price panel, on a hidden axis of their own.
    const volume = price.data.datasets.find((d) => d.yAxisID === 'volume')!;
    expect((volume.data as Array<{ y: number }>).map((d) => d.y)).toEqual(
      Array.from(twoHour.volume.subarray(twoHour.length - 100)),
    );
    const volumeAxis = (price.options.scales as Record<string, { display: boolean; max: number }>).volume!;
    expect(volumeAxis.display).toBe(false);
    expect(volumeAxis.max).toBe(5 * Math.max(...twoHour.volume.subarray(twoHour.length - 100)));
  });
});

describe('performance chart spec', () => {
  it('plots daily PnL bars coloured by sign and the equity line from the opening balance', () => {
    const D = 86_400_000;
    const days = [
      { time: 0, pnl: 100, equity: 10_100 },
      { time: D, pnl: -50, equity: 10_050 },
      { time: 2 * D, pnl: 25, equity: 10_075 },
    ];
    const doc = performanceChart(days, 'Report');
    const equity = doc.panels[0]!.config.data.datasets[0]!.data as Array<{ x: number; y: number }>;
    expect(equity[0]).toEqual({ x: 0, y: 10_000 });
    expect(equity.at(-1)).toEqual({ x: 3 * D, y: 10_075 });
    const pnl = doc.panels[1]!.config.data.datasets[0]!;
    expect((pnl.data as Array<{ y: number }>).map((d) => d.y)).toEqual([100, -50, 25]);
    const colours = pnl.backgroundColor as string[];
    expect(colours[0]).toBe(colours[2]);
    expect(colours[0]).not.toBe(colours[1]);
    const plugins = doc.panels[0]!.config.options.plugins as Record<string, { text: string }>;
    expect(plugins.subtitle!.text).toMatch(/^PnL \+75\.00 USDT \(\+0\.75%\) .* Winning days 2\/3/);
    expect(() => performanceChart([], 'x')).toThrow('no days to chart yet');
  });
});

describe('date axis', () => {
  it('labels ticks in the configured time zone, and the formatter survives being sent as source', () => {
    const f = dateTickFormatter('Asia/Tokyo', HOUR);
    expect(f(Date.UTC(2024, 0, 1, 0, 0))).toBe('1 Jan, 09:00');
    const revived = new Function(`return (${f.toString()})`)() as typeof f;
    expect(revived(Date.UTC(2024, 0, 1, 0, 0))).toBe('1 Jan, 09:00');
    expect(dateTickFormatter('UTC', 30 * 86_400_000)(Date.UTC(2024, 5, 15))).toBe('Jun 2024');
    expect(timeStep(8 * 86_400_000)).toBe(86_400_000);
  });

  it('places ticks on calendar boundaries of the time zone: months, local midnights across DST, whole hours', () => {
    const D = 86_400_000;
    const iso = (ts: number[]) => ts.map((t) => new Date(t).toISOString().slice(0, 16));
    expect(iso(calendarTicks('UTC', 30 * D)(Date.UTC(2025, 4, 1), Date.UTC(2025, 7, 26)))).toEqual([
      '2025-05-01T00:00',
      '2025-06-01T00:00',
      '2025-07-01T00:00',
      '2025-08-01T00:00',
    ]);
    // Tokyo's 1 June starts at 15:00 UTC on 31 May.
    expect(iso(calendarTicks('Asia/Tokyo', 30 * D)(Date.UTC(2025, 4, 1), Date.UTC(2025, 6, 2)))).toEqual([
      '2025-05-31T15:00',
      '2025-06-30T15:00',
    ]);
    // New York midnights move from 05:00 to 04:00 UTC when daylight saving starts (9 March 2025).
    expect(iso(calendarTicks('America/New_York', D)(Date.UTC(2025, 2, 8), Date.UTC(2025, 2, 11)))).toEqual([
      '2025-03-08T05:00',
      '2025-03-09T05:00',
      '2025-03-10T04:00',
    ]);
    // India is UTC+5:30: 4-hour ticks at local 08:00, 12:00, ...
    expect(
      iso(calendarTicks('Asia/Kolkata', 4 * 3_600_000)(Date.UTC(2025, 2, 5, 1), Date.UTC(2025, 2, 5, 11))),
    ).toEqual(['2025-03-05T02:30', '2025-03-05T06:30', '2025-03-05T10:30']);
  });
});
