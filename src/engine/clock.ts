/** Calendar arithmetic in a time zone, for days, weeks and months of PnL and the daily report. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function parts(t: number, tz: string): Record<string, number> {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(t))) {
    if (p.type === 'weekday')
      out.weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(p.value);
    else if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return out;
}

/** The zone's offset from UTC at `t`, in ms. */
function offsetAt(t: number, tz: string): number {
  const p = parts(t, tz);
  const asUtc = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** Epoch ms of a local wall time in the zone (the earlier one when a DST change makes it ambiguous). */
export function zonedTime(
  tz: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const first = guess - offsetAt(guess, tz);
  return guess - offsetAt(first, tz);
}

/** Start of the local day that holds `t`. */
export function startOfDay(t: number, tz: string): number {
  const p = parts(t, tz);
  return zonedTime(tz, p.year!, p.month!, p.day!);
}

/** Start of the period (`day`, `week` from Monday, `month`) that holds `t`. */
export function startOfPeriod(t: number, tz: string, period: 'day' | 'week' | 'month'): number {
  const p = parts(t, tz);
  if (period === 'month') return zonedTime(tz, p.year!, p.month!, 1);
  const day = startOfDay(t, tz);
  if (period === 'day') return day;
  const back = p.weekday!;
  const d = new Date(Date.UTC(p.year!, p.month! - 1, p.day! - back));
  return zonedTime(tz, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** The first time at or after `t` when the zone's clock shows `hh:mm`. */
export function nextTimeOfDay(t: number, tz: string, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const p = parts(t, tz);
  let at = zonedTime(tz, p.year!, p.month!, p.day!, h, m);
  if (at < t) {
    const d = new Date(Date.UTC(p.year!, p.month! - 1, p.day! + 1));
    at = zonedTime(tz, d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), h, m);
  }
  return at;
}

/** `2026-11-21 14:05` in the zone. */
export function localStamp(t: number, tz: string): string {
  const p = parts(t, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month!)}-${pad(p.day!)} ${pad(p.hour!)}:${pad(p.minute!)}`;
}
