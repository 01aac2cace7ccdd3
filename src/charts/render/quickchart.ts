/**
 * The QuickChart renderer: each panel's Chart.js configuration goes to QuickChart (hosted, or a
 * self-hosted server at QUICKCHART_URL) through quickchart-js; the panel images come back as PNGs
 * and are stacked locally into one image.
 */
import { AppError } from '../../errors.js';
import type { ChartDocument } from '../types.js';
import { type ChartRenderer, panelHeights } from './renderer.js';

/** The part of quickchart-js used here (its bundled types describe the CommonJS build). */
export interface QuickChartClient {
  setConfig(config: object): this;
  setWidth(width: number): this;
  setHeight(height: number): this;
  setBackgroundColor(color: string): this;
  setDevicePixelRatio(ratio: number): this;
  setVersion(version: string): this;
  setFormat(format: string): this;
  setHost(host: string): this;
  setScheme(scheme: string): this;
  toBinary(): Promise<Buffer>;
}
export type QuickChartClass = new (apiKey?: string) => QuickChartClient;

export class QuickChartRenderer implements ChartRenderer {
  readonly name = 'quickchart' as const;
  private readonly url: URL;

  constructor(
    baseUrl = 'https://quickchart.io',
    private readonly apiKey?: string,
  ) {
    this.url = new URL(baseUrl);
  }

  async render(doc: ChartDocument): Promise<Buffer> {
    const [qcModule, canvas] = await Promise.all([import('quickchart-js'), import('@napi-rs/canvas')]);
    const QuickChart = qcModule.default as unknown as QuickChartClass;
    const heights = panelHeights(doc);
    const images = await Promise.all(
      doc.panels.map(async (panel, k) => {
        const qc = new QuickChart(this.apiKey);
        qc.setConfig(panel.config as object)
          .setWidth(Math.round(doc.width / doc.pixelRatio))
          .setHeight(Math.round(heights[k]! / doc.pixelRatio))
          .setBackgroundColor(doc.background)
          .setDevicePixelRatio(doc.pixelRatio)
          .setVersion('4')
          .setFormat('png')
          .setHost(this.url.host)
          .setScheme(this.url.protocol.replace(':', ''));
        try {
          return await canvas.loadImage(await qc.toBinary());
        } catch (err) {
          throw new AppError(
            'NETWORK',
            `QuickChart at ${this.url.origin} could not draw the chart: ${(err as Error).message.split('\n')[0]}`,
            { cause: err },
          );
        }
      }),
    );
    const image = canvas.createCanvas(doc.width, doc.height);
    const ctx = image.getContext('2d');
    ctx.fillStyle = doc.background;
    ctx.fillRect(0, 0, doc.width, doc.height);
    let y = 0;
    images.forEach((img, k) => {
      ctx.drawImage(img, 0, y, doc.width, heights[k]!);
      y += heights[k]!;
    });
    return image.encode('png');
  }
}
