/**
 * Axes and shared options. The x axis is linear over epoch milliseconds, so panels drawn from
 * series of different lengths still line up in time, with ticks at round steps (hours, days,
 * weeks, months) labelled in the configured time zone. The y axis sits on the right with a fixed
 * width, so stacked panels share the same plot width. Numbers use thousands separators.
 */
import type { Palette } from './theme.js';

const H = 3_600_000;
const D = 24 * H;
const STEPS = [
  15 * 60_000,
  30 * 60_000,
  H,
  2 * H,
  4 * H,
  6 * H,
  12 * H,
  D,
  2 * D,
  7 * D,
  14 * D,
  30 * D,
  91 * D,
  182 * D,
  365 * D,
  730 * D,
];

/** Width reserved for every y axis, in layout pixels. */
export const Y_AXIS_WIDTH = 56;
/** Left padding of every panel (half a date label), in layout pixels. */
export const LEFT_PADDING = 20;
/** Text sizes in layout pixels: twice that in a 1280-pixel image, still legible at phone width. */
export const FONT = { tick: 11, legend: 11, title: 16, subtitle: 12, label: 10 } as const;

/** A round tick step giving about `target` ticks over the span. */
export function timeStep(spanMs: number, target = 8): number {
  return STEPS.find((s) => spanMs / s <= target) ?? STEPS[STEPS.length - 1]!;
}

/**
 * A self-contained tick formatter (it survives being sent to QuickChart as source text): dates
 * in `timezone`, with the detail the step needs.
 */
export function dateTickFormatter(timezone: string, stepMs: number): (value: number | string) => string {
  const opts: Intl.DateTimeFormatOptions =
    stepMs < D
      ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
      : stepMs < 30 * D
        ? { month: 'short', day: 'numeric' }
        : { month: 'short', year: 'numeric' };
  const body = `return new Intl.DateTimeFormat('en-GB', ${JSON.stringify({ ...opts, timeZone: timezone })}).format(new Date(Number(value)));`;
  return new Function('value', body) as (value: number | string) => string;
}

/**
 * Tick positions on calendar boundaries in `timezone`: the first of every month (or every 3, 6, 12
 * months) for long spans, local midnights every N days for medium ones, whole local hours for
 * short ones. Pure and self-contained, so the same function runs here and, sent as source, at
 * QuickChart.
 */
export function calendarTicks(timezone: string, stepMs: number): (min: number, max: number) => number[] {
  const body = `
    const tz = ${JSON.stringify(timezone)}, step = ${stepMs}, H = 3600000, D = 86400000;
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    const local = (t) => { const o = {}; for (const p of fmt.formatToParts(new Date(t))) o[p.type] = Number(p.value); return o; };
    const offset = (t) => { const o = local(t); return Date.UTC(o.year, o.month - 1, o.day, o.hour % 24, o.minute) - Math.floor(t / 60000) * 60000; };
    const instant = (y, m, d) => { const guess = Date.UTC(y, m, d); return guess - offset(guess); };
    const out = [];
    if (step >= 28 * D) {
      const months = Math.max(1, Math.round(step / (30.44 * D)));
      const first = local(min);
      let y = first.year, m = first.month - 1;
      for (let k = 0; k < 2000; k++) {
        const t = instant(y, m, 1);
        if (t > max) break;
        if (t >= min && (y * 12 + m) % months === 0) out.push(t);
        m++; if (m === 12) { m = 0; y++; }
      }
    } else if (step >= D) {
      const days = Math.round(step / D);
      const first = local(min);
      let t = instant(first.year, first.month - 1, first.day);
      if (t < min) t = instant(first.year, first.month - 1, first.day + 1);
      for (let k = 0; t <= max && k < 2000; k++) {
        out.push(t);
        const o = local(t + days * D + 12 * H);
        t = instant(o.year, o.month - 1, o.day);
      }
    } else {
      const off = offset(min);
      for (let t = Math.ceil((min + off) / step) * step - off, k = 0; t <= max && k < 2000; t += step, k++) out.push(t);
    }
    return out;`;
  return new Function('min', 'max', body) as (min: number, max: number) => number[];
}

type TickScale = { min: number; max: number; ticks: Array<{ value: number }> };

