/**
 * The sweep heatmap: the rank metric over the first two swept parameters, one square per grid
 * position, coloured on a diverging scale around the metric's neutral value (0 for Sharpe and
 * returns, 1 for profit factor, 50 % for win rate): green better, red worse, grey for sets that were
 * skipped. The legend is the colour scale, one entry per band with its value range, and the best
 * set is outlined. With one swept parameter it is a bar per value, coloured the same way.
 * Plain Chart.js (scatter and bar on category axes), so QuickChart draws it too.
 */
import { type HeatmapCell, type HeatmapGrid, metricText } from '../backtest/sweep-report.js';
import type { RankMetric } from '../backtest/sweep.js';
import { baseOptions, FONT, percentTicks, withTitle } from './axes.js';
import { type Palette, palette } from './theme.js';
import { type ChartDocument, type ChartStyle, chartLayout, type Dataset } from './types.js';

export interface SweepHeatmapInput {
  grid: HeatmapGrid;
  title: string;
  subtitle?: string;
}

/** Bands of the colour scale, on t from -1 (worst) to +1 (best). */
export const BANDS = 10;

const PERCENT = new Set<RankMetric>(['totalReturn', 'cagr', 'winRate', 'maxDrawdown']);

/** The metric's neutral value: where colour turns from red to green. */
const PIVOT: Partial<Record<RankMetric, number>> = { profitFactor: 1, winRate: 0.5 };

const METRIC_NAME: Record<RankMetric, string> = {
  sharpe: 'Sharpe',
  totalReturn: 'Return',
  cagr: 'CAGR',
  profitFactor: 'Profit factor',
  sortino: 'Sortino',
  calmar: 'Calmar',
  winRate: 'Win rate',
  expectancy: 'Expectancy',
  maxDrawdown: 'Max drawdown',
};

export function metricName(metric: RankMetric): string {
  return METRIC_NAME[metric];
}

/**
 * Maps a value to t in [-1, 1], best = +1, and back. Values on the good side of the metric's neutral
 * value get t in [0, 1], spread over their own range (from the neutral value, or from the lowest when
 * all are good), and the bad side likewise in [-1, 0]: green always means better than neutral, and
 * the shades use the whole scale. Max drawdown has no neutral value and runs from its best
 * (smallest) to its worst across the grid.
 */
export interface ColourScale {
  t(value: number): number;
  value(t: number): number;
  /**
   * Set when every value is on one side of the neutral value: that side then takes all the bands,
   * in shades of its one colour, so the steps stay as many and as visible.
   */
  side?: 'up' | 'down';
}

export function colourScale(metric: RankMetric, values: readonly number[]): ColourScale {
  const finite = values.filter(Number.isFinite);
  const lo = finite.length > 0 ? Math.min(...finite) : 0;
  const hi = finite.length > 0 ? Math.max(...finite) : 0;
  if (metric === 'maxDrawdown') {
    const span = hi - lo || 1;
    return { t: (v) => 1 - (2 * (v - lo)) / span, value: (t) => lo + ((1 - t) / 2) * span };
  }
  const pivot = PIVOT[metric] ?? 0;
  const up = Math.max(pivot, lo); // where the good side starts
  const down = Math.min(pivot, hi); // where the bad side starts
  const upSpan = hi - up || 1;
  const downSpan = down - lo || 1;
  const clamp = (t: number) => Math.max(-1, Math.min(1, t));
  const side = finite.length === 0 ? undefined : lo >= pivot ? 'up' : hi < pivot ? 'down' : undefined;
  return {
    t: (v) => clamp(v >= pivot ? (v - up) / upSpan : -(down - v) / downSpan),
    value: (t) => (t >= 0 ? up + t * upSpan : down + t * downSpan),
    ...(side ? { side } : {}),
  };
}

/** The band a t falls in: 0 (worst) .. BANDS - 1 (best). */
export function bandOf(t: number): number {
  return Math.min(BANDS - 1, Math.max(0, Math.floor(((t + 1) / 2) * BANDS)));
}

