/**
 * Performance numbers from the state: PnL over a window and since the start, win rates, open
 * positions with unrealised PnL, and one point per day for the performance chart. Pure; the daily
 * report, /pnl and /daily all read these.
 */
import type { DailyPerformance } from '../charts/performance-chart.js';
import type { State } from '../store/state.js';
import { startOfDay } from './clock.js';
import { currentStop } from './paper.js';

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

/** The equity at time t: the last snapshot at or before t, else the starting balance. */
function equityAt(s: State, quote: string, t: number, initial: number): number {
  let value = initial;
  for (const e of s.equity) {
    if (e.quote !== quote) continue;
    if (e.time > t) break;
    value = e.equity;
  }
  return value;
}

export function performance(
  s: State,
  opts: { quote: string; initial: number; cash: number; from: number; to: number; tz: string; days?: number },
): PerformanceReport {
  const { quote, initial, from, to } = opts;
  const equity = equityOf(s, quote, opts.cash);
  const trades = s.trades.filter((t) => t.quote === quote);
  const inWindow = trades.filter((t) => t.exitTime >= from && t.exitTime < to);
  let windowRealized = 0;
  const fills = [
    ...trades.flatMap((t) => t.exits),
    ...Object.values(s.positions)
      .filter((p) => p.quote === quote)
      .flatMap((p) => p.exits),
  ];
  for (const f of fills) if (f.time >= from && f.time < to) windowRealized += f.pnl;
  return {
    quote,
    from,
    to,
    initial,
    equity,
    cash: opts.cash,
    windowPnl: equity - equityAt(s, quote, from, initial),
    windowRealized,
    cumulativePnl: equity - initial,
    windowTrades: inWindow.length,
    windowWins: inWindow.filter((t) => t.pnl > 0).length,
    windowLosses: inWindow.filter((t) => t.pnl < 0).length,
    allTrades: trades.length,
    allWins: trades.filter((t) => t.pnl > 0).length,
    allLosses: trades.filter((t) => t.pnl < 0).length,
    open: openPositions(s, quote),
    days: dailySeries(s, quote, initial, equity, to, opts.tz, opts.days ?? 30),
  };
}

/** One point per local day: its PnL and the equity at its end, the current day ending at `now`. */
export function dailySeries(
  s: State,
  quote: string,
  initial: number,
  equityNow: number,
  now: number,
  tz: string,
  maxDays: number,
): DailyPerformance[] {
  const points = s.equity.filter((e) => e.quote === quote);
  const ends = new Map<number, number>();
  for (const e of points) ends.set(startOfDay(e.time - 1, tz), e.equity);
  ends.set(startOfDay(now - 1, tz), equityNow);
  const days = [...ends.entries()].sort((a, b) => a[0] - b[0]);
  const out: DailyPerformance[] = [];
  let previous = initial;
  for (const [time, end] of days) {
    out.push({ time, pnl: end - previous, equity: end });
    previous = end;
  }
  return out.slice(-maxDays);
}
