/**
 * Kept backtests in words and rows: the list, one shown again (its summary, as when it ran), and
 * several side by side. Plain data, like `summary.ts`: the CLI prints it, chats render it.
 */
import type { BacktestListing, KeptBacktest } from '../store/backtests.js';
import { BREAKDOWN_HEADER, type Breakdown, breakdownRows } from './breakdown.js';
import { describeSizing, type Sizing } from './sizing.js';
import {
  entryCell,
  feeText,
  formatDuration,
  pct,
  ratio,
  summaryRows,
  tooShortToAnnualise,
} from './summary.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const params = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

/** A kept backtest's summary rows, as they were when it ran. */
export function keptRows(k: KeptBacktest): Array<[string, string]> {
  const r = {
    strategy: k.strategy,
    params: k.params,
    capital: k.settings.capital,
    fee: k.settings.fee,
    maker: k.settings.maker,
    slippageBps: k.settings.slippageBps,
    sizing: k.settings.sizing as Sizing,
    direction: k.settings.direction as 'long' | 'short' | 'both',
    metrics: k.metrics,
    market: k.settings.market,
    portfolio: k.settings.portfolio,
    runs: k.settings.runs,
    entry: k.settings.entry,
    entries: k.settings.entries,
    benchmark: k.benchmark,
  };
  return [
    [
      'Kept',
      `${k.id}, run by ${k.by} on ${new Date(k.createdAt).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    ],
    ...summaryRows(r, k.candles, k.rulesReport),
  ];
}

/**
 * One entry per kept backtest, newest first: its id, when and by whom, what ran on which candles,
 * and how it did.
 */
export function listLines(
  list: readonly BacktestListing[],
): Array<{ id: string; when: string; what: string; result: string }> {
  return list.map((b) => ({
    id: b.id,
    when: `${minute(b.createdAt)} UTC by ${b.by}`,
    what: `${b.strategy}${b.rules === 'engine' ? ' (engine rules)' : ''} ${b.symbol ? `${b.symbol} ` : ''}${b.timeframe}, ${day(b.startTime)} .. ${day(b.endTime)} (${formatDuration(b.endTime - b.startTime)})`,
    result: `${pct(b.totalReturn)} over ${b.trades} trade${b.trades === 1 ? '' : 's'}`,
  }));
}

/** Kept backtests side by side: a header row of ids, then one row per figure. */
export function compareRows(kept: readonly KeptBacktest[]): string[][] {
  const row = (label: string, f: (k: KeptBacktest) => string) => [label, ...kept.map(f)];
  const short = (k: KeptBacktest) => tooShortToAnnualise(k.metrics) !== undefined;
  return [
    ['', ...kept.map((k) => k.id)],
    row('Strategy', (k) => k.strategy),
    row('Parameters', (k) => params(k.params) || 'defaults'),
    row('Rules', (k) => k.rules),
    row('Market', (k) => `${k.candles.symbol ?? ''} ${k.candles.timeframe}`.trim()),
    row('From', (k) => day(k.metrics.startTime)),
    row('To', (k) => day(k.metrics.endTime)),
    row('Capital', (k) => money(k.settings.capital)),
    row('Costs', (k) => `fee ${feeText(k.settings)}, ${k.settings.slippageBps} bps`),
    row('Sizing', (k) =>
      k.rules === 'engine' ? 'engine rules' : describeSizing(k.settings.sizing as Sizing),
    ),
    row('Entries', (k) => entryCell(k.settings.entry)),
    row('Exchange', (k) =>
      k.settings.entry === undefined
        ? 'not recorded'
        : k.settings.market === null
          ? 'off'
          : (k.settings.market?.source ?? (k.settings.portfolio ? 'per market' : 'none known')),
    ),
    row('Final equity', (k) => money(k.metrics.finalEquity)),
    row('Return', (k) => pct(k.metrics.totalReturn)),
    row('Buy and hold', (k) => pct(k.metrics.buyAndHoldReturn)),
    row('CAGR', (k) => (short(k) ? 'n/a' : pct(k.metrics.cagr))),
    row('Max drawdown', (k) => pct(-k.metrics.maxDrawdown)),
    row('Trades', (k) => String(k.metrics.trades)),
    row('Win rate', (k) => `${(k.metrics.winRate * 100).toFixed(1)}%`),
    row('Profit factor', (k) => ratio(k.metrics.profitFactor)),
    row('Sharpe', (k) => (short(k) ? 'n/a' : ratio(k.metrics.sharpe))),
    row('Exposure', (k) => `${(k.metrics.exposure * 100).toFixed(1)}%`),
    row('Fees', (k) => money(k.metrics.totalFees)),
  ];
}

/** The legend label of a kept backtest in a comparison chart. */
export function keptLabel(k: KeptBacktest): string {
  // A long parameter list is cut so the legend stays on the chart (the table has them all).
  const p = params(k.params);
  const shown = p.length > LABEL_PARAMS ? `${p.slice(0, LABEL_PARAMS - 1).trimEnd()}…` : p;
  return `${k.id} ${k.strategy}${shown ? ` ${shown}` : ''} ${k.candles.timeframe}${k.rules === 'engine' ? ', engine rules' : ''}`;
}

/** Characters of parameters a legend label shows at most. */
const LABEL_PARAMS = 40;

/** When kept backtests' spans share no time, a line saying so (the chart shows each at its own dates). */
export function overlapNote(kept: readonly KeptBacktest[]): string | undefined {
  const start = Math.max(...kept.map((k) => k.metrics.startTime));
  const end = Math.min(...kept.map((k) => k.metrics.endTime));
  if (start < end) return undefined;
  return `Their spans do not overlap (${kept.map((k) => `${k.id} ${day(k.metrics.startTime)} .. ${day(k.metrics.endTime)}`).join('; ')}): the chart shows each at its own dates.`;
}

/**
 * The trades of runs on one account by market and by run (those given), as titled tables: a
 * portfolio's reply and its kept record show the same ones.
 */
export function togetherTables(
  b: { byMarket?: Breakdown[] | undefined; byRun?: Breakdown[] | undefined },
  fmt: (v: number) => string,
): Array<{ title: string; header: string[]; rows: string[][] }> {
  const tables: Array<[string, Breakdown[] | undefined]> = [
    ['By market', b.byMarket],
    ['By run', b.byRun],
  ];
  return tables.flatMap(([title, list]) =>
    list ? [{ title, header: [...BREAKDOWN_HEADER], rows: breakdownRows(list, fmt) }] : [],
  );
}
