/** Parts every chart uses: the price (candles or a reduced close line), lines, levels, the titled price panel. */
import type { Candles } from '../market/types.js';
import { pointsAt } from './reduce.js';
import type { Palette } from './theme.js';
import { baseOptions, timeAxis, valueAxis, withTitle } from './axes.js';
import type { ChartPanel, Dataset } from './types.js';

/** Up to this many bars are drawn as candlesticks; more become a close line. */
export const CANDLE_LIMIT = 200;

export function lineDataset(
  label: string,
  data: unknown[],
  color: string,
  extra: Record<string, unknown> = {},
): Dataset {
  return {
    type: 'line',
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 1.5,
    pointRadius: 0,
    spanGaps: false,
    ...extra,
  };
}

/** A horizontal line at `y` across [from, to] (levels, guide lines). An empty label stays out of the legend. */
export function levelDataset(
  label: string,
  y: number,
  from: number,
  to: number,
  color: string,
  extra: Record<string, unknown> = {},
): Dataset {
  return lineDataset(
    label,
    [
      { x: from, y },
      { x: to, y },
    ],
    color,
    extra,
  );
}

/** Candlesticks when `c` is short enough to read, else the close at the reduction's indices. */
export function priceDataset(c: Candles, label: string, p: Palette, indices: ArrayLike<number>): Dataset {
  if (c.length > CANDLE_LIMIT)
    return lineDataset(label, pointsAt(c.time, c.close, indices), p.price, { borderWidth: 1.2, order: 2 });
  return {
    type: 'candlestick',
    label,
    data: Array.from({ length: c.length }, (_, i) => ({
      x: c.time[i]!,
      o: c.open[i]!,
      h: c.high[i]!,
      l: c.low[i]!,
      c: c.close[i]!,
    })),
    backgroundColors: { up: p.up, down: p.down, unchanged: p.muted },
    borderColors: { up: p.up, down: p.down, unchanged: p.muted },
    backgroundColor: p.up, // the legend swatch
    order: 2,
  };
}

/**
 * Bars centred in their time slots, one colour each (volume by candle direction, PnL and MACD
 * histogram by sign). NaN values leave a gap.
 */
export function barDataset(
  label: string,
  points: ReadonlyArray<{ x: number; y: number }>,
  colours: string[],
  extra: Record<string, unknown> = {},
): Dataset {
  return {
    type: 'bar',
    label,
    data: points.map((pt) => ({ x: pt.x, y: Number.isNaN(pt.y) ? null : pt.y })),
    backgroundColor: colours,
    barPercentage: 1,
    categoryPercentage: 0.9,
    ...extra,
  };
}

export interface PanelArgs {
  weight: number;
  type?: 'line' | 'bar' | 'candlestick';
  datasets: Dataset[];
  from: number;
  to: number;
  timezone: string;
  /** Label the dates on the x axis (the bottom panel does). */
  showDates: boolean;
  /** Show the legend (default true). */
  legend?: boolean;
  /** Extra options for the value axis (bounds, tick settings). */
  y?: Record<string, unknown>;
  /** A title and subtitle above the panel (the top panel of a chart). */
  title?: { text: string; subtitle?: string };
  /** More scales beside x and y (a hidden volume axis under the price). */
  scales?: Record<string, unknown>;
}

/** One panel: its datasets over the shared time axis and a right-hand value axis. */
export function panel(p: Palette, a: PanelArgs): ChartPanel {
  const options = baseOptions(p, a.legend ?? true);
  return {
    weight: a.weight,
    config: {
      type: a.type ?? 'line',
      data: { datasets: a.datasets },
      options: {
        ...(a.title ? withTitle(options, p, a.title.text, a.title.subtitle) : options),
        scales: {
          x: timeAxis(p, a.from, a.to, a.timezone, a.showDates),
          y: valueAxis(p, a.y),
          ...a.scales,
        },
      },
    },
  };
}

/** The top panel: price and its overlays under the chart's title and subtitle. */
export function pricePanel(
  p: Palette,
  a: Omit<PanelArgs, 'type' | 'showDates' | 'y' | 'title'> & {
    candles: boolean;
    title: string;
    subtitle: string;
    showDates?: boolean;
  },
): ChartPanel {
  return panel(p, {
    ...a,
    type: a.candles ? 'candlestick' : 'line',
    showDates: a.showDates ?? false,
    y: { ticks: { maxTicksLimit: 8 } },
    title: { text: a.title, subtitle: a.subtitle },
  });
}

/**
 * Volume as bars along the bottom fifth of the price panel, on a hidden axis of its own (`volume`),
 * so it costs no panel of its own.
 */
export function volumeUnderPrice(
  p: Palette,
  c: Candles,
  points: ReadonlyArray<{ x: number; y: number }>,
): { dataset: Dataset; scale: Record<string, unknown> } {
  let max = 0;
  for (const pt of points) if (pt.y > max) max = pt.y;
  return {
    dataset: barDataset(
      '',
      points,
      Array.from({ length: c.length }, (_, i) => (c.close[i]! >= c.open[i]! ? p.volumeUp : p.volumeDown)),
      { yAxisID: 'volume', order: 4 },
    ),
    scale: { volume: { display: false, min: 0, max: max > 0 ? max * 5 : 1, grid: { display: false } } },
  };
}