/** Chart.js hook placing the x ticks from `calendarTicks` (built as source, like it). */
function ticksHook(timezone: string, stepMs: number): (scale: TickScale) => void {
  const ticks = calendarTicks(timezone, stepMs).toString();
  const body = `const ticks = ${ticks}; scale.ticks = ticks(scale.min, scale.max).map((value) => ({ value }));`;
  return new Function('scale', body) as (scale: TickScale) => void;
}

export function timeAxis(
  p: Palette,
  from: number,
  to: number,
  timezone: string,
  showLabels: boolean,
): Record<string, unknown> {
  // Intraday labels ("1 Mar, 12:00") are about twice as wide as day labels: fewer of them fit.
  const fine = timeStep(to - from);
  const step = fine < D ? timeStep(to - from, 5) : fine;
  return {
    type: 'linear',
    min: from,
    max: to,
    offset: false,
    // offset: false also for bar panels, whose default would shift the grid off the panels above.
    grid: { color: p.grid, drawTicks: showLabels, offset: false },
    afterBuildTicks: ticksHook(timezone, step),
    border: { color: p.grid },
    ticks: {
      display: showLabels,
      // The first and last labels sit inside the plot, so no panel widens its margin for them and
      // stacked panels keep one plot width (a long first date shifted the bottom panel).
      align: 'inner',
      maxRotation: 0,
      autoSkip: true,
      autoSkipPadding: 12,
      color: p.muted,
      font: { size: FONT.tick },
      callback: dateTickFormatter(timezone, step),
    },
  };
}

/** Fixes a scale's width; self-contained so it can be sent as source text. */
function fixedWidth(scale: { width: number }): void {
  scale.width = 56;
}

export function valueAxis(p: Palette, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { ticks, ...rest } = extra as { ticks?: Record<string, unknown> };
  return {
    position: 'right',
    grid: { color: p.grid },
    border: { color: p.grid },
    afterFit: fixedWidth,
    ticks: { color: p.muted, font: { size: FONT.tick }, maxTicksLimit: 5, ...ticks },
    ...rest,
  };
}

/** A tick formatter that appends a percent sign. */
export function percentTicks(value: number | string): string {
  return `${Number(value).toLocaleString('en-US', { maximumFractionDigits: 1 })}%`;
}

/** Legend items in dataset order (not draw order), so the price comes first. Self-contained. */
function byDatasetIndex(a: { datasetIndex?: number }, b: { datasetIndex?: number }): number {
  return (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0);
}

/** Datasets with an empty label (guide lines, band edges) stay out of the legend. Self-contained. */
function hasLabel(item: { text?: string }): boolean {
  return Boolean(item.text);
}

/** Options every panel shares: no animation, fixed layout, the theme's text colour. */
export function baseOptions(p: Palette, legend: boolean): Record<string, unknown> {
  return {
    animation: false,
    responsive: false,
    maintainAspectRatio: false,
    locale: 'en-US',
    parsing: false,
    normalized: true,
    color: p.text,
    // The same left padding everywhere, wide enough for half a date label, keeps stacked plots aligned.
    layout: { padding: { left: LEFT_PADDING, right: 4, top: 2, bottom: 2 } },
    interaction: { mode: 'nearest', intersect: false },
    plugins: {
      legend: {
        display: legend,
        position: 'top',
        align: 'start',
        labels: {
          color: p.text,
          usePointStyle: true,
          boxWidth: 6,
          boxHeight: 6,
          padding: 8,
          font: { size: FONT.legend },
          sort: byDatasetIndex,
          filter: hasLabel,
        },
      },
      tooltip: { enabled: false },
      title: { display: false },
      // chartjs-plugin-datalabels (here and at QuickChart) labels every point unless told not to.
      datalabels: { display: false },
    },
  };
}

/** A title and a subtitle line on a panel (the first one of a chart). */
export function withTitle(
  options: Record<string, unknown>,
  p: Palette,
  title: string,
  subtitle?: string,
): Record<string, unknown> {
  const plugins = options.plugins as Record<string, unknown>;
  return {
    ...options,
    plugins: {
      ...plugins,
      title: {
        display: true,
        text: title,
        color: p.text,
        align: 'start',
        font: { size: FONT.title, weight: '600' },
        padding: { top: 4, bottom: subtitle ? 1 : 8 },
      },
      subtitle: subtitle
        ? {
            display: true,
            text: subtitle,
            color: p.muted,
            align: 'start',
            font: { size: FONT.subtitle },
            padding: { bottom: 4 },
          }
        : { display: false },
    },
  };
}