function hex(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c);
  if (!m) throw new Error(`not a #rrggbb colour: ${c}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

function mix(a: string, b: string, t: number): string {
  const [x, y] = [hex(a), hex(b)];
  const c = x.map((v, i) => Math.round(v + (y[i]! - v) * t));
  return `rgb(${c.join(', ')})`;
}

/**
 * A band's colour: at the band's centre, from neutral towards the up or down colour; on a one-sided
 * scale, every band in that side's colour, the best (up) or the least bad (down) the strongest.
 */
export function bandColour(p: Palette, band: number, neutral: string, side?: ColourScale['side']): string {
  const centre = (band + 0.5) / BANDS;
  if (side === 'up') return mix(neutral, p.up, 0.1 + 0.9 * centre);
  if (side === 'down') return mix(neutral, p.down, 0.1 + 0.9 * (1 - centre));
  const t = centre * 2 - 1;
  return t >= 0 ? mix(neutral, p.up, 0.15 + 0.85 * t) : mix(neutral, p.down, 0.15 + 0.85 * -t);
}

/** The t range of a band: the whole [-1, 1], or the one side's half on a one-sided scale. */
function bandRange(band: number, side: ColourScale['side']): [number, number] {
  const offset = side === 'up' ? 0 : side === 'down' ? -1 : undefined;
  if (offset === undefined) return [(band / BANDS) * 2 - 1, ((band + 1) / BANDS) * 2 - 1];
  return [offset + band / BANDS, offset + (band + 1) / BANDS];
}

/** The band a value's t falls in, on the scale's sides. */
function bandFor(t: number, side: ColourScale['side']): number {
  if (side === undefined) return bandOf(t);
  return Math.min(BANDS - 1, Math.max(0, Math.floor((side === 'up' ? t : t + 1) * BANDS)));
}

/** Cells at least this wide (layout pixels) print their value. */
const LABELLED_CELL = 24;

/**
 * Each cell's (or bar's) value printed on it (chartjs-plugin-datalabels; QuickChart has it too). The
 * text rides on the point, so the formatter is self-contained, as what is sent to QuickChart must be.
 */
function valueLabels(color: string, size: number, onBar: boolean): Record<string, unknown> {
  return {
    display: true,
    formatter: (value: { text?: string }) => value.text ?? '',
    color,
    font: { size, weight: '600' },
    ...(onBar ? { anchor: 'end', align: 'end', offset: 1 } : { anchor: 'center', align: 'center' }),
    clip: false,
  };
}

export function sweepHeatmap(input: SweepHeatmapInput, style: ChartStyle = {}): ChartDocument {
  const { width, height, theme, pixelRatio, layoutWidth, layoutHeight } = chartLayout(style);
  const p = palette(theme);
  const neutral = theme === 'light' ? '#d6d8de' : '#3b404d';
  const { grid } = input;
  const scale = colourScale(
    grid.metric,
    grid.cells.map((c) => c.value),
  );
  const name = metricName(grid.metric);

  // One dataset per band, best first (the legend is the scale), then the skipped sets, then the outline of the best.
  const bands = Array.from({ length: BANDS }, (_, k) => BANDS - 1 - k).map((band) => {
    const cells = grid.cells.filter(
      (c) => Number.isFinite(c.value) && bandFor(scale.t(c.value), scale.side) === band,
    );
    const [a, b] = bandRange(band, scale.side).map((t) => scale.value(t)) as [number, number];
    // From worse to better as read: -33% to -32% for drawdowns (stored as 0.33 and 0.32), +1 to +2 otherwise.
    const [lo, hi] = a <= b !== (grid.metric === 'maxDrawdown') ? [a, b] : [b, a];
    // The legend's title names the metric; each band gives its range.
    return { band, cells, label: `${metricText(grid.metric, lo)} to ${metricText(grid.metric, hi)}` };
  });
  const skipped = grid.cells.filter((c) => !Number.isFinite(c.value));
  const best = bestCell(grid);

  const oneAxis = grid.y.name === '';
  const datasets: Dataset[] = [];
  // The legend (the colour scale) stands at the right, one band a line, like a colour bar.
  const plotW = layoutWidth - 230;
  const plotH = layoutHeight - 100;
  const cell = Math.min(plotW / grid.x.values.length, plotH / grid.y.values.length);
  // A 'rect' point of radius r is a square of side r·√2; leave a small gap between squares.
  const radius = Math.max(2, (cell * 0.94) / Math.SQRT2);
  // Bars of percentages are drawn in percent, drawdowns below zero.
  const percent = PERCENT.has(grid.metric);
  const height100 = (v: number) => (grid.metric === 'maxDrawdown' ? -v : v) * (percent ? 100 : 1);
  const point = (c: HeatmapCell) => ({
    x: c.x,
    y: oneAxis ? height100(c.value) : c.y,
    text: metricText(grid.metric, c.value),
  });
  const labelSize = Math.min(FONT.legend, Math.max(7, cell * 0.26));
  const labelled = oneAxis ? grid.x.values.length <= 24 : cell >= LABELLED_CELL;

  for (const b of bands) {
    if (b.cells.length === 0) continue;
    const colour = bandColour(p, b.band, neutral, scale.side);
    // Dark text on the brightest shades, the theme's text on the rest.
    const centre = (b.band + 0.5) / BANDS;
    const intensity =
      scale.side === 'up' ? centre : scale.side === 'down' ? 1 - centre : Math.abs(centre * 2 - 1);
    const strong = intensity > 0.55;
    const text = oneAxis ? p.text : strong && theme === 'dark' ? p.background : p.text;
    const labels = labelled ? { datalabels: valueLabels(text, labelSize, oneAxis) } : {};
    datasets.push(
      oneAxis
        ? { type: 'bar', label: b.label, data: b.cells.map(point), backgroundColor: colour, ...labels }
        : {
            type: 'scatter',
            label: b.label,
            data: b.cells.map(point),
            pointStyle: 'rect',
            pointRadius: radius,
            backgroundColor: colour,
            borderWidth: 0,
            ...labels,
          },
    );
  }
  if (skipped.length > 0 && !oneAxis) {
    datasets.push({
      type: 'scatter',
      label: `Skipped (${skipped.length})`,
      data: skipped.map(point),
      pointStyle: 'rect',
      pointRadius: radius,
      backgroundColor: p.grid,
      borderColor: p.muted,
      borderWidth: 1,
    });
  }
  if (best) {
    // The value is printed on the cell itself; the legend names the set.
    const text = `Best ${[grid.x.name, grid.y.name]
      .filter(Boolean)
      .map((n) => `${n}=${String(best.params[n])}`)
      .join(' ')}`;
    datasets.push(
      oneAxis
        ? {
            type: 'bar',
            label: text,
            data: [point(best)],
            backgroundColor: 'rgba(0, 0, 0, 0)',
            borderColor: p.text,
            borderWidth: 3,
            borderSkipped: false,
            order: -1, // drawn over its band's bar
          }
        : {
            type: 'scatter',
            label: text,
            data: [point(best)],
            pointStyle: 'rect',
            pointRadius: radius,
            backgroundColor: 'rgba(0, 0, 0, 0)',
            borderColor: p.text,
            borderWidth: 3,
          },
    );
  }

  const base = withTitle(baseOptions(p, true), p, input.title, input.subtitle);
  const plugins = base.plugins as { legend: { labels: Record<string, unknown> } };
  const options = {
    ...base,
    plugins: {
      ...plugins,
      legend: {
        ...plugins.legend,
        position: 'right',
        align: 'center',
        title: { display: true, text: name, color: p.muted, font: { size: FONT.legend } },
        labels: { ...plugins.legend.labels, usePointStyle: false, boxWidth: 12, boxHeight: 9, padding: 5 },
      },
    },
  };
  const axisTitle = (text: string) => ({
    display: true,
    text,
    color: p.muted,
    font: { size: FONT.legend },
  });
  const category = (labels: string[], title: string) => ({
    type: 'category',
    labels,
    offset: true,
    grid: { display: false },
    border: { color: p.grid },
    ticks: { color: p.muted, font: { size: FONT.tick }, autoSkip: true, maxRotation: 0 },
    title: axisTitle(title),
  });
  const yAxis = oneAxis
    ? {
        type: 'linear',
        grid: { color: p.grid },
        border: { color: p.grid },
        ticks: {
          color: p.muted,
          font: { size: FONT.tick },
          maxTicksLimit: 6,
          ...(percent ? { callback: percentTicks } : {}),
        },
        title: axisTitle(name),
      }
    : category(grid.y.values, grid.y.name);
  return {
    width,
    height,
    pixelRatio,
    theme,
    background: p.background,
    // Its squares are sized in pixels for this layout: a canvas of another width would misplace them.
    fixedSize: true,
    panels: [
      {
        weight: 1,
        config: {
          type: oneAxis ? 'bar' : 'scatter',
          data: { datasets },
          options: {
            ...options,
            layout: { padding: { left: 8, right: 8, top: 2, bottom: 4 } },
            ...(oneAxis ? { datasets: { bar: { grouped: false, barPercentage: 0.85 } } } : {}),
            scales: { x: category(grid.x.values, grid.x.name), y: yAxis },
          },
        },
      },
    ],
  };
}

/** The best cell of the grid by the metric (first in grid order on a tie), if any has a value. */
export function bestCell(grid: HeatmapGrid): HeatmapCell | undefined {
  const sign = grid.better === 'higher' ? 1 : -1;
  let best: HeatmapCell | undefined;
  for (const c of grid.cells)
    if (Number.isFinite(c.value) && (!best || sign * (c.value - best.value) > 0)) best = c;
  return best;
}
