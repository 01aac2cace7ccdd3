/**
 * Kept backtests side by side: each one's equity curve as a percentage of its starting capital, on
 * one time axis, so runs of different capital (and span) read against each other.
 */
import { keptLabel } from '../backtest/kept.js';
import { badInput } from '../errors.js';
import type { KeptBacktest } from '../store/backtests.js';
import { percentTicks } from './axes.js';
import { lineDataset, panel } from './datasets.js';
import { palette, SeriesColours } from './theme.js';
import { type ChartDocument, type ChartStyle, chartLayout } from './types.js';

export interface CompareSeries {
  /** The legend's label: the id and what ran, `B7K2Q ema-cross 4h`. */
  label: string;
  capital: number;
  /** Equity at bar closes: `[time, equity]`. */
  equity: ReadonlyArray<readonly [number, number]>;
}

export function compareChart(
  series: readonly CompareSeries[],
  title: string,
  style: ChartStyle = {},
): ChartDocument {
  if (series.length === 0 || series.some((s) => s.equity.length === 0))
    throw badInput('nothing to compare: each backtest needs an equity curve');
  const { width, height, theme, timezone, pixelRatio } = chartLayout(style);
  const p = palette(theme);
  const colours = new SeriesColours(p);
  const from = Math.min(...series.map((s) => s.equity[0]![0]));
  const to = Math.max(...series.map((s) => s.equity[s.equity.length - 1]![0]));
  const change = (s: CompareSeries, e: number) => (e / s.capital - 1) * 100;
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}%`;
  const subtitle = series
    .map((s) => `${s.label.split(' ')[0]} ${signed(change(s, s.equity[s.equity.length - 1]![1]))}`)
    .join(' · ');
  return {
    width,
    height,
    pixelRatio,
    theme,
    background: p.background,
    panels: [
      panel(p, {
        from,
        to,
        timezone,
        weight: 1,
        showDates: true,
        title: { text: title, subtitle: `equity, change from the starting capital: ${subtitle}` },
        y: { ticks: { callback: percentTicks } },
        datasets: series.map((s) =>
          lineDataset(
            s.label,
            s.equity.map(([x, e]) => ({ x, y: change(s, e) })),
            colours.next(),
            { borderWidth: 2, pointRadius: 0 },
          ),
        ),
      }),
    ],
  };
}

/** Kept backtests' equity curves on one chart, titled by their ids (one: `Backtest B7K2QF`). */
export function keptChart(kept: readonly KeptBacktest[], style: ChartStyle = {}): ChartDocument {
  return compareChart(
    kept.map((k) => ({ label: keptLabel(k), capital: k.settings.capital, equity: k.equity })),
    `Backtest${kept.length > 1 ? 's' : ''} ${kept.map((k) => k.id).join(', ')}`,
    style,
  );
}
