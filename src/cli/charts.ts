/** Drawing and saving charts from the command line. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChartDocument, ChartStyle } from '../charts/types.js';
import type { Config } from '../config.js';
import { badInput } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import { numberOption, oneOf, writing } from './args.js';

/** Chart style options every charting command takes. */
export const STYLE_OPTIONS = {
  theme: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
} as const;

export function styleFromArgs(v: { theme?: string; width?: string; height?: string }): ChartStyle {
  const theme = oneOf('theme', v.theme, ['dark', 'light'] as const);
  const width = numberOption('width', v.width, 320, 4096);
  const height = numberOption('height', v.height, 240, 4096);
  return {
    ...(theme ? { theme } : {}),
    ...(width !== undefined ? { width: Math.round(width) } : {}),
    ...(height !== undefined ? { height: Math.round(height) } : {}),
  };
}

/** Render a chart with the configured renderer and write the PNG (atomically). */
/** A chart file's name must say PNG (what is written). */
export function pngPath(path: string): void {
  if (!path.toLowerCase().endsWith('.png')) throw badInput(`chart file "${path}" must end in .png`);
}

/** Draw `doc` into the PNG file `path`; the PNG's bytes. */
export async function renderChartFile(doc: ChartDocument, path: string, config: Config): Promise<Uint8Array> {
  pngPath(path);
  const { chartRenderer } = await import('../charts/index.js');
  const png = await (await chartRenderer(config)).render(doc);
  writing(`chart file ${path}`, () => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, png);
  });
  return png;
}
