/**
 * What a backtest's totals hide: each trade's worst and best moment (MAE / MFE), the results by exit
 * reason and by month, and buy-and-hold measured like the strategy (its drawdown and Sharpe, from
 * the same metrics function).
 */
import { indexAtOrAfter } from '../market/types.js';
import { computeMetrics } from './metrics.js';
import type { BacktestResult } from './run.js';
import type { Trade } from './types.js';

export interface Excursion {
  /** Maximum adverse excursion: the worst price against the trade while it was open, a fraction of its entry (<= 0). */
  mae: number;
  /** Maximum favourable excursion: the best price for it, a fraction of its entry (>= 0). */
  mfe: number;
}

/**
 * MAE and MFE of each trade, from the highs and lows of the bars it was open: its entry bar through
 * its last exit's bar (a bar's range includes prices before the fill in it; the same for both).
 */
export function excursions(
  r: Pick<BacktestResult, 'candles' | 'marketCandles'>,
  trades: readonly Trade[],
): Excursion[] {
  return trades.map((t) => {
    // A portfolio's trade against its own market's candles, not the basket's.
    const { time, high, low } = (t.symbol !== undefined && r.marketCandles?.get(t.symbol)) || r.candles;
    const from = Math.min(indexAtOrAfter(time, t.entryTime), time.length - 1);
    const to = Math.min(indexAtOrAfter(time, t.exitTime), time.length - 1);
    let hi = -Infinity;
    let lo = Infinity;
    for (let i = from; i <= to; i++) {
      if (high[i]! > hi) hi = high[i]!;
      if (low[i]! < lo) lo = low[i]!;
    }
    const up = hi / t.entryPrice - 1;
    const down = lo / t.entryPrice - 1;
    return t.side === 'long'
      ? { mae: Math.min(0, down), mfe: Math.max(0, up) }
      : { mae: Math.min(0, -up), mfe: Math.max(0, -down) };
  });
}

export interface Breakdown {
  key: string;
  trades: number;
  wins: number;
  losses: number;
  pnl: number;
  fees: number;
}

/** What a breakdown reads of a trade: a backtest's, or a journaled one (with its symbol). */
type Closed = Pick<Trade, 'pnl' | 'fees' | 'exitTime'> & { exitReason: string };

function group<T extends Closed>(trades: readonly T[], keyOf: (t: T) => string): Breakdown[] {
  const out = new Map<string, Breakdown>();
  for (const t of trades) {
    const key = keyOf(t);
    const b = out.get(key) ?? { key, trades: 0, wins: 0, losses: 0, pnl: 0, fees: 0 };
    b.trades++;
    if (t.pnl > 0) b.wins++;
    else if (t.pnl < 0) b.losses++;
    b.pnl += t.pnl;
    b.fees += t.fees;
    out.set(key, b);
  }
  return [...out.values()];
}

/** By the reason the trade ended (its last exit's), most trades first. */
export function byExitReason(trades: readonly Closed[]): Breakdown[] {
  return group(trades, (t) => t.exitReason).sort((a, b) => b.trades - a.trades || (a.key < b.key ? -1 : 1));
}

/** By the month (UTC) a trade closed in, in time order: `2024-03`. */
export function byMonth(trades: readonly Closed[]): Breakdown[] {
  return group(trades, (t) => new Date(t.exitTime).toISOString().slice(0, 7)).sort((a, b) =>
    a.key < b.key ? -1 : 1,
  );
}

/** By market, most trades first. */
export function bySymbol(trades: ReadonlyArray<Closed & { symbol: string }>): Breakdown[] {
  return group(trades, (t) => t.symbol).sort((a, b) => b.trades - a.trades || (a.key < b.key ? -1 : 1));
}

/** The breakdown by market with a row for every market of a portfolio, those that made no trade too (last). */
export function byMarket(
  symbols: readonly string[],
  trades: ReadonlyArray<Closed & { symbol: string }>,
): Breakdown[] {
  const traded = bySymbol(trades);
  const idle = symbols
    .filter((s) => !traded.some((b) => b.key === s))
    .map((key) => ({ key, trades: 0, wins: 0, losses: 0, pnl: 0, fees: 0 }));
  return [...traded, ...idle];
}

/** By a key each trade carries (a run's `ema-cross BTC/USDT`), every key given in its order, idle ones too. */
export function byKey(keys: readonly string[], trades: ReadonlyArray<Closed & { key: string }>): Breakdown[] {
  const found = group(trades, (t) => t.key);
  return keys.map(
    (key) => found.find((b) => b.key === key) ?? { key, trades: 0, wins: 0, losses: 0, pnl: 0, fees: 0 },
  );
}

/** Buy-and-hold over the same candles and capital, measured as the strategy is: return, drawdown, Sharpe. */
export function buyAndHold(r: Pick<BacktestResult, 'candles' | 'capital' | 'timeframeMs'>): {
  totalReturn: number;
  maxDrawdown: number;
  sharpe: number;
} {
  const { close } = r.candles;
  const n = close.length;
  const equity = new Float64Array(n);
  for (let i = 0; i < n; i++) equity[i] = (r.capital * close[i]!) / close[0]!;
  const m = computeMetrics(
    r.candles,
    { trades: [], equity, inMarket: new Uint8Array(n).fill(1), skippedEntries: 0, belowMinimum: 0 },
    r.capital,
    r.timeframeMs,
  );
  return { totalReturn: m.totalReturn, maxDrawdown: m.maxDrawdown, sharpe: m.sharpe };
}

/** A breakdown's rows for a table: key, trades, win rate (of wins and losses), PnL. */
export function breakdownRows(list: readonly Breakdown[], money: (v: number) => string): string[][] {
  return list.map((b) => [
    b.key,
    String(b.trades),
    b.wins + b.losses > 0 ? `${((b.wins / (b.wins + b.losses)) * 100).toFixed(0)}%` : '-',
    money(b.pnl),
  ]);
}

/** The header of {@link breakdownRows}. */
export const BREAKDOWN_HEADER = ['', 'trades', 'win', 'PnL'];
