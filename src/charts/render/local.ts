/**
 * The local renderer: Chart.js 4 with chartjs-chart-financial, drawn on @napi-rs/canvas (Skia, a
 * prebuilt binary inside the npm package). No network. Each panel is drawn on its own canvas and
 * the panels are stacked into one PNG. Text uses the bundled Inter font, so output does not depend
 * on the fonts a machine has.
 */
import { createRequire } from 'node:module';
import type { Chart as ChartType, ChartConfiguration } from 'chart.js';
import type { Canvas } from '@napi-rs/canvas';
import type { ChartDocument } from '../types.js';
import { type ChartRenderer, panelHeights } from './renderer.js';

interface Libraries {
  Chart: typeof ChartType;
  createCanvas: (w: number, h: number) => Canvas;
}

let libraries: Promise<Libraries> | undefined;

/** Load Chart.js, its financial charts and the canvas once, and register the fonts. */
export function loadChartLibraries(): Promise<Libraries> {
  libraries ??= (async () => {
    const [{ Chart, registerables }, financial, canvas, datalabels] = await Promise.all([
      import('chart.js'),
      // The package's "main" is a UMD build that wants a global Chart; its ES module is this file.
      import('chartjs-chart-financial/dist/chartjs-chart-financial.esm.js'),
      import('@napi-rs/canvas'),
      // Value labels (heatmap cells, SMC levels); QuickChart has the same plugin. Its ES module, as above.
      import('chartjs-plugin-datalabels/dist/chartjs-plugin-datalabels.esm.js'),
    ]);
    Chart.register(
      ...registerables,
      datalabels.default,
      financial.CandlestickController,
      financial.CandlestickElement,
      financial.OhlcController,
      financial.OhlcElement,
    );
    const require = createRequire(import.meta.url);
    for (const weight of ['400', '600']) {
      canvas.GlobalFonts.registerFromPath(
        require.resolve(`@fontsource/inter/files/inter-latin-${weight}-normal.woff2`),
        'Inter',
      );
    }
    Chart.defaults.font.family = 'Inter, "DejaVu Sans", sans-serif';
    return { Chart, createCanvas: canvas.createCanvas };
  })();
  return libraries;
}

export class LocalRenderer implements ChartRenderer {
  readonly name = 'local' as const;

  async render(doc: ChartDocument): Promise<Buffer> {
    const { Chart, createCanvas } = await loadChartLibraries();
    const image = createCanvas(doc.width, doc.height);
    const ctx = image.getContext('2d');
    ctx.fillStyle = doc.background;
    ctx.fillRect(0, 0, doc.width, doc.height);
    const heights = panelHeights(doc);
    let y = 0;
    doc.panels.forEach((panel, k) => {
      const h = heights[k]!;
      // Laid out at the layout size; Chart.js scales the canvas up by the pixel ratio as it draws.
      const sub = createCanvas(Math.round(doc.width / doc.pixelRatio), Math.round(h / doc.pixelRatio));
      const config = {
        ...panel.config,
        options: { ...panel.config.options, devicePixelRatio: doc.pixelRatio },
      };
      // Chart.js draws on any 2D context; in Node it uses its basic (DOM-free) platform.
      const chart = new Chart(sub.getContext('2d') as never, config as unknown as ChartConfiguration);
      ctx.drawImage(sub, 0, y, doc.width, h);
      chart.destroy(); // after copying: destroy() clears the canvas
      y += h;
    });
    return image.encode('png');
  }
}
