/**
 * Running a strategy over candles: parameters checked, informative timeframes resampled and aligned,
 * signals computed once, then the simulation and its metrics. Pure apart from the progress callback:
 * the same input gives the same result, to the cent.
 */
import { AppError, badInput } from '../errors.js';
import { alignClosed, resample } from '../market/resample.js';
import type { MarketRules } from '../market/rules.js';
import { inferTimeframeMs, timeframeMs, timeframeName } from '../market/timeframe.js';
import { type Candles, indexAtOrAfter, sliceCandles } from '../market/types.js';
import type {
  AddLevel,
  Direction,
  ExitRules,
  InformativeSeries,
  LinePlot,
  Signals,
  Strategy,
  StrategyContext,
} from '../strategy/define.js';
import { parseParams } from '../strategy/params.js';
import { computeMetrics } from './metrics.js';
import { simulate } from './simulate.js';
import type { Sizing } from './sizing.js';
import type { EntryOrders, Metrics, Simulation } from './types.js';

export interface BacktestOptions {
  capital?: number;
  /** Taker fee (market orders, stops). */
  fee?: number;
  /** Maker fee (take-profits, limit entries); default: the taker fee. */
  maker?: number;
  slippageBps?: number;
  /** The market's exchange rules (amount step, minimums, price tick); none, or null (off): fills are not rounded. */
  market?: MarketRules | null;
  /** How entries are made (default: market orders at the next open). */
  entry?: EntryOrders;
  sizing?: Sizing;
  /** Sides to trade (default: the strategy's direction, else long). */
  direction?: Direction;
  /** Overrides of the strategy's exit rules, key by key. */
  exits?: ExitRules;
  /** Bar spacing of the data; inferred when omitted. */
  timeframeMs?: number;
  /**
   * Trade and measure from this time on (epoch ms); earlier candles only warm the indicators up.
   * Signals are computed over all candles, which is sound because they never look ahead.
   */
  tradeFrom?: number;
  onProgress?: (done: number) => void;
}

export interface BacktestResult {
  strategy: string;
  params: Record<string, unknown>;
  timeframe: string;
  timeframeMs: number;
  capital: number;
  fee: number;
  /** The maker fee, when it differs from the taker fee `fee`. */
  maker?: number;
  slippageBps: number;
  /** The exchange rules the fills obeyed, when known; null when turned off. */
  market?: MarketRules | null;
  /** A portfolio's markets (several on one account) and the exchange rules each obeyed, when known. */
  portfolio?: Array<{ symbol: string; rules?: MarketRules | null }>;
  /** Several runs on one account: each, as `ema-cross BTC/USDT`. */
  runs?: string[];
  /** A portfolio's candles of each market (its `candles` are the basket's); in memory only. */
  marketCandles?: ReadonlyMap<string, Candles>;
  entry: EntryOrders;
  sizing: Sizing;
  direction: Direction;
  exits: ExitRules;
  /** The candles traded (from tradeFrom on), with signals, simulation and metrics over the same bars. */
  candles: Candles;
  signals: Signals;
  /** How the strategy draws each of its indicator lines (see `LinePlot`). */
  plot: Readonly<Record<string, LinePlot>>;
  simulation: Simulation;
  metrics: Metrics;
}

export const BACKTEST_DEFAULTS = { capital: 10_000, fee: 0.001, slippageBps: 0 } as const;

