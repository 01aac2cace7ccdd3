/**
 * The market chart with SMC overlays (`/chart BTC/USDT 15m smc`): the spec carries each concept where
 * the reference form puts it, and the rendered PNG shows them (the file is also written to
 * data/cache/test-smc-chart.png for a person to open; it was looked at when this was built).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { marketChart, parseIndicators } from '../../src/charts/market-chart.js';
import { createRenderer } from '../../src/charts/render/index.js';
import { palette } from '../../src/charts/theme.js';
import type { Dataset } from '../../src/charts/types.js';
import { bosChoch, fvg, swingHighsLows } from '../../src/indicators/smc/index.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { ROOT, SAMPLES } from '../helpers/fixtures.js';
import { pixelStats, pngSize } from '../helpers/png.js';

const MIN = 60_000;
const candles = closedOnly(
  resample(loadCandlesFile(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`), MIN, 15 * MIN),
);
const BARS = 200;
const start = candles.length - BARS;

describe('market chart with SMC overlays', () => {
  const doc = marketChart({
    symbol: 'BTC/USDT',
    timeframe: '15m',
    candles,
    bars: BARS,
    indicators: parseIndicators('smc'),
  });
  const sets = doc.panels[0]!.config.data.datasets as Dataset[];
  const labels = sets.map((d) => d.label).filter(Boolean);

  it('has one legend entry per concept; BOS and CHOCH lines are named on the chart at their ends', () => {
    expect(labels).toEqual(expect.arrayContaining(['Swings', 'FVG', 'Order block', 'Liquidity']));
    const structure = sets.filter((d) => (d.data as Array<{ label?: string }>)[1]?.label !== undefined);
    const kinds = new Set(structure.map((d) => (d.data as Array<{ label: string }>)[1]!.label));
    expect([...kinds].sort()).toEqual(['BOS', 'CHOCH']);
    for (const d of structure) {
      expect(d.label).toBe(''); // out of the legend
      const dl = d.datalabels as {
        display: (ctx: { dataIndex: number }) => boolean;
        formatter: (v: { label?: string }) => string;
        color: string;
      };
      // Shown once, at the line's end, in the line's colour; the functions survive being sent as source.
      const display = new Function(`return (${dl.display.toString()})`)() as typeof dl.display;
      const formatter = new Function(`return (${dl.formatter.toString()})`)() as typeof dl.formatter;
      expect([display({ dataIndex: 0 }), display({ dataIndex: 1 })]).toEqual([false, true]);
      expect(formatter((d.data as Array<{ label: string }>)[1]!)).toMatch(/^(BOS|CHOCH)$/);
      expect(dl.color).toBe(d.borderColor);
    }
  });

  it('draws the swings in view as the zigzag, at their levels', () => {
    const swings = swingHighsLows(candles, 5);
    const zigzag = sets.find((d) => d.label === 'Swings')!.data as Array<{ x: number; y: number }>;
    const inView: Array<{ x: number; y: number }> = [];
    for (let i = start; i < candles.length; i++)
      if (!Number.isNaN(swings.highLow[i]!)) inView.push({ x: candles.time[i]!, y: swings.level[i]! });
    expect(zigzag.slice(1)).toEqual(inView); // the first point is the swing before the window
    expect(inView.length).toBeGreaterThan(10);
  });

  it('draws each BOS/CHOCH from its swing to the breaking bar, and gaps as filled boxes to their mitigation', () => {
    const s = bosChoch(candles, swingHighsLows(candles, 5));
    const lines = sets.filter(
      (d) => (d.borderDash as number[] | undefined) !== undefined && d.data.length === 2 && !d.fill,
    );
    let last = -1;
    for (let i = 0; i < candles.length; i++)
      if (!Number.isNaN(s.bos[i]!) && s.brokenIndex[i]! >= start) last = i;
    expect(last).toBeGreaterThan(0);
    const level = s.level[last]!;
    const end = candles.time[s.brokenIndex[last]!]!;
    expect(
      lines.some(
        (d) =>
          (d.data as Array<{ x: number; y: number }>).every((p) => p.y === level) &&
          (d.data[1] as { x: number }).x === end,
      ),
    ).toBe(true);

    const g = fvg(candles);
    const boxes = sets.filter((d) => d.fill !== undefined);
    let k = -1;
    for (let i = start; i < candles.length; i++)
      if (!Number.isNaN(g.fvg[i]!) && g.mitigatedIndex[i]! > 0) k = i;
    const box = boxes.find(
      (d) =>
        (d.data[0] as { x: number }).x === candles.time[k]! && (d.data[0] as { y: number }).y === g.top[k],
    );
    expect(box?.fill).toEqual({ value: g.bottom[k] });
    expect((box!.data[1] as { x: number }).x).toBe(candles.time[g.mitigatedIndex[k]!]);
  });

  it('renders to a PNG with the overlays drawn', async () => {
    const renderer = await createRenderer({ renderer: 'local' });
    const png = await renderer.render(doc);
    expect(pngSize(png)).toEqual({ width: 1280, height: 720 });
    const plain = await renderer.render(
      marketChart({ symbol: 'BTC/USDT', timeframe: '15m', candles, bars: BARS }),
    );
    const bg = palette('dark').background;
    const [withSmc, without] = [await pixelStats(png, bg), await pixelStats(plain, bg)];
    // Boxes and levels cover much more of the plot than candles alone.
    expect(withSmc.share).toBeGreaterThan(without.share * 1.3);
    mkdirSync(`${ROOT}data/cache`, { recursive: true });
    writeFileSync(`${ROOT}data/cache/test-smc-chart.png`, png);
  });
});
