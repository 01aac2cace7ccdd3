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

export interface PricePanelArgs {
  weight: number;
  datasets: Dataset[];
  candles: boolean;
  title: string;
  subtitle: string;
  from: number;
  to: number;
  timezone: string;
}

/** The top panel: price and its overlays under the chart's title and subtitle. */
export function pricePanel(p: Palette, a: PricePanelArgs): ChartPanel {
  return {
    weight: a.weight,
    config: {
      type: a.candles ? 'candlestick' : 'line',
      data: { datasets: a.datasets },
      options: {
        ...withTitle(baseOptions(p, true), p, a.title, a.subtitle),
        scales: {
          x: timeAxis(p, a.from, a.to, a.timezone, false),
          y: valueAxis(p, { ticks: { maxTicksLimit: 8 } }),
        },
      },
    },
  };
}
