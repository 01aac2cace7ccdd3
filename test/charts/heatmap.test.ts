import { loadImage, createCanvas } from '@napi-rs/canvas';
import { describe, expect, it } from 'vitest';
import { type HeatmapGrid, metricText } from '../../src/backtest/sweep-report.js';
import {
  BANDS,
  bandColour,
  bandOf,
  bestCell,
  colourScale,
  sweepHeatmap,
} from '../../src/charts/heatmap-chart.js';
import { createRenderer } from '../../src/charts/render/index.js';
import { palette } from '../../src/charts/theme.js';
import type { Dataset } from '../../src/charts/types.js';
import { pngSize } from '../helpers/png.js';

/** fast 5..20 x slow 20..50, Sharpe = (fast + slow) / 20 - 2, fast=20 slow=20 skipped. */
function grid(): HeatmapGrid {
  const fast = ['5', '10', '15', '20'];
  const slow = ['20', '30', '40', '50'];
  const cells = fast.flatMap((f, i) =>
    slow.map((s, j) => ({
      x: i,
      y: j,
      value: f === '20' && s === '20' ? Number.NaN : (Number(f) + Number(s)) / 20 - 2,
      params: { fast: f, slow: s },
    })),
  );
  return {
    x: { name: 'fast', values: fast },
    y: { name: 'slow', values: slow },
    folded: [],
    cells,
    metric: 'sharpe',
    better: 'higher',
  };
}

