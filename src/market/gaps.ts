/** Finding holes in a candle series (exchange downtime, missing downloads). */
import { isoTime, timeframeName } from './timeframe.js';

export interface Gap {
  /** Open time of the last bar before the hole. */
  after: number;
  /** Open time of the first bar after the hole. */
  before: number;
  /** Bars missing between them. */
  missing: number;
}

/** Every place where consecutive bars are more than one timeframe apart. */
export function findGaps(time: ArrayLike<number>, tfMs: number): Gap[] {
  const gaps: Gap[] = [];
  for (let i = 1; i < time.length; i++) {
    const d = time[i]! - time[i - 1]!;
    if (d > tfMs) gaps.push({ after: time[i - 1]!, before: time[i]!, missing: Math.round(d / tfMs) - 1 });
  }
  return gaps;
}

/** One line for a person: "18 gaps (53 missing 2h bars); largest: 16 bars after 2018-02-08T00:00:00Z". */
export function describeGaps(gaps: readonly Gap[], tfMs: number): string {
  if (gaps.length === 0) return 'no gaps';
  const missing = gaps.reduce((n, g) => n + g.missing, 0);
  const largest = gaps.reduce((a, b) => (b.missing > a.missing ? b : a));
  const unit = timeframeName(tfMs);
  return `${gaps.length} gap${gaps.length === 1 ? '' : 's'} (${missing} missing ${unit} bars); largest: ${largest.missing} bars after ${isoTime(largest.after)}`;
}
