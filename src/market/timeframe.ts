import { echo } from '../echo.js';
import { badInput } from '../errors.js';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
export const MINUTE = UNIT_MS.m;
export const HOUR = UNIT_MS.h;
export const DAY = UNIT_MS.d;
export const WEEK = UNIT_MS.w;
export const YEAR = 365.25 * DAY;

const TIMEFRAME_RE = /^([1-9][0-9]{0,4})([mhdw])$/;

/** True for timeframes like 1m, 37m, 148m, 4h, 1d, 1w. */
export function isTimeframe(tf: string): boolean {
  return TIMEFRAME_RE.test(tf);
}

/**
 * Length of a timeframe in milliseconds. Any whole number of minutes, hours, days or weeks is
 * accepted, including non-standard ones such as 37m and 148m.
 */
export function timeframeMs(tf: string): number {
  const m = TIMEFRAME_RE.exec(tf);
  if (!m)
    throw badInput(
      `timeframe ${echo(tf)} is not valid; allowed: a number and a unit m, h, d or w (e.g. 15m, 37m, 4h, 1d)`,
    );
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** The shortest name for a duration in ms (90 min -> "90m", 4 h -> "4h"). */
export function timeframeName(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  throw badInput(`${ms} ms is not a whole number of minutes`);
}

/** The bar spacing of a candle series: the most common difference between consecutive times. */
export function inferTimeframeMs(time: ArrayLike<number>): number | undefined {
  const counts = new Map<number, number>();
  const n = Math.min(time.length, 2001);
  for (let i = 1; i < n; i++) {
    const d = time[i]! - time[i - 1]!;
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  let best: number | undefined;
  let bestCount = 0;
  for (const [d, count] of counts) {
    if (count > bestCount) {
      best = d;
      bestCount = count;
    }
  }
  return best;
}

/** Parse a date like 2024-01-31, 2024-01-31T12:00Z or epoch ms into epoch ms (UTC). */
export function parseDate(text: string, what = 'date'): number {
  if (/^\d{10,13}$/.test(text)) return Number(text.length === 10 ? `${text}000` : text);
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const iso =
      text.length === 10 ? `${text}T00:00:00Z` : /Z|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
    const ms = Date.parse(iso.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw badInput(
    `${what} ${echo(text)} is not valid; allowed: YYYY-MM-DD, an ISO time, or epoch milliseconds`,
  );
}

const SPAN_RE = /^([1-9][0-9]*)([mhdwy])$/;

/** The longest span taken: a century (longer is no history any market has, and overflows dates). */
export const MAX_SPAN_YEARS = 100;
const MAX_SPAN_MS = MAX_SPAN_YEARS * YEAR;

/** True for spans like 90d, 12h, 6w, 1y, up to {@link MAX_SPAN_YEARS} years. */
export function isSpan(text: string): boolean {
  const m = SPAN_RE.exec(text);
  return m !== null && spanMs(m) <= MAX_SPAN_MS;
}

function spanMs(m: RegExpExecArray): number {
  const n = Number(m[1]);
  return m[2] === 'y' ? n * YEAR : n * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Parse a span like 90d, 12h, 6w or 1y into ms. */
export function parseSpan(text: string): number {
  const m = SPAN_RE.exec(text);
  if (!m)
    throw badInput(
      `period ${echo(text)} is not valid; allowed: a number and a unit m, h, d, w or y (e.g. 90d, 1y)`,
    );
  const ms = spanMs(m);
  if (!(ms <= MAX_SPAN_MS))
    throw badInput(`period ${echo(text)} is too long; allowed: up to ${MAX_SPAN_YEARS}y (e.g. 90d, 1y)`);
  return ms;
}

/** The name of a span, the inverse of {@link parseSpan}: 1y, 90d, 12w, 6h. */
export function spanName(ms: number): string {
  return ms % YEAR === 0 ? `${ms / YEAR}y` : timeframeName(ms);
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
