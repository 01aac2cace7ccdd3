/**
 * The backtest chart: price (candlesticks when few enough bars to read, else the close line) with the
 * strategy's overlays and every trade's entries and exits; the strategy's other indicators in their
 * own panel; equity against buy-and-hold; drawdown as an area. Title: strategy, symbol, timeframe,
 * period; subtitle: the key metrics.
 */
import type { BacktestResult } from '../backtest/run.js';
import type { Trade } from '../backtest/types.js';
import type { Candles } from '../market/types.js';
import { percentTicks, Y_AXIS_WIDTH } from './axes.js';
import { CANDLE_LIMIT, lineDataset, panel, priceDataset, pricePanel } from './datasets.js';
import { pointsAt, reduceIndices } from './reduce.js';
import { type Palette, palette } from './theme.js';
import {
  type ChartDocument,
  type ChartPanel,
  type ChartStyle,
  type Dataset,
  DEFAULT_STYLE,
} from './types.js';

export type MarkerKind = 'long-entry' | 'short-entry' | 'exit' | 'stop-exit' | 'target-exit';

export interface Marker {
  kind: MarkerKind;
  time: number;
  price: number;
}

const MARKER_LABELS: Record<MarkerKind, string> = {
  'long-entry': 'Long entry',
  'short-entry': 'Short entry',
  exit: 'Exit',
  'stop-exit': 'Stop-loss exit',
  'target-exit': 'Take-profit exit',
};

/** Every entry and exit fill of every trade, as markers (none is ever dropped by reduction). */
export function tradeMarkers(trades: readonly Trade[]): Marker[] {
  const out: Marker[] = [];
  for (const t of trades) {
    out.push({
      kind: t.side === 'long' ? 'long-entry' : 'short-entry',
      time: t.entryTime,
      price: t.entryPrice,
    });
    for (const f of t.exits) {
      const kind: MarkerKind =
        f.reason === 'stop' || f.reason === 'trailing-stop'
          ? 'stop-exit'
          : f.reason === 'take-profit'
            ? 'target-exit'
            : 'exit';
      out.push({ kind, time: f.time, price: f.price });
    }
  }
  return out;
}

/**
 * Marker size for how crowded the plot is: full size up to one marker per 5 pixels, shrinking to 35%
 * when there are more markers than pixels, so dense backtests still show the price under them.
 */
export function markerScale(markers: number, plotWidth: number): number {
  const density = markers / plotWidth;
  return Math.max(0.35, Math.min(1, 1.1 - density * 0.75));
}

function markerDataset(kind: MarkerKind, markers: readonly Marker[], p: Palette, scale: number): Dataset {
  const r = (px: number) => Math.round(px * scale * 10) / 10;
  const style: Record<MarkerKind, Record<string, unknown>> = {
    'long-entry': {
      pointStyle: 'triangle',
      rotation: 0,
      backgroundColor: p.longEntry,
      borderColor: p.longEntry,
      pointRadius: r(7),
    },
    'short-entry': {
      pointStyle: 'triangle',
      rotation: 180,
      backgroundColor: p.shortEntry,
      borderColor: p.shortEntry,
      pointRadius: r(7),
    },
    exit: { pointStyle: 'rectRot', backgroundColor: p.exit, borderColor: p.exit, pointRadius: r(5) },
    'stop-exit': {
      pointStyle: 'crossRot',
      backgroundColor: p.stopExit,
      borderColor: p.stopExit,
      pointRadius: r(7),
      borderWidth: 2.5 * scale,
    },
    'target-exit': {
      pointStyle: 'star',
      backgroundColor: p.targetExit,
      borderColor: p.targetExit,
      pointRadius: r(8),
      borderWidth: 2 * scale,
    },
  };
  return {
    type: 'scatter',
    label: MARKER_LABELS[kind],
    data: markers.filter((m) => m.kind === kind).map((m) => ({ x: m.time, y: m.price })),
    showLine: false,
    order: 0,
    ...style[kind],
  };
}

/** An indicator belongs on the price panel when its values live on the price's scale. */
export function isPriceOverlay(values: Float64Array, close: Float64Array): boolean {
  const ratios: number[] = [];
  const step = Math.max(1, Math.floor(values.length / 200));
  for (let i = 0; i < values.length; i += step) {
    const v = values[i]!;
    if (!Number.isNaN(v) && close[i]! > 0) ratios.push(v / close[i]!);
  }
  if (ratios.length === 0) return false;
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  return median > 0.5 && median < 2;
}

function formatPct(v: number): string {
  return `${v >= 0 ? '+' : ''}${(v * 100).toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 })}%`;
}

function dateIn(ms: number, timezone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(ms));
}

