/**
 * Trades by hand: a person's /buy and /sell (or a pasted signal they follow) become signals of a
 * `manual` run on their market, priced at the latest price, sized and checked by the risk manager,
 * and confirmed by them (`entries.ts`, `alerts.ts` `entryNow`). Once open, a position by hand is like
 * any other: its stop, targets and trailing stop are met by the same fill code, paper or live. This
 * module moves an open position's stop and targets (/adjust); partial closes (/exit) go through the
 * broker's `close` with a quantity.
 */
import { type Side, targetLevels } from '../backtest/fills.js';
import { badInput } from '../errors.js';
import { type MarketRules, roundToStep } from '../market/rules.js';
import type { PositionRecord, State } from '../store/state.js';
import type { AddLevel } from '../strategy/define.js';
import { currentStop } from './positions.js';

/** A price as people read it: thousands separated, two decimals (more below 1). */
function shown(v: number): string {
  return v.toLocaleString('en-US', {
    maximumFractionDigits: v < 1 ? 8 : 2,
    minimumFractionDigits: v < 1 ? 0 : 2,
  });
}

/** What a person asked for with /buy or /sell (or a pasted signal they follow). */
export interface ManualOrder {
  symbol: string;
  side: Side;
  /** In the base currency (none: the risk manager's size). */
  quantity?: number | undefined;
  /** Absolute stop (none: the default stop, if the risk settings have one). */
  stop?: number | undefined;
  /** Absolute take-profit ladder, nearest first, an equal share each. */
  targets?: readonly number[] | undefined;
  /** A trailing stop this far behind the best price, as a fraction (0.02: 2 %), from the entry on. */
  trail?: number | undefined;
  /** Adds after the first fill (an entry ladder, DCA, a pasted entry zone's levels). */
  adds?: AddLevel[] | undefined;
  /** Where it came from, for the record ("pasted signal"), besides who asked. */
  source?: string | undefined;
  note?: string | undefined;
}

/**
 * The timeframes a run of trades by hand may keep its positions on, first choice first (stops are met
 * at its closes, and on the stream between them): the first the feed can serve for the market.
 */
export const MANUAL_TIMEFRAMES = ['1h', '2h', '4h', '30m', '15m', '1d'] as const;

export interface Adjustment {
  stop?: number | undefined;
  targets?: readonly number[] | undefined;
}

/**
 * Move an open position's stop and targets, each checked against the latest price (a stop below it
 * for a long, targets above it). The new targets share what is left of the position equally. One
 * line on what changed.
 */
export function adjustPosition(
  s: State,
  rec: PositionRecord,
  a: Adjustment,
  price: number,
  market: MarketRules | undefined,
  by: string,
  time: number,
): string {
  const tick = market?.priceStep ?? 0;
  const side = rec.side as Side;
  const below = side === 1 ? 'below' : 'above';
  const above = side === 1 ? 'above' : 'below';
  if (a.stop !== undefined && side * (price - a.stop) <= 0)
    throw badInput(
      `the stop ${a.stop} is on the wrong side of the price ${price}; allowed: a stop ${below} it`,
    );
  for (const t of a.targets ?? [])
    if (side * (t - price) <= 0)
      throw badInput(
        `the target ${t} is on the wrong side of the price ${price}; allowed: targets ${above} it`,
      );
  const said: string[] = [];
  if (a.stop !== undefined) {
    const before = currentStop(rec);
    rec.stop = roundToStep(a.stop, tick);
    // The person's stop is the stop: a trailing stop would take it back at the next candle.
    const trailed = rec.trailActivation !== null;
    rec.trailStop = null;
    rec.trailActivation = null;
    // Adds still to fill keep the person's stop (no distance from the average, no trailing).
    if (rec.adds) {
      rec.adds.stopPrice = rec.stop;
      delete rec.adds.rules.trailing;
    }
    said.push(
      `stop ${Number.isNaN(before) ? 'none' : shown(before)} → ${shown(rec.stop)}${trailed ? ' (trailing stop off)' : ''}`,
    );
  }
  if (a.targets !== undefined) {
    const ladder = [...a.targets].sort((x, y) => side * (x - y));
    // Equal shares of what is left, in whole steps over the minimums, the last taking the rest.
    const levels = targetLevels(side, price, rec.qty, {}, undefined, market, ladder);
    rec.targetPrices = [...levels.prices];
    rec.targetQty = [...levels.amounts].map((q) => (q === Number.POSITIVE_INFINITY ? ('inf' as const) : q));
    rec.nextTarget = 0;
    if (rec.adds) rec.adds.targetPrices = [...rec.targetPrices];
    said.push(rec.targetPrices.length ? `targets ${rec.targetPrices.map(shown).join(' / ')}` : 'no targets');
  }
  const detail = `${rec.id} ${said.join(', ')}, by ${by}`;
  s.log.decisions.push({ time, runId: rec.runId, kind: 'adjust', detail, indicators: {} });
  return detail;
}
