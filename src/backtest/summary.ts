/**
 * A backtest result as labelled, formatted rows and as the JSON document `--json` writes. Plain data:
 * the CLI prints the rows as a table, chat adapters render them their own way.
 */
import { isoTime, timeframeName } from '../market/timeframe.js';
import type { BacktestResult } from './run.js';
import { describeSizing } from './sizing.js';

export interface CandleInfo {
  count: number;
  timeframe: string;
  start: number;
  end: number;
  source: string;
  symbol?: string;
}

/** What a result ran on, from the result itself plus where the candles came from. */
export function candleInfo(r: BacktestResult, source: string, symbol?: string): CandleInfo {
  const m = r.metrics;
  return {
    count: m.bars,
    timeframe: r.timeframe,
    start: m.startTime,
    end: m.endTime,
    source,
    ...(symbol ? { symbol } : {}),
  };
}

/** A signed percentage, `+12.34%`. */
export const pct = (v: number, digits = 2) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(digits)}%`;
const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** A ratio to two decimals, `n/a` when undefined. */
export const ratio = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));

export function formatDuration(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours < 48) return `${+hours.toFixed(1)}h`;
  const days = hours / 24;
  return days < 365 ? `${+days.toFixed(1)}d` : `${+(days / 365.25).toFixed(2)}y`;
}

export function summaryRows(r: BacktestResult, info: CandleInfo): Array<[string, string]> {
  const m = r.metrics;
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    ['Strategy', `${r.strategy}${params ? ` (${params})` : ''}`],
    [
      'Data',
      `${info.symbol ? `${info.symbol} ` : ''}${info.timeframe}, ${info.count.toLocaleString('en-US')} candles, ${isoTime(m.startTime)} .. ${isoTime(m.endTime)}`,
    ],
    [
      'Settings',
      `capital ${money(r.capital)}, fee ${+(r.fee * 100).toFixed(4)}%, slippage ${r.slippageBps} bps, ${describeSizing(r.sizing)}, ${r.direction}`,
    ],
    ['Final equity', money(m.finalEquity)],
    ['Total return', pct(m.totalReturn)],
    ['Buy and hold', pct(m.buyAndHoldReturn)],
    ['CAGR', pct(m.cagr)],
    [
      'Max drawdown',
      `${pct(-m.maxDrawdown)} (longest ${formatDuration(m.maxDrawdownDurationMs)} under water)`,
    ],
    ['Trades', `${m.trades} (${m.wins} won, ${m.losses} lost, win rate ${(m.winRate * 100).toFixed(1)}%)`],
    ['Profit factor', ratio(m.profitFactor)],
    [
      'Expectancy',
      `${money(m.expectancy)} per trade (avg win ${money(m.avgWin)}, avg loss ${money(m.avgLoss)})`,
    ],
    ['Sharpe / Sortino', `${ratio(m.sharpe)} / ${ratio(m.sortino)}`],
    ['Calmar', ratio(m.calmar)],
    ['Exposure', `${(m.exposure * 100).toFixed(1)}% of bars`],
    ['Fees paid', money(m.totalFees)],
  ];
}

/** The `--json` document: times in epoch ms, money and ratios unrounded. */
export function resultJson(r: BacktestResult, info: CandleInfo) {
  return {
    strategy: r.strategy,
    params: r.params,
    candles: { ...info, timeframe: timeframeName(r.timeframeMs) },
    settings: {
      capital: r.capital,
      fee: r.fee,
      slippageBps: r.slippageBps,
      sizing: r.sizing,
      direction: r.direction,
      exits: r.exits,
    },
    metrics: r.metrics,
    trades: r.simulation.trades.map((t) => ({
      side: t.side,
      entryTime: t.entryTime,
      entryPrice: t.entryPrice,
      exitTime: t.exitTime,
      exitPrice: t.exitPrice,
      quantity: t.quantity,
      pnl: t.pnl,
      exitReason: t.exitReason,
      fees: t.fees,
      bars: t.bars,
      exits: t.exits,
    })),
  };
}
