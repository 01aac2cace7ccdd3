/**
 * Chart specs: plain Chart.js configurations (the format QuickChart also accepts), one per panel,
 * stacked top to bottom into one image. Built by pure functions from data; drawn by a renderer.
 * Functions inside a config (tick formatters) are self-contained, so they survive being sent to
 * QuickChart as source text.
 */
export type Theme = 'dark' | 'light';

export interface Dataset {
  label: string;
  type?: string;
  data: unknown[];
  [option: string]: unknown;
}

export interface PanelConfig {
  type: 'line' | 'bar' | 'candlestick' | 'scatter';
  data: { datasets: Dataset[] };
  options: Record<string, unknown>;
}

export interface ChartPanel {
  /** Share of the image height this panel takes (panels' weights are normalised). */
  weight: number;
  config: PanelConfig;
}

export interface ChartDocument {
  /** The image's size in pixels. */
  width: number;
  height: number;
  /**
   * Image pixels per layout pixel. Panels are laid out at `width / pixelRatio` (640 for the default 1280) and drawn
   * at this ratio, so text, lines and markers keep their size relative to the image whatever its
   * width, and a 1280-pixel chart still reads when a phone shows it 390 pixels wide.
   */
  pixelRatio: number;
  theme: Theme;
  background: string;
  /** Drawn right only at its own size (a heatmap's squares): a page shows its image, not a redrawn canvas. */
  fixedSize?: boolean;
  panels: ChartPanel[];
}

export interface ChartStyle {
  width?: number;
  height?: number;
  theme?: Theme;
  /** IANA time zone for the date axis. */
  timezone?: string;
}

export const DEFAULT_STYLE = { width: 1280, height: 720, theme: 'dark' as Theme, timezone: 'UTC' };

/** The width charts are laid out at; wider images draw the same layout at a higher pixel ratio. */
export const LAYOUT_WIDTH = 640;

/** A chart's style with its defaults, and the layout it implies (sizes in layout pixels). */
export function chartLayout(style: ChartStyle = {}) {
  const s = { ...DEFAULT_STYLE, ...style };
  const pixelRatio = Math.max(1, s.width / LAYOUT_WIDTH);
  return { ...s, pixelRatio, layoutWidth: s.width / pixelRatio, layoutHeight: s.height / pixelRatio };
}
