/**
 * Renderers turn a chart document into one PNG. Local (Chart.js on @napi-rs/canvas; no network; the
 * default) or QuickChart (hosted quickchart.io, or a self-hosted QuickChart at QUICKCHART_URL).
 * Heavy modules load on first use.
 */
import type { ChartDocument } from '../types.js';

export interface ChartRenderer {
  readonly name: 'local' | 'quickchart';
  render(doc: ChartDocument): Promise<Buffer>;
}

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

/** Panel heights in pixels from their weights, summing exactly to the document height. */
export function panelHeights(doc: ChartDocument): number[] {
  const total = doc.panels.reduce((s, p) => s + p.weight, 0);
  const heights = doc.panels.map((p) => Math.floor((p.weight / total) * doc.height));
  heights[heights.length - 1]! += doc.height - heights.reduce((s, h) => s + h, 0);
  return heights;
}
