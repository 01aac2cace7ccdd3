/**
 * Time-based levels: the previous period's high and low (4h, day, week), and trading sessions.
 *
 * `previousHighLow` is the reference library's form: for each bar it takes the periods whose label is
 * before the bar's time and reports the one before the last, so inside a period it is the previous
 * period; on a period's first bar (whose time equals the label) it is the one before that. Weekly
 * periods run Monday to Sunday, labelled by their Sunday (pandas' "W"). `BrokenHigh`/`BrokenLow`
 * latch once a bar trades beyond the level. It uses only past bars.
 *
 * `sessions` marks the bars inside a session and carries the session's high and low so far.
 */
import { badInput } from '../../errors.js';
import { f32, nanArray, type Ohlc } from './scan.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type PeriodName = '1h' | '4h' | '1d' | '1w';

export const PERIODS: Record<PeriodName, string> = {
  '1h': 'hour',
  '4h': '4 hours',
  '1d': 'day',
  '1w': 'week (Monday to Sunday)',
};

export interface PreviousHighLow {
  readonly previousHigh: Float64Array;
  readonly previousLow: Float64Array;
  /** 1 once a bar of the current period traded above the previous high (latched), else 0. */
  readonly brokenHigh: Uint8Array;
  readonly brokenLow: Uint8Array;
}

function times(c: Ohlc): ArrayLike<number> {
  if (!c.time) throw badInput('previous high/low and sessions need candle times');
  return c.time;
}

/** The label of the period a time falls in: its start, or for weeks the Sunday that ends it (pandas' "W"). */
function periodOf(t: number, period: PeriodName): number {
  if (period === '1w') {
    const day = Math.floor(t / DAY);
    const dow = (day + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
    return (day + (dow === 0 ? 0 : 7 - dow)) * DAY;
  }
  const ms = period === '1h' ? HOUR : period === '4h' ? 4 * HOUR : DAY;
  return Math.floor(t / ms) * ms;
}

/** The periods that hold data, in order, with their labels, highs and lows, and each bar's period. */
function periodsOf(c: Ohlc, period: PeriodName) {
  checkPeriod(period);
  const t = times(c);
  const index = new Int32Array(t.length);
  const labels: number[] = [];
  const highs: number[] = [];
  const lows: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const label = periodOf(t[i]!, period);
    let k = labels.length - 1;
    if (label !== labels[k]) {
      labels.push(label);
      highs.push(c.high[i]!);
      lows.push(c.low[i]!);
      k++;
    } else {
      if (c.high[i]! > highs[k]!) highs[k] = c.high[i]!;
      if (c.low[i]! < lows[k]!) lows[k] = c.low[i]!;
    }
    index[i] = k;
  }
  return { t, index, labels, highs, lows };
}

export function checkPeriod(period: string): PeriodName {
  if (period in PERIODS) return period as PeriodName;
  throw badInput(`period "${period}" is not supported; allowed: ${Object.keys(PERIODS).join(', ')}`);
}

/** The reference library's previous_high_low(ohlc, time_frame) for 1h, 4h, 1D and W. */
export function previousHighLow(c: Ohlc, period: PeriodName = '1d'): PreviousHighLow {
  const { t, labels, highs, lows } = periodsOf(c, period);
  const n = t.length;
  const out: PreviousHighLow = {
    previousHigh: nanArray(n),
    previousLow: nanArray(n),
    brokenHigh: new Uint8Array(n),
    brokenLow: new Uint8Array(n),
  };
  let before = 0; // labels strictly before t[i]
  let last = -1;
  let brokeHigh = false;
  let brokeLow = false;
  for (let i = 0; i < n; i++) {
    while (before < labels.length && labels[before]! < t[i]!) before++;
    if (before <= 1) continue;
    const prev = before - 2;
    if (prev !== last) {
      brokeHigh = brokeLow = false;
      last = prev;
    }
    const hi = f32(highs[prev]!);
    const lo = f32(lows[prev]!);
    out.previousHigh[i] = hi;
    out.previousLow[i] = lo;
    brokeHigh = c.high[i]! > hi || brokeHigh;
    brokeLow = c.low[i]! < lo || brokeLow;
    out.brokenHigh[i] = brokeHigh ? 1 : 0;
    out.brokenLow[i] = brokeLow ? 1 : 0;
  }
  return out;
}

/**
 * The high and low of the last completed period before each bar's period, known at each bar (the form
 * a strategy uses: no quirk on a period's first bar).
 */
