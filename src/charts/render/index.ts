/**
 * Renderers turn a chart document into one PNG. Local (Chart.js on @napi-rs/canvas; no network; the
 * default) or QuickChart (hosted quickchart.io, or a self-hosted QuickChart at QUICKCHART_URL).
 * Heavy modules load on first use.
 */
import type { ChartRenderer } from './renderer.js';

export type { ChartRenderer } from './renderer.js';

export interface RendererOptions {
  renderer: 'local' | 'quickchart';
  /** QuickChart base URL (default https://quickchart.io). */
  quickchartUrl?: string;
  /** QuickChart API key, when the service needs one. */
  quickchartKey?: string;
}

export async function createRenderer(options: RendererOptions): Promise<ChartRenderer> {
  if (options.renderer === 'quickchart') {
    const { QuickChartRenderer } = await import('./quickchart.js');
    return new QuickChartRenderer(options.quickchartUrl, options.quickchartKey);
  }
  const { LocalRenderer } = await import('./local.js');
  return new LocalRenderer();
}
