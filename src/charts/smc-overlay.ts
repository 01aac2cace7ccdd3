/**
 * Smart Money Concepts drawn on the market chart (`/chart BTC/USDT 15m smc`): the swing zigzag, BOS and
 * CHOCH levels from the broken swing to the breaking bar, fair value gaps and order blocks as boxes
 * from their candle until mitigated (or the chart's end), and liquidity levels until swept.
 *
 * Charts use the reference forms, which mark each concept at the bar it refers to; that is how traders
 * read them. Only what reaches into the drawn window is drawn, and the most recent boxes first, so a
 * long window stays readable.
 */
import * as smc from '../indicators/smc/index.js';
import type { Candles } from '../market/types.js';
import { FONT } from './axes.js';
import { lineDataset } from './datasets.js';
import type { Palette, SeriesColours } from './theme.js';
import type { Dataset } from './types.js';

/** At most this many boxes of each kind (the latest). */
const MAX_BOXES = 25;
const MAX_LINES = 40;

/** '#rrggbb' with an alpha (0-1) as '#rrggbbaa'. */
function alpha(color: string, a: number): string {
  if (!/^#[0-9a-f]{6}$/i.test(color)) return color;
  return `${color}${Math.round(a * 255)
    .toString(16)
    .padStart(2, '0')}`;
}

export interface SmcOverlayInput {
  /** All candles (concepts are computed over all of them). */
  all: Candles;
  /** First drawn bar's index in `all`. */
  start: number;
  /** Time where the chart ends (after the last bar). */
  to: number;
  swingLength: number;
  /** Price range of the drawn candles: levels far outside it are left out so the axis keeps its scale. */
  low: number;
  high: number;
}

/**
 * A label at a level line's right end (chartjs-plugin-datalabels, which QuickChart has too), so each
 * BOS and CHOCH line says what it is where it is drawn, not only in the legend.
 */
function endLabel(color: string): Record<string, unknown> {
  return {
    // Self-contained functions (they are sent to QuickChart as source): the text rides on the point.
    display: (ctx: { dataIndex: number }) => ctx.dataIndex === 1,
    formatter: (value: { label?: string }) => value.label ?? '',
    align: 'top',
    anchor: 'center',
    offset: 0,
    color,
    font: { size: FONT.label, weight: '600' },
    clip: false,
  };
}

export function smcDatasets(input: SmcOverlayInput, p: Palette, colours: SeriesColours): Dataset[] {
  const { all, start, to, swingLength } = input;
  const n = all.length;
  const margin = (input.high - input.low) * 0.15;
  const inRange = (...ys: number[]) => ys.every((y) => y >= input.low - margin && y <= input.high + margin);
  const t = (i: number) => (i >= n ? to : all.time[i]!);
  const swings = smc.swingHighsLows(all, swingLength);
  const out: Dataset[] = [];

  // Swing zigzag through the swings in view (and the one before, so the line enters from the left).
  const points: Array<{ x: number; y: number }> = [];
  let before: { x: number; y: number } | undefined;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(swings.highLow[i]!)) continue;
    const pt = { x: all.time[i]!, y: swings.level[i]! };
    if (i < start) before = pt;
    else points.push(pt);
  }
  if (before) points.unshift(before);
  out.push(
    lineDataset('Swings', points, p.muted, {
      borderWidth: 1,
      pointRadius: 2.5,
      order: 1,
    }),
  );

  // BOS / CHOCH: a level from the broken swing to the bar that broke it.
  const structure = smc.bosChoch(all, swings);
  const structureColour = { BOS: colours.next(), CHOCH: colours.next() };
  const segments: Dataset[] = [];
  for (let i = 0; i < n; i++) {
    const kind = !Number.isNaN(structure.bos[i]!) ? 'BOS' : !Number.isNaN(structure.choch[i]!) ? 'CHOCH' : '';
    if (!kind) continue;
    const end = structure.brokenIndex[i]!;
    if (end < start || !inRange(structure.level[i]!)) continue;
    const color = structureColour[kind];
    const y = structure.level[i]!;
    segments.push(
      // Named on the chart at the line's end, not in the legend.
      lineDataset(
        '',
        [
          { x: t(Math.max(i, start)), y },
          { x: t(end), y, label: kind },
        ],
        color,
        {
          borderWidth: 1.2,
          borderDash: kind === 'CHOCH' ? [6, 3] : [],
          order: 1,
          datalabels: endLabel(color),
        },
      ),
    );
  }
  out.push(...segments.slice(-MAX_LINES));

  // Boxes: fair value gaps and order blocks, from their candle to the mitigating bar or the end; the
  // latest MAX_BOXES of each kind, the first of them named in the legend.
  const boxes = (
    label: string,
    z: { side: Float64Array; top: Float64Array; bottom: Float64Array; mitigatedIndex: Float64Array },
    up: string,
    down: string,
  ): Dataset[] => {
    const sets: Dataset[] = [];
    for (let i = 0; i < n; i++) {
      const d = z.side[i]!;
      if (Number.isNaN(d)) continue;
      const m = z.mitigatedIndex[i]!;
      const until = m > 0 ? m : n;
      const top = z.top[i]!;
      const bottom = z.bottom[i]!;
      if (until < start || !inRange(top, bottom)) continue;
      const color = d === 1 ? up : down;
      sets.push(
        lineDataset(
          '',
          [
            { x: t(Math.max(i, start)), y: top },
            { x: t(until), y: top },
          ],
          alpha(color, 0.5),
          { borderWidth: 0.8, backgroundColor: alpha(color, 0.18), fill: { value: bottom }, order: 3 },
        ),
      );
    }
    const kept = sets.slice(-MAX_BOXES);
    if (kept[0]) kept[0].label = label;
    return kept;
  };
  const gaps = smc.fvg(all);
  out.push(...boxes('FVG', { ...gaps, side: gaps.fvg }, p.up, p.down));
  const blocks = smc.orderBlocks(all, swings);
  const blockColour = colours.next();
  out.push(...boxes('Order block', { ...blocks, side: blocks.ob }, blockColour, blockColour));

  // Liquidity: equal highs or lows, from the first swing until swept.
  const pools = smc.liquidity(all, swings, 0.01);
  const levels: Dataset[] = [];
  const liquidityColour = colours.next();
  for (let i = 0; i < n; i++) {
    const d = pools.liquidity[i]!;
    if (Number.isNaN(d)) continue;
    const swept = pools.swept[i]!;
    const until = swept > 0 ? swept : n;
    const y = pools.level[i]!;
    if (until < start || !inRange(y)) continue;
    levels.push(
      lineDataset(
        '',
        [
          { x: t(Math.max(i, start)), y },
          { x: t(until), y },
        ],
        liquidityColour,
        {
          borderWidth: 1.2,
          borderDash: [2, 3],
          order: 1,
        },
      ),
    );
  }
  const keptLevels = levels.slice(-MAX_LINES);
  if (keptLevels[0]) keptLevels[0].label = 'Liquidity';
  out.push(...keptLevels);
  return out;
}