export function previousPeriodLevels(
  c: Ohlc,
  period: PeriodName = '1d',
): { high: Float64Array; low: Float64Array } {
  const { index, highs, lows } = periodsOf(c, period);
  const n = index.length;
  const high = nanArray(n);
  const low = nanArray(n);
  for (let i = 0; i < n; i++) {
    const k = index[i]!;
    if (k === 0) continue;
    high[i] = highs[k - 1]!;
    low[i] = lows[k - 1]!;
  }
  return { high, low };
}

export interface SessionWindow {
  /** "HH:MM" in `timeZone`. A window whose end is before its start runs over midnight. */
  start: string;
  end: string;
  /** An IANA time zone ("Europe/London", "America/New_York") or "UTC". */
  timeZone?: string;
}

/** The reference's sessions, in UTC; `asia` is its Tokyo session. */
export const SESSIONS = {
  asia: { start: '00:00', end: '09:00' },
  sydney: { start: '21:00', end: '06:00' },
  tokyo: { start: '00:00', end: '09:00' },
  london: { start: '07:00', end: '16:00' },
  'new-york': { start: '13:00', end: '22:00' },
  'asian-kill-zone': { start: '00:00', end: '04:00' },
  'london-open-kill-zone': { start: '06:00', end: '09:00' },
  'new-york-kill-zone': { start: '11:00', end: '14:00' },
  'london-close-kill-zone': { start: '14:00', end: '16:00' },
} as const satisfies Record<string, SessionWindow>;

export type SessionName = keyof typeof SESSIONS;

export interface Sessions {
  /** 1 on bars inside the session (start and end minute included), else 0. */
  readonly active: Uint8Array;
  /** The session's high and low so far on active bars (float32, as the reference stores them); 0 elsewhere. */
  readonly high: Float64Array;
  readonly low: Float64Array;
}

function minutes(hhmm: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  const h = m ? Number(m[1]) : Number.NaN;
  const mm = m ? Number(m[2]) : Number.NaN;
  if (!(h >= 0 && h < 24 && mm >= 0 && mm < 60))
    throw badInput(`session time "${hhmm}" is not a time; allowed: HH:MM from 00:00 to 23:59`);
  return h * 60 + mm;
}

/** Minutes past local midnight in a time zone; offsets are cached per UTC hour. */
function localMinutes(timeZone: string): (t: number) => number {
  if (timeZone === 'UTC') return (t) => Math.floor((((t % DAY) + DAY) % DAY) / MINUTE);
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    throw badInput(
      `time zone "${timeZone}" is not known; allowed: an IANA name such as Europe/London, or UTC`,
    );
  }
  const cache = new Map<number, number>();
  return (t) => {
    const hour = Math.floor(t / HOUR);
    let offset = cache.get(hour);
    if (offset === undefined) {
      const [h, m] = format
        .format(hour * HOUR)
        .split(':')
        .map(Number) as [number, number];
      const utc = Math.floor(((hour * HOUR) % DAY) / MINUTE);
      offset = (h * 60 + m - utc + 1440) % 1440;
      cache.set(hour, offset);
    }
    return (Math.floor((((t % DAY) + DAY) % DAY) / MINUTE) + offset) % 1440;
  };
}

/** Bars inside a session, with the session's running high and low (the reference's sessions()). */
export function sessions(c: Ohlc, session: SessionName | SessionWindow): Sessions {
  const window: SessionWindow = typeof session === 'string' ? SESSIONS[session] : session;
  if (!window)
    throw badInput(`session "${String(session)}" is not known; allowed: ${Object.keys(SESSIONS).join(', ')}`);
  const start = minutes(window.start);
  const end = minutes(window.end);
  const local = localMinutes(window.timeZone ?? 'UTC');
  const t = times(c);
  const n = t.length;
  const out: Sessions = { active: new Uint8Array(n), high: new Float64Array(n), low: new Float64Array(n) };
  for (let i = 0; i < n; i++) {
    const m = local(t[i]!);
    const inside = start < end ? start <= m && m <= end : start <= m || m <= end;
    if (!inside) continue;
    out.active[i] = 1;
    const prevHigh = i > 0 ? out.high[i - 1]! : 0;
    const prevLow = i > 0 && out.low[i - 1] !== 0 ? out.low[i - 1]! : Number.POSITIVE_INFINITY;
    out.high[i] = f32(Math.max(c.high[i]!, prevHigh));
    out.low[i] = f32(Math.min(c.low[i]!, prevLow));
  }
  return out;
}
