import type { MarketRules } from '../market/rules.js';
import type { Direction, ExitRules } from '../strategy/define.js';
import type { EntryFill, ExitFill, ExitReason } from './fills.js';
import type { Sizing } from './sizing.js';

export interface SimulationOptions {
  /** Starting capital in quote currency. */
  capital: number;
  /** Taker fee per side (market orders, stops), fraction of notional. */
  fee: number;
  /** Maker fee (take-profits, limit entries); the taker fee when absent. */
  maker?: number;
  /** Slippage on market fills, in basis points. */
  slippageBps: number;
  /** The market's exchange rules (amount step, minimums, price tick); none: fills are not rounded. */
  market?: MarketRules;
  /** How entries are made (default: market orders at the next open). */
  entry?: EntryOrders;
  sizing: Sizing;
  direction: Direction;
  exits: ExitRules;
  /** Called every 65,536 bars with the share done (0..1). */
  onProgress?: (done: number) => void;
}

/**
 * Entry orders: market at the next open, or a limit (below the close for a buy) or stop (above it)
 * order `offset` (a fraction) from the signal's close, working for `expiryBars` bars; an unfilled limit
 * order may fall back to a market entry (`fallback`).
 */
export type EntryOrders =
  | { type: 'market' }
  | { type: 'limit'; offset: number; expiryBars: number; fallback?: 'market' | 'none' }
  | { type: 'stop'; offset: number; expiryBars: number };

export interface Trade {
  /** The market, in a portfolio of several (a single market's trades leave it out). */
  symbol?: string;
  /** The run's strategy, in a backtest of several strategies. */
  strategy?: string;
  side: 'long' | 'short';
  entryTime: number;
  entryPrice: number;
  /** Time of the last exit fill. */
  exitTime: number;
  /** Quantity-weighted average exit price over all exit fills. */
  exitPrice: number;
  /** Quantity entered. */
  quantity: number;
  /** Net result after both sides' fees. */
  pnl: number;
  /** pnl relative to the entry notional. */
  returnPct: number;
  fees: number;
  /** Reason of the last exit fill. */
  exitReason: ExitReason;
  /** Bars the position was open. */
  bars: number;
  /** Every exit fill (several with partial take-profits). */
  exits: ExitFill[];
  /**
   * With adds (an entry ladder, DCA) that filled: every entry fill, the first then each add;
   * `entryPrice` is then their average and `quantity` their sum.
   */
  entries?: EntryFill[];
}

export interface Simulation {
  trades: Trade[];
  /** Account value at each bar's close. */
  equity: Float64Array;
  /** 1 where a position was open at the bar's close. */
  inMarket: Uint8Array;
  /** Entries skipped (risk sizing with no usable stop, no equity left, under the exchange's minimums). */
  skippedEntries: number;
  /** Of those, entries under the exchange's minimum amount or order value. */
  belowMinimum: number;
  /** Of those, entries whose price was already beyond the signal's stop (optional: older records). */
  beyondStop?: number;
  /**
   * Limit or stop entry orders: how many were placed, expired unfilled, withdrawn by an exit signal,
   * and still working after the last bar.
   */
  entryOrders?: { placed: number; expired: number; withdrawn: number; working?: number };
}

export interface Metrics {
  startTime: number;
  endTime: number;
  bars: number;
  initialCapital: number;
  finalEquity: number;
  totalReturn: number;
  cagr: number;
  trades: number;
  wins: number;
  losses: number;
  winRate: number;
  /** Gross profit / gross loss; null when there was no losing trade. */
  profitFactor: number | null;
  /** Average net result per trade, quote currency. */
  expectancy: number;
  avgWin: number;
  avgLoss: number;
  bestTrade: number;
  worstTrade: number;
  totalFees: number;
  /** Largest peak-to-trough fall of equity at closes, as a fraction. */
  maxDrawdown: number;
  /** Longest time equity spent below a previous peak, ms. */
  maxDrawdownDurationMs: number;
  /** Annualised, from per-bar returns, risk-free rate 0. */
  sharpe: number;
  sortino: number | null;
  calmar: number | null;
  /** Share of bars with a position open. */
  exposure: number;
  /** Close of the last bar over close of the first, minus one. */
  buyAndHoldReturn: number;
}

/**
 * A backtest under the engine's rules (`--rules engine`): what those rules did besides the trades.
 * Plain backtests have none.
 */
export interface RulesReport {
  /** The risk settings in force, in words. */
  risk: string;
  /** How the regime was read, or why it was not. */
  regime: string;
  /** Entry signals in all. */
  signals: number;
  /**
   * Entry signals refused, and approved entries skipped, by kind of reason without the numbers of
   * the moment (`cooldown after a loss`), most frequent first.
   */
  refused: Array<{ reason: string; count: number }>;
}