describe('sweep heatmap', () => {
  it('colours around the neutral value: green better, red worse, each side over its own range', () => {
    const s = colourScale('sharpe', [-1, 0.5, 2, Number.NaN]);
    expect([s.t(-1), s.t(0.5), s.t(2), s.t(0)]).toEqual([-1, 0.25, 1, 0]);
    // All above neutral: the lowest is at the neutral end, so shades still spread.
    const up = colourScale('totalReturn', [0.1, 0.2, 0.3]);
    expect([up.t(0.1), up.t(0.3)]).toEqual([0, 1]);
    expect([up.side, s.side, colourScale('sharpe', [-2, -1]).side]).toEqual(['up', undefined, 'down']);
    expect(colourScale('profitFactor', [0.5, 1.5]).t(1)).toBe(0);
    // Drawdown: smaller is better, no neutral value.
    const dd = colourScale('maxDrawdown', [0.1, 0.3]);
    expect(dd.t(0.1)).toBe(1);
    expect(dd.t(0.2)).toBeCloseTo(0, 12);
    expect(dd.t(0.3)).toBe(-1);
    for (const v of [-1, -0.3, 0.4, 2]) expect(s.value(s.t(v))).toBeCloseTo(v, 12);
    expect([bandOf(-1), bandOf(-0.01), bandOf(0), bandOf(1)]).toEqual([
      0,
      BANDS / 2 - 1,
      BANDS / 2,
      BANDS - 1,
    ]);
  });

  it('puts every square in exactly one band, whose legend range holds its value, best band first', () => {
    const g = grid();
    const doc = sweepHeatmap({ grid: g, title: 'Sharpe of ema-cross' }, { width: 1280, height: 720 });
    expect(doc.panels).toHaveLength(1);
    const { config } = doc.panels[0]!;
    expect(config.type).toBe('scatter');
    const sets = config.data.datasets as Dataset[];
    const bands = sets.filter((d) => / to /.test(d.label));
    const lows = bands.map((d) => Number(/^(-?[\d.]+) to/.exec(d.label)![1]));
    expect([...lows].sort((a, b) => b - a)).toEqual(lows); // best first
    const seen = new Map<string, number>();
    for (const d of bands) {
      const [lo, hi] = /^(-?[\d.]+) to (-?[\d.]+)/.exec(d.label)!.slice(1).map(Number);
      for (const pt of d.data as Array<{ x: number; y: number }>) {
        const cell = g.cells.find((c) => c.x === pt.x && c.y === pt.y)!;
        expect(cell.value).toBeGreaterThanOrEqual(lo! - 0.005);
        expect(cell.value).toBeLessThanOrEqual(hi! + 0.005);
        seen.set(`${pt.x},${pt.y}`, (seen.get(`${pt.x},${pt.y}`) ?? 0) + 1);
      }
    }
    expect(seen.size).toBe(15);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Below zero is red, above green.
    const colourOf = (v: number) =>
      bands.find((d) =>
        (d.data as Array<{ x: number; y: number }>).some(
          (pt) => g.cells.find((c) => c.x === pt.x && c.y === pt.y)!.value === v,
        ),
      )!.backgroundColor;
    const p = palette('dark');
    expect(colourOf(1.5)).toBe(bandColour(p, BANDS - 1, '#3b404d'));
    expect(colourOf(-0.75)).toBe(bandColour(p, 0, '#3b404d'));

    const skipped = sets.find((d) => d.label.startsWith('Skipped'))!;
    expect(skipped.label).toBe('Skipped (1)');
    expect(skipped.data).toEqual([{ x: 3, y: 0, text: 'n/a' }]);
    const best = sets.at(-1)!;
    expect(best.label).toBe('Best fast=20 slow=50');
    expect(best.data).toEqual([{ x: 3, y: 3, text: metricText('sharpe', 1.5) }]);
    expect(bestCell(g)!.params).toEqual({ fast: '20', slow: '50' });
    const scales = config.options.scales as Record<string, { labels: string[]; title: { text: string } }>;
    expect(scales.x!.labels).toEqual(['5', '10', '15', '20']);
    expect(scales.y!.labels).toEqual(['20', '30', '40', '50']);
    expect([scales.x!.title.text, scales.y!.title.text]).toEqual(['fast', 'slow']);
  });

  it('draws one swept parameter as bars, percentages in percent', () => {
    const g: HeatmapGrid = {
      x: { name: 'fast', values: ['5', '10', '15'] },
      y: { name: '', values: [''] },
      folded: [],
      cells: [0.1, -0.05, 0.3].map((value, i) => ({
        x: i,
        y: 0,
        value,
        params: { fast: ['5', '10', '15'][i]! },
      })),
      metric: 'totalReturn',
      better: 'higher',
    };
    const { config } = sweepHeatmap({ grid: g, title: 'Return' }).panels[0]!;
    expect(config.type).toBe('bar');
    const points = (config.data.datasets as Dataset[])
      .filter((d) => !d.label.startsWith('Best'))
      .flatMap((d) => d.data as Array<{ x: number; y: number }>)
      .sort((a, b) => a.x - b.x);
    expect(points.map((pt) => pt.y)).toEqual([10, -5, 30]);
    expect((config.data.datasets as Dataset[]).at(-1)!.label).toBe('Best fast=15');
  });

  it('renders to a PNG of the requested size with each band colour filled in', async () => {
    const doc = sweepHeatmap({ grid: grid(), title: 'Sharpe of ema-cross' }, { width: 1000, height: 600 });
    const png = await (await createRenderer({ renderer: 'local' })).render(doc);
    expect(pngSize(png)).toEqual({ width: 1000, height: 600 });
    const img = await loadImage(png);
    const canvas = createCanvas(img.width, img.height);
    canvas.getContext('2d').drawImage(img, 0, 0);
    const data = canvas.getContext('2d').getImageData(0, 0, img.width, img.height).data;
    const counts = new Map<string, number>();
    for (let i = 0; i < data.length; i += 4) {
      const key = `rgb(${data[i]}, ${data[i + 1]}, ${data[i + 2]})`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const bands = (doc.panels[0]!.config.data.datasets as Dataset[]).filter((d) => / to /.test(d.label));
    for (const d of bands) {
      // Each square is at least 60 px a side here; the legend swatch alone is 64 px.
      expect(counts.get(d.backgroundColor as string) ?? 0).toBeGreaterThan(
        (d.data as unknown[]).length * 3000,
      );
    }
  });

  it('gives a grid whose values are all on one side of neutral every step, in shades of that side', () => {
    const g = grid();
    // fast 5..20 x slow 20..50 again, every Sharpe now above 0: 0.26 to 1.7.
    const up: HeatmapGrid = {
      ...g,
      cells: g.cells.map((c) => ({
        ...c,
        value: Number.isFinite(c.value) ? c.value + 2.01 - 0.25 : c.value,
      })),
    };
    const doc = sweepHeatmap({ grid: up, title: 'Sharpe' });
    const bands = (doc.panels[0]!.config.data.datasets as Dataset[]).filter((d) => / to /.test(d.label));
    // 15 values over ten steps: more than the five one side of a diverging scale would give.
    expect(bands.length).toBeGreaterThan(BANDS / 2);
    const p = palette('dark');
    const colours = bands.map((d) => d.backgroundColor);
    expect(new Set(colours).size).toBe(bands.length);
    // All green shades: each nearer the up colour than the down colour.
    const rgb = (c: string) => c.match(/\d+/g)!.map(Number);
    const dist = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]!));
    const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
    for (const c of colours)
      expect(dist(rgb(c as string), hex(p.up))).toBeLessThan(dist(rgb(c as string), hex(p.down)));
  });
});
