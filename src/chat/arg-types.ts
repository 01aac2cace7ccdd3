/**
 * Argument schemas shared by commands. Each description says what is allowed, because it is what
 * a person sees when the value is wrong, in help, and as the Discord option's description.
 */
import { z } from 'zod';
import { isSpan, isTimeframe, MAX_SPAN_YEARS, parseSpan } from '../market/timeframe.js';

/** A market such as BTC/USDT (upper-cased). */
export const symbolArg = () =>
  z
    .string()
    .regex(/^[A-Za-z0-9]{1,20}\/[A-Za-z0-9]{1,20}(:[A-Za-z0-9]{1,20})?$/)
    .transform((s) => s.toUpperCase())
    .describe('a market like BTC/USDT')
    .meta({ complete: 'symbol' });

/** A candle timeframe such as 15m, 1h, 4h, 1d (any whole number of m, h, d or w). */
export const timeframeArg = () =>
  z
    .string()
    .refine(isTimeframe)
    .describe('a timeframe like 15m, 1h, 4h or 1d')
    .meta({ complete: 'timeframe' });

/** A span back from now such as 90d, 6w, 1y (at most a century); parsed to ms. */
export const periodArg = () =>
  z
    .string()
    .refine(isSpan)
    .transform(parseSpan)
    .describe(`how far back, like 90d, 12w or 1y (at most ${MAX_SPAN_YEARS}y)`);

export const strategyArg = () =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/)
    .describe('a strategy name (see /strategies)')
    .meta({ complete: 'strategy' });

/** A signal id as the signal messages and buttons show it (S12). */
export const signalIdArg = () =>
  z
    .string()
    .regex(/^[Ss]\d+$/)
    .describe('a signal id like S12');

/** A position id as /positions shows it (P12). */
export const positionIdArg = () =>
  z
    .string()
    .regex(/^[Pp]\d+$/)
    .describe('a position id like P12 (see /positions)');

/** The timeframes offered as choices and completions. */
export const COMMON_TIMEFRAMES = ['1m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d', '1w'];
