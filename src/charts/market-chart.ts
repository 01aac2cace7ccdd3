/**
 * The market chart behind `/chart SYMBOL [TF] [indicators]`: candles, volume, chosen overlays (EMA,
 * SMA, Bollinger, VWAP, Smart Money Concepts) on the price, oscillators (RSI, MACD) in their own panels, and open
 * positions' entry, stop and targets as horizontal lines. Indicators are computed over all the
 * candles given and the last `bars` are shown, so they are warm from the first bar drawn.
 */
import { badInput } from '../errors.js';
import * as ind from '../indicators/index.js';
import { type Candles, sliceCandles } from '../market/types.js';
import { LEFT_PADDING, Y_AXIS_WIDTH } from './axes.js';
import {
  barDataset,
  CANDLE_LIMIT,
  levelDataset,
  lineDataset,
  panel,
  priceDataset,
  pricePanel,
  volumeUnderPrice,
} from './datasets.js';
import { pointsAt, reduceIndices } from './reduce.js';
import { smcDatasets } from './smc-overlay.js';
import { palette, SeriesColours } from './theme.js';
import { type ChartDocument, type ChartPanel, type ChartStyle, type Dataset, chartLayout } from './types.js';

export type IndicatorRequest =
  | { kind: 'ema' | 'sma'; period: number }
  | { kind: 'bb'; period: number; stdDev: number }
  | { kind: 'vwap' }
  | { kind: 'rsi'; period: number }
  | { kind: 'macd'; fast: number; slow: number; signal: number }
  | { kind: 'smc'; swing: number };

/** Bars loaded before those drawn, so indicators are warm on the first bar shown. */
export const INDICATOR_WARMUP = 300;

export const INDICATORS_ALLOWED =
  'ema<N>, sma<N>, bb or bb<N>, vwap, rsi or rsi<N>, macd, smc or smc<N> (e.g. ema20,bb,rsi,smc)';

/** Parse "ema20,ema50,bb,rsi,macd" (commas or spaces). */
export function parseIndicators(text: string): IndicatorRequest[] {
  const out: IndicatorRequest[] = [];
  for (const token of text
    .toLowerCase()
    .split(/[,\s]+/)
    .filter(Boolean)) {
    const m = /^([a-z]+)(\d*)$/.exec(token);
    const name = m?.[1];
    const n = m?.[2] ? Number(m[2]) : undefined;
    const period = (def: number, max = 1000) => {
      const p = n ?? def;
      if (p < 2 || p > max)
        throw badInput(`indicator "${token}": period ${p} is out of range; allowed: 2 to ${max}`);
      return p;
    };
    if (name === 'ema' || name === 'sma') {
      if (n === undefined)
        throw badInput(`indicator "${token}" needs a period, e.g. ${name}20; allowed: ${INDICATORS_ALLOWED}`);
      out.push({ kind: name, period: period(20) });
    } else if (name === 'bb') out.push({ kind: 'bb', period: period(20, 500), stdDev: 2 });
    else if (name === 'vwap' && n === undefined) out.push({ kind: 'vwap' });
    else if (name === 'rsi') out.push({ kind: 'rsi', period: period(14, 200) });
    else if (name === 'macd' && n === undefined) out.push({ kind: 'macd', fast: 12, slow: 26, signal: 9 });
    else if (name === 'smc') out.push({ kind: 'smc', swing: period(5, 50) });
    else throw badInput(`unknown indicator "${token}"; allowed: ${INDICATORS_ALLOWED}`);
  }
  return out;
}

export interface PositionLines {
  side: 'long' | 'short';
  entry: number;
  stop?: number;
  targets?: number[];
  /** Shown in the legend, e.g. the run id. */
  label?: string;
}

export interface MarketChartInput {
  symbol: string;
  timeframe: string;
  /** All candles available (indicators warm up on the earlier ones). */
  candles: Candles;
  /** How many of the latest bars to draw (default 120). */
  bars?: number;
  indicators?: IndicatorRequest[];
  positions?: PositionLines[];
  /** A note after the title, e.g. the exchange. */
  source?: string;
}

const money = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: v >= 100 ? 2 : 6 });

