/**
 * What a renderer is, and the panel layout every renderer shares. Its own module so that the
 * renderers and the loader that picks one (`./index.ts`) import it without importing each other.
 */
import type { ChartDocument } from '../types.js';

export interface ChartRenderer {
  readonly name: 'local' | 'quickchart';
  render(doc: ChartDocument): Promise<Buffer>;
}

/** Panel heights in pixels from their weights, summing exactly to the document height. */
export function panelHeights(doc: ChartDocument): number[] {
  const total = doc.panels.reduce((s, p) => s + p.weight, 0);
  const heights = doc.panels.map((p) => Math.floor((p.weight / total) * doc.height));
  heights[heights.length - 1]! += doc.height - heights.reduce((s, h) => s + h, 0);
  return heights;
}
