/**
 * The strategy contract. A strategy is written once, in `strategies/NAME.ts`, and runs unchanged in a
 * backtest, in paper trading and live: it is a pure function from candles up to the latest closed bar
 * to signals, and the decision at bar t may use bars up to t only (a test checks every strategy).
 *
 * @example
 * export default defineStrategy({
 *   name: 'ema-cross',
 *   description: 'Long when the fast EMA crosses above the slow EMA',
 *   params: z.object({ fast: z.number().int().min(2).default(12), slow: z.number().int().default(26) }),
 *   timeframes: { main: '1h' },
 *   warmup: (p) => p.slow * 3,
 *   signals(candles, p) {
 *     const s = emptySignals(candles.length);
 *     ...
 *     return s;
 *   },
 * });
 */
import type { z } from 'zod';
import type { Candles } from '../market/types.js';

/** What a strategy asks for at bar t; every action fills at bar t+1's open. */
export interface Signals {
  /** 1 where the strategy wants to be long from the next bar. */
  readonly enterLong: Uint8Array;
  /** 1 where a long position should be closed at the next bar. */
  readonly exitLong: Uint8Array;
  readonly enterShort: Uint8Array;
  readonly exitShort: Uint8Array;
  /** Absolute stop-loss price for an entry signalled at bar t (NaN: use the exit rules). */
  readonly stop?: Float64Array;
  /** Absolute take-profit price for an entry signalled at bar t, closing the whole position (NaN: none). */
  readonly target?: Float64Array;
  /** Indicator lines the strategy decided on, by name, for charts and decision records. */
  readonly indicators: Record<string, Float64Array>;
  /** How sure the strategy is of the signal at bar t, 0..1 (absent or NaN: 1); the regime sizes by it. */
  readonly confidence?: Float64Array;
  /** Why the strategy signalled at bar t, in a few words for the signal message (sparse). */
  readonly notes?: ReadonlyArray<string | undefined>;
}

/** A partial take-profit: when price has moved `at` (fraction, 0.015 = +1.5%) in favour, close `close` of the initial quantity. */
export interface TakeProfitLevel {
  at: number;
  close: number;
}

/**
 * One add to a position after its first fill (an entry ladder, DCA's safety orders): a resting limit
 * order `at` a fraction against the position from the first fill's price (0.02: 2 % lower for a long,
 * higher for a short), or at an absolute `price`, for `share` (0..1) of the position's full size.
 */
export type AddLevel = { at: number; share: number } | { price: number; share: number };

/** DCA's adds: `times` adds, each `step` (a fraction) further against the first fill, equal shares with it. */
export function dcaLevels(times: number, step: number): AddLevel[] {
  return Array.from({ length: times }, (_, i) => ({ at: step * (i + 1), share: 1 / (times + 1) }));
}

/**
 * What the backtester, the paper broker and the live broker manage for every position once it is
 * entered: its exits, and the adds that complete it.
 */
export interface ExitRules {
  /** Stop-loss distance from the entry price as a fraction (0.02 = 2%). */
  stopLoss?: number;
  /** Partial take-profit levels, nearest first. */
  takeProfit?: TakeProfitLevel[];
  /** Trailing stop: once price has moved `activation` in favour, trail the best price by `offset` (fractions). */
  trailing?: { activation: number; offset: number };
  /** Close at the open after the position has been held this many bars. */
  maxBars?: number;
  /**
   * Adds after the first fill, nearest first (an entry ladder, or DCA with `dcaLevels`): the position
   * is sized whole and the first fill takes what the adds do not. Each add that fills moves the
   * average entry; a stop given as a distance (`stopLoss`), distance targets and the trailing stop's
   * activation follow the average, absolute ones stay. An add at or beyond the stop in force before it
   * is not placed; what has not filled is withdrawn at the position's first exit.
   */
  adds?: AddLevel[];
}

export type Direction = 'long' | 'short' | 'both';

/**
 * How one indicator line is drawn on charts (it is kept in decision records whatever is chosen):
 * - `'price'`: over the candles, on the price scale;
 * - `'hidden'`: not drawn (timestamps, helper series, values already shown another way);
 * - a panel: in its own panel below the price, with its own scale. Lines naming the same `panel`
 *   share it; `min`/`max` fix the scale (0 to 100 for RSI), `levels` draws guide lines (30, 70),
 *   and `bars` draws the line as bars coloured by sign (a histogram).
 * `label` (on the price: `{ price: true, label }`) names the line in the legend, e.g. "BB upper" for
 * `bbUpper`; by default the legend shows the line's name.
 */
