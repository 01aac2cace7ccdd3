/** Charts: spec builders (pure) and renderers (local or QuickChart), configured from the config. */
import type { Config } from '../config.js';
import { type ChartRenderer, createRenderer } from './render/index.js';
import type { ChartStyle } from './types.js';

export { backtestChart, tradeMarkers } from './backtest-chart.js';
export { INDICATOR_WARMUP, INDICATORS_ALLOWED, marketChart, parseIndicators } from './market-chart.js';
export { compareChart, keptChart } from './compare-chart.js';
export { performanceChart } from './performance-chart.js';
export { sweepHeatmap } from './heatmap-chart.js';
export type { ChartRenderer } from './render/index.js';
export type { ChartDocument, ChartStyle, Theme } from './types.js';

export function chartStyle(config: Config, overrides: ChartStyle = {}): Required<ChartStyle> {
  return {
    width: overrides.width ?? config.charts.width,
    height: overrides.height ?? config.charts.height,
    theme: overrides.theme ?? config.charts.theme,
    timezone: overrides.timezone ?? config.timezone,
  };
}

export function chartRenderer(config: Config): Promise<ChartRenderer> {
  return createRenderer({
    renderer: config.charts.renderer,
    quickchartUrl: config.charts.quickchartUrl,
    ...(config.charts.quickchartKey ? { quickchartKey: config.charts.quickchartKey } : {}),
  });
}