export function runBacktest(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  candles: Candles,
  options: BacktestOptions = {},
): BacktestResult {
  const params = parseParams(strategy, rawParams);
  const capital = options.capital ?? BACKTEST_DEFAULTS.capital;
  const fee = options.fee ?? BACKTEST_DEFAULTS.fee;
  const slippageBps = options.slippageBps ?? BACKTEST_DEFAULTS.slippageBps;
  if (!(capital > 0)) throw badInput(`capital is ${capital}; allowed: a positive amount`);
  if (!(fee >= 0 && fee <= 0.1))
    throw badInput(`fee is ${fee}; allowed: a fraction from 0 to 0.1 (0.001 = 0.1%)`);
  const maker = options.maker;
  if (maker !== undefined && !(maker >= 0 && maker <= 0.1))
    throw badInput(`maker fee is ${maker}; allowed: a fraction from 0 to 0.1 (0.001 = 0.1%)`);
  const entry = checkEntry(options.entry ?? { type: 'market' });
  if (!(slippageBps >= 0 && slippageBps <= 1000))
    throw badInput(`slippage is ${slippageBps} bps; allowed: 0 to 1000`);

  const tfMs = options.timeframeMs ?? inferTimeframeMs(candles.time);
  if (tfMs === undefined || candles.length < 2)
    throw badInput(`the data has ${candles.length} candle(s); a backtest needs at least 2`);
  const warmup = strategy.warmup(params);
  if (candles.length <= warmup) {
    throw badInput(
      `the data has ${candles.length} candles; ${strategy.name} with these parameters needs more than ${warmup} (its warm-up)`,
    );
  }
  const ctx: StrategyContext = { timeframeMs: tfMs, informative: informativeSeries(strategy, candles, tfMs) };
  const exits = checkExits({ ...strategy.exits?.(params), ...options.exits });
  // A strategy with a position cap trades that share of equity unless the run says otherwise.
  const cap = strategy.risk?.maxPositionSize;
  const sizing: Sizing =
    options.sizing ?? (cap !== undefined ? { mode: 'fraction', fraction: cap } : { mode: 'all-in' });
  const direction = options.direction ?? strategy.direction ?? 'long';

  const signals = strategy.signals(candles, params, ctx);
  checkSignals(signals, candles.length, strategy.name);
  if (sizing.mode === 'risk' && exits.stopLoss === undefined && !signals.stop) {
    throw badInput(
      `risk sizing needs a stop-loss: set one (e.g. --stop 0.02) or use a strategy that sets stops`,
    );
  }

  const start = options.tradeFrom === undefined ? 0 : indexAtOrAfter(candles.time, options.tradeFrom);
  if (candles.length - start < 2)
    throw badInput('fewer than 2 candles remain after the start time; widen the range');
  const traded = start === 0 ? candles : sliceCandles(candles, start);
  const tradedSignals = start === 0 ? signals : sliceSignals(signals, start);
  const simulation = simulate(traded, tradedSignals, {
    capital,
    fee,
    ...(maker !== undefined ? { maker } : {}),
    slippageBps,
    ...(options.market ? { market: options.market } : {}),
    entry,
    sizing,
    direction,
    exits,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  return {
    strategy: strategy.name,
    params,
    timeframe: timeframeName(tfMs),
    timeframeMs: tfMs,
    capital,
    fee,
    ...(maker !== undefined ? { maker } : {}),
    slippageBps,
    ...(options.market !== undefined ? { market: options.market } : {}),
    entry,
    sizing,
    direction,
    exits,
    candles: traded,
    signals: tradedSignals,
    plot: strategy.plot?.(params) ?? {},
    simulation,
    metrics: computeMetrics(traded, simulation, capital, tfMs),
  };
}

/** Resample the main candles into each informative timeframe the strategy declares. */
export function informativeSeries(
  strategy: Strategy,
  candles: Candles,
  tfMs: number,
): Record<string, InformativeSeries> {
  const out: Record<string, InformativeSeries> = {};
  for (const [key, tf] of Object.entries(strategy.timeframes)) {
    if (key === 'main') continue;
    out[key] = alignedTimeframe(strategy.name, key, tf, candles, tfMs);
  }
  return out;
}

/**
 * One higher timeframe resampled from the main candles, with each main bar's last closed candle of it.
 * Strategies whose timeframes are parameters call it themselves.
 */
export function alignedTimeframe(
  strategyName: string,
  key: string,
  tf: string,
  candles: Candles,
  tfMs: number,
): InformativeSeries {
  const ms = timeframeMs(tf);
  if (ms < tfMs || ms % tfMs !== 0) {
    throw badInput(
      `${strategyName} needs ${tf} candles (${key}), which ${timeframeName(tfMs)} data cannot serve; use data whose timeframe divides ${tf}`,
    );
  }
  const htf = resample(candles, tfMs, ms);
  return { timeframe: tf, candles: htf, index: alignClosed(candles.time, tfMs, htf.time, ms) };
}

/**
 * `market`, `limit:OFFSET:BARS[:market]` or `stop:OFFSET:BARS` (OFFSET as 0.002 or 0.2%), from the
 * CLI's --entry and chat's entry=.
 */
export function parseEntry(text: string): EntryOrders {
  const allowed =
    'allowed: market, limit:OFFSET:BARS (e.g. limit:0.2%:3, add :market to enter at market when it expires), or stop:OFFSET:BARS';
  const [type, offset, bars, fallback, extra] = text.split(':');
  if (type === 'market' && offset === undefined) return { type };
  if (
    (type !== 'limit' && type !== 'stop') ||
    offset === undefined ||
    bars === undefined ||
    extra !== undefined
  )
    throw badInput(`entry "${text}" is not valid; ${allowed}`);
  const percent = offset.endsWith('%');
  const value = Number(percent ? offset.slice(0, -1) : offset);
  const expiryBars = Number(bars);
  if (offset.trim() === '' || !Number.isFinite(value))
    throw badInput(`entry "${text}": the offset "${offset}" is not a number; ${allowed}`);
  const fraction = percent ? value / 100 : value;
  if (!(fraction >= 0 && fraction <= 0.2))
    throw badInput(`entry "${text}": the offset ${offset} is out of range; allowed: 0 to 20% (0.2)`);
  if (fallback !== undefined && !(type === 'limit' && (fallback === 'market' || fallback === 'none')))
    throw badInput(
      `entry "${text}": ${type === 'limit' ? `"${fallback}" is not market or none` : 'only a limit entry falls back to market'}; ${allowed}`,
    );
  return checkEntry(
    type === 'limit'
      ? {
          type,
          offset: fraction,
          expiryBars,
          ...(fallback === 'market' ? { fallback } : {}),
        }
      : { type, offset: fraction, expiryBars },
  );
}

/** Entry orders at the edge: an offset from 0 to 20 %, 1 to 1,000 bars. */
export function checkEntry(e: EntryOrders): EntryOrders {
  if (e.type === 'market') return e;
  if (!(e.offset >= 0 && e.offset <= 0.2))
    throw badInput(
      `the ${e.type} entry's offset is ${e.offset}; allowed: a fraction from 0 to 0.2 (0.002 = 0.2%)`,
    );
  if (!(Number.isInteger(e.expiryBars) && e.expiryBars >= 1 && e.expiryBars <= 1000))
    throw badInput(`the ${e.type} entry works ${e.expiryBars} bars; allowed: a whole number from 1 to 1000`);
  return e;
}

/** Exit rules at the edge: each number in range, take-profit levels ascending and closing at most 100%. */
export function checkExits(exits: ExitRules): ExitRules {
  const { stopLoss, takeProfit, trailing, maxBars } = exits;
  if (stopLoss !== undefined && !(stopLoss > 0 && stopLoss < 1))
    throw badInput(`stop-loss is ${stopLoss}; allowed: a fraction above 0 and below 1 (0.02 = 2%)`);
  if (takeProfit) {
    let total = 0;
    let last = 0;
    for (const lvl of takeProfit) {
      if (!(lvl.at > last))
        throw badInput(
          `take-profit levels must be above 0 and ascending; got ${takeProfit.map((l) => l.at).join(', ')}`,
        );
      if (!(lvl.close > 0 && lvl.close <= 1))
        throw badInput(`take-profit close share is ${lvl.close}; allowed: above 0 and up to 1`);
      last = lvl.at;
      total += lvl.close;
    }
    if (total > 1 + 1e-9)
      throw badInput(
        `take-profit levels close ${+(total * 100).toFixed(6)}% of the position; allowed: at most 100%`,
      );
  }
  if (trailing && !(trailing.activation >= 0 && trailing.offset > 0 && trailing.offset < 1)) {
    throw badInput('trailing stop needs activation >= 0 and an offset above 0 and below 1 (fractions)');
  }
  if (maxBars !== undefined && !(Number.isInteger(maxBars) && maxBars >= 1))
    throw badInput(`max bars is ${maxBars}; allowed: a whole number of at least 1`);
  if (exits.adds) checkAdds(exits.adds);
  return exits;
}

/** The most adds a position may have. */
export const MAX_ADDS = 10;

/** Adds at the edge: at most 10, each a distance above 0 and below 1 (or a price above 0), shares leaving the first fill some. */
export function checkAdds(adds: readonly AddLevel[]): void {
  if (adds.length > MAX_ADDS) throw badInput(`${adds.length} adds; allowed: at most ${MAX_ADDS}`);
  let total = 0;
  for (const a of adds) {
    if ('at' in a && !(a.at > 0 && a.at < 1))
      throw badInput(
        `an add ${+(a.at * 100).toPrecision(6)}% away; allowed: a distance above 0% and below 100%`,
      );
    if ('price' in a && !(a.price > 0 && Number.isFinite(a.price)))
      throw badInput(`an add at ${a.price}; allowed: a price above 0`);
    if (!(a.share > 0 && a.share < 1))
      throw badInput(`an add's share is ${a.share}; allowed: above 0 and below 1`);
    total += a.share;
  }
  if (total >= 1 - 1e-9)
    throw badInput(
      `the adds take ${+(total * 100).toFixed(6)}% of the position; allowed: less than 100%, the first fill takes the rest`,
    );
}

export function checkSignals(s: Signals, n: number, name: string): void {
  for (const key of ['enterLong', 'exitLong', 'enterShort', 'exitShort'] as const) {
    if (!(s[key] instanceof Uint8Array) || s[key].length !== n) {
      throw new AppError(
        'INTERNAL',
        `strategy ${name} returned ${key} of length ${s[key]?.length}, expected a Uint8Array of ${n}`,
      );
    }
  }
  for (const key of ['stop', 'target'] as const) {
    const a = s[key];
    if (a !== undefined && a.length !== n)
      throw new AppError('INTERNAL', `strategy ${name} returned ${key} of length ${a.length}, expected ${n}`);
  }
}

/** The signals from bar `start` on (what a backtest trading from there sees). */
export function sliceSignals(s: Signals, start: number): Signals {
  const indicators: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(s.indicators)) indicators[k] = v.subarray(start);
  return {
    enterLong: s.enterLong.subarray(start),
    exitLong: s.exitLong.subarray(start),
    enterShort: s.enterShort.subarray(start),
    exitShort: s.exitShort.subarray(start),
    ...(s.stop ? { stop: s.stop.subarray(start) } : {}),
    ...(s.target ? { target: s.target.subarray(start) } : {}),
    indicators,
  };
}
