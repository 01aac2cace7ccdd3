/**
 * The performance chart for reports: the cumulative equity line over daily PnL bars (green up,
 * red down), with the period's totals in the subtitle.
 */
import { badInput } from '../errors.js';
import { barDataset, lineDataset, panel } from './datasets.js';
import { palette } from './theme.js';
import { type ChartDocument, type ChartStyle, chartLayout } from './types.js';

export interface DailyPerformance {
  /** Start of the day, epoch ms. */
  time: number;
  /** Realised and unrealised PnL of that day, quote currency. */
  pnl: number;
  /** Account value at the end of that day. */
  equity: number;
}

const DAY = 86_400_000;
const money = (v: number) =>
  `${v >= 0 ? '+' : ''}${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function performanceChart(
  days: readonly DailyPerformance[],
  title: string,
  quote = 'USDT',
  style: ChartStyle = {},
): ChartDocument {
  if (days.length === 0) throw badInput('no days to chart yet');
  const { width, height, theme, timezone, pixelRatio } = chartLayout(style);
  const p = palette(theme);
  const from = days[0]!.time;
  const to = days[days.length - 1]!.time + DAY;
  const total = days.reduce((s, d) => s + d.pnl, 0);
  const start = days[0]!.equity - days[0]!.pnl;
  const up = days.filter((d) => d.pnl > 0).length;
  const best = Math.max(...days.map((d) => d.pnl));
  const worst = Math.min(...days.map((d) => d.pnl));
  const subtitle = [
    `PnL ${money(total)} ${quote}${start > 0 ? ` (${money((total / start) * 100)}%)` : ''}`,
    `Winning days ${up}/${days.length}`,
    `Best ${money(best)}`,
    `Worst ${money(worst)}`,
  ].join(' · ');

  const axis = { from, to, timezone };
  return {
    width,
    height,
    pixelRatio,
    theme,
    background: p.background,
    panels: [
      panel(p, {
        ...axis,
        weight: 0.6,
        showDates: false,
        title: { text: title, subtitle },
        datasets: [
          // Equity at each day's end, starting from the opening equity at the left edge.
          lineDataset(
            `Equity (${quote})`,
            [{ x: from, y: start }, ...days.map((d) => ({ x: d.time + DAY, y: d.equity }))],
            p.equity,
            {
              borderWidth: 2,
              pointRadius: days.length <= 60 ? 2.5 : 0,
            },
          ),
        ],
      }),
      panel(p, {
        ...axis,
        weight: 0.4,
        type: 'bar',
        showDates: true,
        datasets: [
          barDataset(
            `Daily PnL (${quote})`,
            days.map((d) => ({ x: d.time + DAY / 2, y: d.pnl })),
            days.map((d) => (d.pnl >= 0 ? p.up : p.down)),
            { barPercentage: 0.8 },
          ),
        ],
      }),
    ],
  };
}
