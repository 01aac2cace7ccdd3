/**
 * Protection between candle closes. With a streaming feed, every update of a series' forming candle
 * (its open, high, low and last price so far) meets the open positions of the runs on that series:
 * their stops, take-profits and trailing stops act as the price moves, not at the next close.
 *
 * The fill model stays the closed candle's (`applyBar`: gaps at the open, the stop before the
 * targets, stops slipped, targets at their price), applied to the stretch of the candle a position
 * has not met yet:
 * - the first update of a candle is the candle so far, from its open (a gap fills at the open, as in
 *   a backtest);
 * - a later one starts at the last price met and reaches a new high or low of the candle, if there
 *   is one, else only as far as the last and the latest price: a trailing stop raised a moment ago
 *   is not hit by a low from before it was raised, and a position opened between closes does not
 *   take a target at a high from before its entry.
 * At the close, the step applies what is left of the candle the same way, and counts the bar.
 *
 * So a candle that reaches the stop, or targets, but not both, fills at the same prices, quantities
 * and fees as in a backtest of the candles (only sooner); where a candle reaches both, the stream
 * knows which came first and a backtest assumes the stop; a trailing stop follows every new best
 * price, not each close. The README's "Between candle closes" states this contract.
 *
 * Where a position stands within the forming candle is kept in memory, and written into the
 * position's record (`met`) with every change the stream makes to it, so a restart does not meet
 * the same prices twice.
 */
import { applyBar, type ExitFill, type FillCosts } from '../backtest/fills.js';
import type { Candle } from '../market/types.js';
import type { PositionRecord } from '../store/state.js';
import type { BarPrices } from './broker.js';
import { seriesKey } from './feed.js';
import { fromRecord } from './positions.js';

/** How far a position has met a forming candle: its open time, extremes so far and last price. */
export interface Met {
  time: number;
  high: number;
  low: number;
  last: number;
}

/**
 * The prices of `candle` (forming or closed) a position has not met, given how far it has
 * (`met`; none, or another candle's: all of it). `time` is what its fills are stamped with.
 */
export function unmetPart(candle: BarPrices, met: Met | undefined, time: number): BarPrices {
  if (met?.time !== candle.time)
    return { time, open: candle.open, high: candle.high, low: candle.low, close: candle.close };
  const from = met.last;
  return {
    time,
    open: from,
    high: candle.high > met.high ? candle.high : Math.max(from, candle.close),
    low: candle.low < met.low ? candle.low : Math.min(from, candle.close),
    close: candle.close,
  };
}

/** The mark after meeting `candle` as it stands. */
export const metUpTo = (c: Pick<Candle, 'time' | 'high' | 'low' | 'close'>): Met => ({
  time: c.time,
  high: c.high,
  low: c.low,
  last: c.close,
});

/**
 * What meeting `part` does to a position under the fill model, without changing it: its exit fills,
 * whether the trailing stop moves, and whether an add fills. A new best price alone is no change: below the trailing
 * stop's activation it decides nothing, and above it moves the trailing stop.
 */
export function reachOf(
  rec: PositionRecord,
  part: BarPrices,
  costs: FillCosts,
  withAdds = true,
): { fills: ExitFill[]; trailMoved: boolean; added: boolean } {
  const p = fromRecord(rec);
  // Live adds are orders resting on the exchange: they count once the exchange fills them.
  if (!withAdds) delete p.adds;
  const fills: ExitFill[] = [];
  let added = false;
  applyBar(
    p,
    part.time,
    part.open,
    part.high,
    part.low,
    costs,
    (f) => fills.push(f),
    () => (added = true),
  );
  const trail = Number.isNaN(p.trailStop) ? null : p.trailStop;
  return { fills, trailMoved: trail !== rec.trailStop, added };
}

/**
 * The fall (a long's; a short's rise) from a part's best price to its latest: what comes after a
 * trailing stop that part raised, since the latest price is the last of the part's path.
 */
export function fallSince(side: number, part: BarPrices): BarPrices {
  return side === 1
    ? { time: part.time, open: part.high, high: part.high, low: part.close, close: part.close }
    : { time: part.time, open: part.low, high: part.close, low: part.low, close: part.close };
}

/** The marks of the positions the stream is guarding, and each series' latest forming candle. */
export class Guard {
  private readonly marks = new Map<string, Met>();
  private readonly forming = new Map<string, Candle>();

  /** The stretch of `candle` a position has not met (the memory's mark, else the record's). */
  unmet(rec: PositionRecord, candle: BarPrices): BarPrices {
    return unmetPart(candle, this.marks.get(rec.id) ?? rec.met, candle.time);
  }

  /** The position met `candle` as it stands. */
  advance(id: string, candle: Candle): Met {
    const m = metUpTo(candle);
    this.marks.set(id, m);
    return m;
  }

  /** A closed candle met the position: what was met of it is done with. */
  done(id: string): void {
    this.marks.delete(id);
  }

  /** The newest forming candle of a series, as the stream last showed it. */
  see(symbol: string, timeframe: string, candle: Candle): void {
    this.forming.set(seriesKey(symbol, timeframe), candle);
  }

  /**
   * A position opened between closes (an approval, a live fill): it meets only prices after its
   * entry, so what its series' forming candle had shown counts as met.
   */
  entered(rec: PositionRecord, timeframe: string): Met | undefined {
    const c = this.forming.get(seriesKey(rec.symbol, timeframe));
    if (!c || rec.entryTime <= c.time) return undefined;
    const m = metUpTo(c);
    this.marks.set(rec.id, m);
    return m;
  }

  /** Forget the marks of positions no longer open. */
  prune(open: Readonly<Record<string, unknown>>): void {
    for (const id of this.marks.keys()) if (!(id in open)) this.marks.delete(id);
  }
}
