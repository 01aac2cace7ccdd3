/**
 * Performance numbers from the state: PnL over a window and since the start, win rates, open
 * positions with unrealised PnL, and one point per day for the performance chart, from the working
 * state and the journal. The daily report, /pnl and /daily all read these.
 */
import type { DailyPerformance } from '../charts/performance-chart.js';
import type { Journal } from '../store/journal.js';
import type { State } from '../store/state.js';
import { startOfDay } from './clock.js';
import { currentStop } from './positions.js';

export interface OpenPositionView {
  id: string;
  runId: string;
  symbol: string;
  side: 'long' | 'short';
  quantity: number;
  entryPrice: number;
  mark: number;
  stop: number | null;
  targets: number[];
  /** Price move x quantity at the mark (fees not included). */
  unrealized: number;
}

export interface PerformanceReport {
  quote: string;
  from: number;
  to: number;
  initial: number;
  equity: number;
  cash: number;
  /** Equity change over the window (realised and unrealised). */
  windowPnl: number;
  /** Net results of exit fills in the window. */
  windowRealized: number;
  /** Equity now minus the starting balance. */
  cumulativePnl: number;
  windowTrades: number;
  /** Trades with a net result above 0, and below 0; one of exactly 0 is neither. */
  windowWins: number;
  windowLosses: number;
  allTrades: number;
  allWins: number;
  allLosses: number;
  open: OpenPositionView[];
  days: DailyPerformance[];
}

/** Wins over decided trades (a trade that made exactly nothing is neither); undefined with none. */
export function winRate(wins: number, losses: number): number | undefined {
  return wins + losses > 0 ? wins / (wins + losses) : undefined;
}

export function equityOf(s: State, quote: string, cash: number): number {
  let equity = cash;
  for (const p of Object.values(s.positions)) if (p.quote === quote) equity += p.side * p.qty * p.mark;
  return equity;
}

export function openPositions(s: State, quote?: string): OpenPositionView[] {
  return Object.values(s.positions)
    .filter((p) => quote === undefined || p.quote === quote)
    .map((p) => ({
      id: p.id,
      runId: p.runId,
      symbol: p.symbol,
      side: p.side === 1 ? ('long' as const) : ('short' as const),
      quantity: p.qty,
      entryPrice: p.entryPrice,
      mark: p.mark,
      stop: Number.isNaN(currentStop(p)) ? null : currentStop(p),
      targets: p.targetPrices.slice(p.nextTarget),
      unrealized: p.side * p.qty * (p.mark - p.entryPrice),
    }));
}

/**
 * Performance over [from, to) for one quote currency, read from the journal: every trade and equity
 * point ever kept counts, so a 30-day window is right however many bars it spans.
 */
export async function performance(
  s: State,
  journal: Journal,
  opts: { quote: string; initial: number; cash: number; from: number; to: number; tz: string; days?: number },
): Promise<PerformanceReport> {
  const { quote, initial, from, to } = opts;
  const equity = equityOf(s, quote, opts.cash);
  const [inWindow, all, windowRealized, atFrom, days] = await Promise.all([
    journal.tradeCounts({ quote, from, to }),
    journal.tradeCounts({ quote }),
    journal.realized(quote, from, to),
    journal.equityAt(quote, from),
    dailySeries(journal, quote, initial, equity, to, opts.tz, opts.days ?? 30),
  ]);
  return {
    quote,
    from,
    to,
    initial,
    equity,
    cash: opts.cash,
    windowPnl: equity - (atFrom ?? initial),
    windowRealized,
    cumulativePnl: equity - initial,
    windowTrades: inWindow.trades,
    windowWins: inWindow.wins,
    windowLosses: inWindow.losses,
    allTrades: all.trades,
    allWins: all.wins,
    allLosses: all.losses,
    open: openPositions(s, quote),
    days,
  };
}

/**
 * One point per local day over the last `maxDays` days: its PnL and the equity at its end (the last
 * point of the day; the current day ends at `now` with `equityNow`). Days without points are left
 * out; the first day's PnL counts from the end of the last day before it that has one.
 */
export async function dailySeries(
  journal: Journal,
  quote: string,
  initial: number,
  equityNow: number,
  now: number,
  tz: string,
  maxDays: number,
): Promise<DailyPerformance[]> {
  // Day starts, newest first: a point at time t ends the day that holds t - 1, so day [S, N) ends
  // with its last point in (S, N].
  const starts = [startOfDay(now - 1, tz)];
  while (starts.length < maxDays) starts.push(startOfDay(starts[starts.length - 1]! - 1, tz));
  const ends = await Promise.all(
    starts.slice(1).map((start, k) => journal.lastEquityIn(quote, start, starts[k]!)),
  );
  const out: DailyPerformance[] = [{ time: starts[0]!, pnl: 0, equity: equityNow }];
  ends.forEach((end, k) => {
    if (end !== undefined) out.push({ time: starts[k + 1]!, pnl: 0, equity: end });
  });
  out.reverse();
  let previous = (await journal.equityAt(quote, out[0]!.time)) ?? initial;
  for (const d of out) {
    d.pnl = d.equity - previous;
    previous = d.equity;
  }
  return out;
}