export interface BacktestChartInput {
  result: BacktestResult;
  symbol?: string;
}

export function backtestChart(input: BacktestChartInput, style: ChartStyle = {}): ChartDocument {
  const { result, symbol } = input;
  const { width, height, theme, timezone } = { ...DEFAULT_STYLE, ...style };
  const p = palette(theme);
  const c: Candles = result.candles;
  const n = c.length;
  const m = result.metrics;
  const from = c.time[0]!;
  const to = m.endTime;

  // Series to draw: equity, buy-and-hold, drawdown (in %), overlays and other indicators.
  const equity = result.simulation.equity;
  const hold = new Float64Array(n);
  const drawdown = new Float64Array(n);
  let peak = result.capital;
  for (let i = 0; i < n; i++) {
    hold[i] = (result.capital * c.close[i]!) / c.close[0]!;
    if (equity[i]! > peak) peak = equity[i]!;
    drawdown[i] = (equity[i]! / peak - 1) * 100;
  }
  const overlays: Array<[string, Float64Array]> = [];
  const oscillators: Array<[string, Float64Array]> = [];
  for (const [name, values] of Object.entries(result.signals.indicators)) {
    // At most four lines in the indicator panel: more would not be readable.
    if (isPriceOverlay(values, c.close)) overlays.push([name, values]);
    else if (oscillators.length < 4) oscillators.push([name, values]);
  }

  const plotWidth = width - Y_AXIS_WIDTH - 40;
  const candles = n <= CANDLE_LIMIT;
  const idx = reduceIndices(
    [c.close, equity, hold, drawdown, ...overlays.map(([, v]) => v), ...oscillators.map(([, v]) => v)],
    n,
    plotWidth,
  );
  const markers = tradeMarkers(result.simulation.trades);

  // Price panel.
  const priceSets: Dataset[] = [priceDataset(c, candles ? 'Price' : 'Close', p, idx)];
  overlays.forEach(([name, values], k) => {
    priceSets.push(
      lineDataset(name, pointsAt(c.time, values, idx), p.overlays[k % p.overlays.length]!, {
        borderWidth: 1.3,
        order: 1,
      }),
    );
  });
  const scale = markerScale(markers.length, plotWidth);
  for (const kind of Object.keys(MARKER_LABELS) as MarkerKind[]) {
    const ds = markerDataset(kind, markers, p, scale);
    if (ds.data.length > 0) priceSets.push(ds);
  }

  const title = [
    result.strategy,
    symbol,
    result.timeframe,
    `${dateIn(from, timezone)} → ${dateIn(to, timezone)}`,
  ]
    .filter(Boolean)
    .join(' · ');
  const subtitle = [
    `Return ${formatPct(m.totalReturn)}`,
    `Max DD ${formatPct(-m.maxDrawdown)}`,
    `Win rate ${(m.winRate * 100).toFixed(1)}%`,
    `Trades ${m.trades.toLocaleString('en-US')}`,
    `Sharpe ${m.sharpe.toFixed(2)}`,
    `Buy & hold ${formatPct(m.buyAndHoldReturn)}`,
  ].join('   ·   ');

  const panels: ChartPanel[] = [];
  const hasOscillators = oscillators.length > 0;
  panels.push(
    pricePanel(p, {
      weight: hasOscillators ? 0.5 : 0.56,
      datasets: priceSets,
      candles,
      title,
      subtitle,
      from,
      to,
      timezone,
    }),
  );

  const axis = { from, to, timezone };
  if (hasOscillators) {
    panels.push(
      panel(p, {
        ...axis,
        weight: 0.14,
        showDates: false,
        datasets: oscillators.map(([name, values], k) =>
          lineDataset(name, pointsAt(c.time, values, idx), p.overlays[k % p.overlays.length]!),
        ),
      }),
    );
  }
  panels.push(
    panel(p, {
      ...axis,
      weight: hasOscillators ? 0.2 : 0.24,
      showDates: false,
      datasets: [
        lineDataset('Equity', pointsAt(c.time, equity, idx), p.equity, { borderWidth: 2 }),
        lineDataset('Buy & hold', pointsAt(c.time, hold, idx), p.benchmark, { borderDash: [6, 4] }),
      ],
    }),
  );
  panels.push(
    panel(p, {
      ...axis,
      weight: hasOscillators ? 0.16 : 0.2,
      showDates: true,
      datasets: [
        lineDataset('Drawdown', pointsAt(c.time, drawdown, idx), p.drawdown, {
          fill: 'origin',
          backgroundColor: p.drawdownFill,
          borderWidth: 1,
        }),
      ],
      y: { max: 0, ticks: { callback: percentTicks } },
    }),
  );
  return { width, height, theme, background: p.background, panels };
}
