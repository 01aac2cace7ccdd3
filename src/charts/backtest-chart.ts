/**
 * The backtest chart: price (candlesticks when few enough bars to read, else the close line) with the
 * strategy's overlays and every trade's entries and exits; the strategy's other indicators in their
 * own panel; equity against buy-and-hold; drawdown as an area. Title: strategy, symbol, timeframe,
 * period; subtitle: the key metrics.
 */
import type { BacktestResult } from '../backtest/run.js';
import { tooShortToAnnualise } from '../backtest/summary.js';
import type { Trade } from '../backtest/types.js';
import type { Candles } from '../market/types.js';
import type { LinePlot } from '../strategy/define.js';
import { LEFT_PADDING, percentTicks, Y_AXIS_WIDTH } from './axes.js';
import {
  barDataset,
  CANDLE_LIMIT,
  levelDataset,
  lineDataset,
  panel,
  priceDataset,
  pricePanel,
} from './datasets.js';
import { pointsAt, reduceIndices } from './reduce.js';
import { type Palette, palette, SeriesColours } from './theme.js';
import { type ChartDocument, type ChartPanel, type ChartStyle, type Dataset, chartLayout } from './types.js';

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
      pointRadius: r(5),
    },
    'short-entry': {
      pointStyle: 'triangle',
      rotation: 180,
      backgroundColor: p.shortEntry,
      borderColor: p.shortEntry,
      pointRadius: r(5),
    },
    exit: { pointStyle: 'rectRot', backgroundColor: p.exit, borderColor: p.exit, pointRadius: r(4) },
    'stop-exit': {
      pointStyle: 'crossRot',
      backgroundColor: p.stopExit,
      borderColor: p.stopExit,
      pointRadius: r(5),
      borderWidth: 2 * scale,
    },
    'target-exit': {
      pointStyle: 'star',
      backgroundColor: p.targetExit,
      borderColor: p.targetExit,
      pointRadius: r(6),
      borderWidth: 1.5 * scale,
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

/**
 * Most indicator panels under the price: with price, equity and drawdown, more would squeeze every
 * panel below legibility at phone size.
 */
export const MAX_INDICATOR_PANELS = 1;

export interface IndicatorPanel {
  name: string;
  /** The scale and guide levels: the first line's that sets each. */
  min?: number;
  max?: number;
  levels: number[];
  lines: Array<{ name: string; values: Float64Array; bars: boolean }>;
}

/**
 * The strategy's lines as drawn: price overlays and indicator panels, by the strategy's `plot`
 * declaration. A line it does not declare goes on the price when its values live on the price's
 * scale, else into a panel of its own. Hidden lines are left out, and panels past
 * `MAX_INDICATOR_PANELS` too (a test holds every strategy within it), and lines with no value at all
 * (a 1d MA that the data is too short to form).
 */
export function plotGroups(
  indicators: Readonly<Record<string, Float64Array>>,
  plot: Readonly<Record<string, LinePlot>>,
  close: Float64Array,
): { overlays: Array<[string, Float64Array]>; panels: IndicatorPanel[] } {
  const overlays: Array<[string, Float64Array]> = [];
  const panels = new Map<string, IndicatorPanel>();
  for (const [name, values] of Object.entries(indicators)) {
    const how: LinePlot = plot[name] ?? (isPriceOverlay(values, close) ? 'price' : { panel: name });
    if (how === 'hidden' || !values.some(Number.isFinite)) continue;
    if (how === 'price' || 'price' in how) {
      overlays.push([(typeof how === 'object' && how.label) || name, values]);
      continue;
    }
    const group = panels.get(how.panel) ?? { name: how.panel, levels: [], lines: [] };
    group.min ??= how.min;
    group.max ??= how.max;
    for (const level of how.levels ?? []) if (!group.levels.includes(level)) group.levels.push(level);
    group.lines.push({ name: how.label ?? name, values, bars: how.bars === true });
    panels.set(how.panel, group);
  }
  return { overlays, panels: [...panels.values()].slice(0, MAX_INDICATOR_PANELS) };
}

/** Equity against buy-and-hold switches to a log scale when one ends more than this many times the other. */
export const LOG_SCALE_RATIO = 10;

/** Whether equity and buy-and-hold are drawn on a log scale: far apart at the end, and all positive. */
export function wantsLogScale(equity: Float64Array, hold: Float64Array): boolean {
  const n = equity.length;
  if (n === 0) return false;
  const ratio = equity[n - 1]! / hold[n - 1]!;
  if (!(ratio > LOG_SCALE_RATIO || ratio < 1 / LOG_SCALE_RATIO)) return false;
  for (let i = 0; i < n; i++) if (!(equity[i]! > 0 && hold[i]! > 0)) return false;
  return true;
}

export interface BacktestChartInput {
  result: BacktestResult;
  symbol?: string;
}

export function backtestChart(input: BacktestChartInput, style: ChartStyle = {}): ChartDocument {
  const { result, symbol } = input;
  const { width, height, theme, timezone, pixelRatio, layoutWidth } = chartLayout(style);
  const p = palette(theme);
  const colours = new SeriesColours(p);
  const c: Candles = result.candles;
  const n = c.length;
  const m = result.metrics;
  const from = c.time[0]!;
  const to = m.endTime;

  // Series to draw: equity, buy-and-hold, drawdown (in %), overlays and indicator panels.
  const equity = result.simulation.equity;
  const hold = new Float64Array(n);
  const drawdown = new Float64Array(n);
  let peak = result.capital;
  for (let i = 0; i < n; i++) {
    hold[i] = (result.capital * c.close[i]!) / c.close[0]!;
    if (equity[i]! > peak) peak = equity[i]!;
    drawdown[i] = (equity[i]! / peak - 1) * 100;
  }
  const { overlays, panels: indicatorPanels } = plotGroups(result.signals.indicators, result.plot, c.close);

  const plotWidth = layoutWidth - Y_AXIS_WIDTH - LEFT_PADDING - 4;
  const candles = n <= CANDLE_LIMIT;
  const idx = reduceIndices(
    [
      c.close,
      equity,
      hold,
      drawdown,
      ...overlays.map(([, v]) => v),
      ...indicatorPanels.flatMap((g) => g.lines.map((l) => l.values)),
    ],
    n,
    Math.round(plotWidth * pixelRatio),
  );
  const markers = tradeMarkers(result.simulation.trades);

  // Price panel.
  const priceSets: Dataset[] = [priceDataset(c, candles ? 'Price' : 'Close', p, idx)];
  for (const [name, values] of overlays)
    priceSets.push(
      lineDataset(name, pointsAt(c.time, values, idx), colours.next(), { borderWidth: 1.2, order: 1 }),
    );
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
    `Win ${(m.winRate * 100).toFixed(1)}%`,
    `Trades ${m.trades.toLocaleString('en-US')}`,
    // Under 30 days an annualised Sharpe misleads: the chart says so, as the summary does.
    tooShortToAnnualise(m) ? 'Sharpe n/a (short span)' : `Sharpe ${m.sharpe.toFixed(2)}`,
    `B&H ${formatPct(m.buyAndHoldReturn)}`,
  ].join(' · ');

  // Heights: the price keeps about half; indicator panels share what they need.
  const k = indicatorPanels.length;
  const panels: ChartPanel[] = [
    pricePanel(p, {
      weight: k === 0 ? 0.58 : 0.48,
      datasets: priceSets,
      candles,
      title,
      subtitle,
      from,
      to,
      timezone,
    }),
  ];
  const axis = { from, to, timezone };
  for (const group of indicatorPanels) {
    const datasets: Dataset[] = group.lines.map(({ name, values, bars }) =>
      bars
        ? barDataset(
            name,
            pointsAt(c.time, values, idx) as Array<{ x: number; y: number }>,
            Array.from(idx as ArrayLike<number>, (i) => (values[i]! >= 0 ? p.volumeUp : p.volumeDown)),
          )
        : lineDataset(name, pointsAt(c.time, values, idx), colours.next()),
    );
    for (const level of group.levels)
      datasets.push(levelDataset('', level, from, to, p.muted, { borderDash: [4, 4], borderWidth: 0.8 }));
    panels.push(
      panel(p, {
        ...axis,
        weight: 0.17,
        showDates: false,
        datasets,
        y: {
          ...(group.min !== undefined ? { min: group.min } : {}),
          ...(group.max !== undefined ? { max: group.max } : {}),
          ticks: { maxTicksLimit: 3 },
        },
      }),
    );
  }
  const log = wantsLogScale(equity, hold);
  const suffix = log ? ' (log scale)' : '';
  panels.push(
    panel(p, {
      ...axis,
      weight: k === 0 ? 0.24 : 0.2,
      showDates: false,
      datasets: [
        lineDataset(`Equity${suffix}`, pointsAt(c.time, equity, idx), p.equity, { borderWidth: 1.6 }),
        lineDataset(`Buy & hold${suffix}`, pointsAt(c.time, hold, idx), p.benchmark, {
          borderDash: [5, 3],
        }),
      ],
      y: log ? { type: 'logarithmic', ticks: { maxTicksLimit: 4 } } : { ticks: { maxTicksLimit: 4 } },
    }),
  );
  panels.push(
    panel(p, {
      ...axis,
      weight: k === 0 ? 0.18 : 0.15,
      showDates: true,
      // Under an indicator panel there is no room for a legend line: the red area and its % axis say it.
      legend: k === 0,
      datasets: [
        lineDataset('Drawdown', pointsAt(c.time, drawdown, idx), p.drawdown, {
          fill: 'origin',
          backgroundColor: p.drawdownFill,
          borderWidth: 1,
        }),
      ],
      y: { max: 0, ticks: { callback: percentTicks, maxTicksLimit: 3 } },
    }),
  );
  return { width, height, pixelRatio, theme, background: p.background, panels };
}