export function marketChart(input: MarketChartInput, style: ChartStyle = {}): ChartDocument {
  const { width, height, theme, timezone, pixelRatio, layoutWidth } = chartLayout(style);
  const p = palette(theme);
  const colours = new SeriesColours(p);
  const all = input.candles;
  if (all.length === 0) throw badInput(`no ${input.symbol} ${input.timeframe} candles to draw`);
  const bars = Math.min(input.bars ?? 120, all.length);
  const start = all.length - bars;
  const c = sliceCandles(all, start);
  const n = c.length;
  const tfMs = n > 1 ? c.time[1]! - c.time[0]! : 60_000;
  const from = c.time[0]!;
  const to = c.time[n - 1]! + tfMs;
  const show = (values: Float64Array) => values.subarray(start);

  // Each overlay: label, values, and whether it continues the previous one's colour (a band's lines).
  const overlays: Array<[string, Float64Array, boolean?]> = [];
  let smcSwing = 0;
  const oscillators: IndicatorRequest[] = [];
  for (const req of input.indicators ?? []) {
    if (req.kind === 'ema' || req.kind === 'sma')
      overlays.push([`${req.kind.toUpperCase()} ${req.period}`, show(ind[req.kind](all.close, req.period))]);
    else if (req.kind === 'bb') {
      const b = ind.bbands(all.close, req.period, req.stdDev);
      // One legend entry for the band: its edges have no label.
      overlays.push(
        ['', show(b.upper)],
        [`BB ${req.period},${req.stdDev}`, show(b.middle), true],
        ['', show(b.lower), true],
      );
    } else if (req.kind === 'vwap')
      overlays.push(['VWAP', show(ind.vwap(all.high, all.low, all.close, all.volume, all.time))]);
    else if (req.kind === 'smc') smcSwing = req.swing;
    else oscillators.push(req);
  }

  const plotWidth = layoutWidth - Y_AXIS_WIDTH - LEFT_PADDING - 4;
  const idx = reduceIndices([c.close, ...overlays.map(([, v]) => v)], n, Math.round(plotWidth * pixelRatio));
  const line = (label: string, data: unknown[], color: string, extra: Record<string, unknown> = {}) =>
    lineDataset(label, data, color, { borderWidth: 1.2, ...extra });

  const candles = n <= CANDLE_LIMIT;
  const priceSets: Dataset[] = [priceDataset(c, input.symbol, p, idx)];
  // One colour per series; a band's three lines share one.
  let color = '';
  for (const [label, values, sameColour] of overlays) {
    const isBandEdge = label === '';
    if (!sameColour) color = colours.next();
    priceSets.push(
      line(label, pointsAt(c.time, values, idx), color, {
        order: 1,
        ...(isBandEdge ? { borderDash: [4, 3] } : {}),
      }),
    );
  }
  const level = (label: string, price: number, color: string, dash: number[]) =>
    levelDataset(`${label} ${money(price)}`, price, from, to, color, {
      borderDash: dash,
      borderWidth: 1.6,
      order: 0,
    });
  for (const pos of input.positions ?? []) {
    const who = pos.label ? `${pos.label} ` : '';
    priceSets.push(level(`${who}${pos.side} entry`, pos.entry, p.entryLine, [8, 4]));
    if (pos.stop !== undefined) priceSets.push(level(`${who}stop`, pos.stop, p.stopLine, [3, 3]));
    (pos.targets ?? []).forEach((t, k) =>
      priceSets.push(level(`${who}target ${k + 1}`, t, p.targetLine, [3, 3])),
    );
  }

  const last = c.close[n - 1]!;
  const change = last / c.open[0]! - 1;
  let hi = -Infinity;
  let lo = Infinity;
  for (let i = 0; i < n; i++) {
    hi = Math.max(hi, c.high[i]!);
    lo = Math.min(lo, c.low[i]!);
  }
  if (smcSwing > 0)
    priceSets.push(...smcDatasets({ all, start, to, swingLength: smcSwing, low: lo, high: hi }, p, colours));
  const title = [input.symbol, input.timeframe, input.source].filter(Boolean).join(' · ');
  const subtitle = `Last ${money(last)} · ${change >= 0 ? '+' : ''}${(change * 100).toFixed(2)}% over ${n} bars · High ${money(hi)} · Low ${money(lo)}`;

  // Mid-bar x positions for the bar series.
  const midBars = (values: Float64Array) =>
    Array.from({ length: n }, (_, i) => ({ x: c.time[i]! + tfMs / 2, y: values[i]! }));
  const volume = volumeUnderPrice(p, c, midBars(c.volume));
  priceSets.push(volume.dataset);

  // The price takes what the oscillators leave; the bottom panel carries the dates.
  const panels: ChartPanel[] = [];
  const bottom = oscillators.length - 1;
  panels.push(
    pricePanel(p, {
      weight: [1, 0.64, 0.5][oscillators.length] ?? 0.44,
      datasets: priceSets,
      candles,
      title,
      subtitle,
      from,
      to,
      timezone,
      showDates: bottom < 0,
      scales: volume.scale,
    }),
  );

  const axis = { from, to, timezone };
  oscillators.forEach((req, k) => {
    const showDates = k === bottom;
    if (req.kind === 'rsi') {
      const r = show(ind.rsi(all.close, req.period));
      panels.push(
        panel(p, {
          ...axis,
          weight: 0.22,
          showDates,
          datasets: [
            line(`RSI ${req.period}`, pointsAt(c.time, r, idx), colours.next()),
            levelDataset('', 70, from, to, p.muted, { borderDash: [4, 4], borderWidth: 0.8 }),
            levelDataset('', 30, from, to, p.muted, { borderDash: [4, 4], borderWidth: 0.8 }),
          ],
          y: { min: 0, max: 100, ticks: { stepSize: 50 } },
        }),
      );
    } else if (req.kind === 'macd') {
      const m = ind.macd(all.close, req.fast, req.slow, req.signal);
      const hist = show(m.histogram);
      panels.push(
        panel(p, {
          ...axis,
          weight: 0.28,
          type: 'bar',
          showDates,
          datasets: [
            barDataset(
              'Histogram',
              midBars(hist),
              Array.from(hist, (h) => (h >= 0 ? p.volumeUp : p.volumeDown)),
              { order: 2 },
            ),
            line(`MACD ${req.fast},${req.slow}`, pointsAt(c.time, show(m.macd), idx), colours.next(), {
              order: 1,
            }),
            line(`Signal ${req.signal}`, pointsAt(c.time, show(m.signal), idx), colours.next(), {
              order: 1,
            }),
          ],
          y: { grace: '5%', ticks: { maxTicksLimit: 3 } },
        }),
      );
    }
  });
  return { width, height, pixelRatio, theme, background: p.background, panels };
}
