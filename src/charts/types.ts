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
  width: number;
  height: number;
  theme: Theme;
  background: string;
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