export type LinePlot =
  | 'price'
  | 'hidden'
  | { price: true; label?: string }
  | { panel: string; label?: string; min?: number; max?: number; levels?: number[]; bars?: boolean };

/** A strategy's own limits on top of the account's risk settings; the stricter of the two applies. */
export interface StrategyRisk {
  /** Largest position as a share of equity (0.05 = 5 %); also the backtest's default sizing. */
  maxPositionSize?: number;
  /** Most positions open at once across the account. */
  maxOpenPositions?: number;
}

/** Higher (informative) timeframe candles, aligned so that bar t sees only candles closed by t's close. */
export interface InformativeSeries {
  readonly timeframe: string;
  readonly candles: Candles;
  /** For each main bar, the index of the last closed informative candle, or -1. */
  readonly index: Int32Array;
}

export interface StrategyContext {
  /** Main timeframe in ms (the data's bar spacing). */
  readonly timeframeMs: number;
  /** Informative series by the key used in `timeframes`. */
  readonly informative: Readonly<Record<string, InformativeSeries>>;
}

export type ParamsSchema = z.ZodType<Record<string, unknown>>;

export interface StrategyDefinition<S extends ParamsSchema = ParamsSchema> {
  /** Lower-case name, equal to the file name in `strategies/`. */
  name: string;
  /** One line for lists and help. */
  description: string;
  /** Parameters with defaults and bounds; every key has a default. */
  params: S;
  /** `main` is the default trading timeframe; other keys are informative timeframes resampled from the main data. */
  timeframes: { main: string } & Record<string, string>;
  /** Bars of history needed before the first meaningful signal. */
  warmup: (params: z.output<S>) => number;
  /** Which sides the strategy trades by default (default 'long'). */
  direction?: Direction;
  /** Limits from the strategy's spec (e.g. 5 % per position, 5 open); the account's stricter ones win. */
  risk?: StrategyRisk;
  /**
   * How each indicator line is drawn, by line name (the names `signals` gives, which may depend on
   * the parameters). A test holds every strategy to declaring each line it returns.
   */
  plot?: (params: z.output<S>) => Readonly<Record<string, LinePlot>>;
  /** Default stop, targets, trailing stop and time exit (each can be overridden per run). */
  exits?: (params: z.output<S>) => ExitRules;
  /** Pure: candles up to the latest closed bar in, one signal per bar out. */
  signals(candles: Candles, params: z.output<S>, ctx: StrategyContext): Signals;
}

export type Strategy = StrategyDefinition & { readonly __strategy: true };

const STRATEGY_NAME = /^[a-z][a-z0-9-]{1,40}$/;

/** Declare a strategy; checks the definition's shape once, at load. */
export function defineStrategy<S extends ParamsSchema>(def: StrategyDefinition<S>): Strategy {
  if (!STRATEGY_NAME.test(def.name))
    throw new TypeError(`strategy name "${def.name}" must be lower-case letters, digits and dashes`);
  if (typeof def.signals !== 'function')
    throw new TypeError(`strategy ${def.name}: signals must be a function`);
  if (typeof def.warmup !== 'function')
    throw new TypeError(`strategy ${def.name}: warmup must be a function`);
  if (!def.timeframes?.main) throw new TypeError(`strategy ${def.name}: timeframes.main is required`);
  if (def.plot !== undefined && typeof def.plot !== 'function')
    throw new TypeError(`strategy ${def.name}: plot must be a function of the parameters`);
  return Object.freeze({ ...(def as unknown as StrategyDefinition), __strategy: true as const });
}

export function isStrategy(value: unknown): value is Strategy {
  return (
    typeof value === 'object' && value !== null && (value as { __strategy?: unknown }).__strategy === true
  );
}

/** All-zero signals for n bars, to be filled in by a strategy. */
export function emptySignals(
  n: number,
  withStops = false,
): Signals & { stop?: Float64Array; target?: Float64Array } {
  return {
    enterLong: new Uint8Array(n),
    exitLong: new Uint8Array(n),
    enterShort: new Uint8Array(n),
    exitShort: new Uint8Array(n),
    indicators: {},
    ...(withStops
      ? { stop: new Float64Array(n).fill(Number.NaN), target: new Float64Array(n).fill(Number.NaN) }
      : {}),
  };
}
