/**
 * The simulation loop: walks the bars once, turning signals into fills with the shared fill model
 * (`fills.ts`). A signal at bar t is acted on at bar t+1's open; a position still open after the last
 * bar closes at the last close with reason "end". Nothing here allocates per bar except on fills, so
 * the loop runs at tens of millions of bars per second.
 *
 * Order of events in bar i:
 *   1. orders decided at bar i-1's close fill at open[i]: exits first, then entries
 *   2. an open position meets bar i (gap at the open, stop before targets, trailing stop update)
 *   3. equity is marked at close[i]
 *   4. bar i's signals (and the time exit) decide the orders for bar i+1
 * Exit signals close the position; an opposite entry signal closes it and, when that side is
 * allowed, opens the other side at the same open. Entries while in a position are ignored (no
 * pyramiding); when both entries fire on one bar, long wins.
 *
 * Entries are market orders at the next open, or (`entry`) a limit or stop order placed at the
 * signal's close, `offset` away from it, working for `expiryBars` bars:
 * - a limit buy fills at the open when the bar opens at or below its price, else at its price when
 *   the low reaches it (maker fee, no slippage); a stop buy fills at the open when the bar opens at or
 *   above its price, else at its price when the high reaches it (a market order then: slipped, taker
 *   fee). Sells mirror them.
 * - A fill inside the bar cannot know what came first, so the worse is assumed: the rest of the bar
 *   can stop the position out, but its take-profits and trailing stop start with the next bar.
 * - While an order works, entry signals are ignored and an exit signal for its side withdraws it.
 *   Unfilled when its bars are up, it expires; a limit order with `fallback: 'market'` then enters at
 *   the next open, as the live broker does after its limit timeout.
 */
import type { Candles } from '../market/types.js';
import type { Signals } from '../strategy/define.js';
import { roundToStep } from '../market/rules.js';
import {
  addCash,
  applyBar,
  closeAtMarket,
  ENTER_LONG,
  ENTER_SHORT,
  EXIT_ON_SIGNAL,
  EXIT_ON_TIME,
  entryAmount,
  entryCash,
  type EntryFill,
  type ExitFill,
  type ExitReason,
  exitCash,
  feeRate,
  type FillCosts,
  initialStop,
  marketPrice,
  nextOrders,
  offsetPrice,
  openPosition,
  type Position,
  type Side,
} from './fills.js';
import { positionSize } from './sizing.js';
import type { EntryOrders, Simulation, SimulationOptions, Trade } from './types.js';

const PROGRESS_EVERY = 65_536;

/** An entry order working at a level until its last bar. */
interface Working {
  side: Side;
  /** The bar whose signal placed it (its stop and target come from there). */
  from: number;
  level: number;
  /** Its amount, sized when it was placed (as an exchange order has one). */
  amount: number;
  /** The last bar it works in. */
  until: number;
}

export function simulate(candles: Candles, signals: Signals, opts: SimulationOptions): Simulation {
  const n = candles.length;
  const { time, open, high, low, close } = candles;
  const { enterLong, exitLong, enterShort, exitShort } = signals;
  const stopAt = signals.stop;
  const targetAt = signals.target;
  const costs: FillCosts = {
    fee: opts.fee,
    slippage: opts.slippageBps / 10_000,
    ...(opts.maker !== undefined ? { maker: opts.maker } : {}),
    ...(opts.market ? { market: opts.market } : {}),
  };
  const entry = opts.entry ?? { type: 'market' };
  const allowLong = opts.direction !== 'short';
  const allowShort = opts.direction !== 'long';
  const maxBars = opts.exits.maxBars ?? 0;

  const equity = new Float64Array(n);
  const inMarket = new Uint8Array(n);
  const trades: Trade[] = [];
  let cash = opts.capital;
  let pos: Position | null = null;
  const tally = { skippedEntries: 0, belowMinimum: 0, beyondStop: 0, placed: 0, expired: 0, withdrawn: 0 };

  // Orders for the next open.
  let pendingExit: ExitReason | null = null;
  let pendingEntry: 0 | Side = 0;
  let pendingFrom = -1; // bar whose signal made the entry (for its stop/target)
  let pendingMarket = false; // a market entry even when entries are limit or stop orders (fallback)
  let working: Working | null = null;

  const onFill = (fill: ExitFill) => {
    cash += exitCash(pos!.side, fill);
  };
  const onAdd = (fill: EntryFill) => {
    cash += addCash(pos!.side, fill);
  };
  const finish = () => {
    trades.push(toTrade(pos!));
    pos = null;
  };
  /**
   * The amount of an entry at `price` (slipped already for a market order), when its stop, the sizing
   * and the exchange's minimums allow one; else the entry is counted as skipped.
   */
  const size = (side: Side, from: number, price: number, resting: boolean): number => {
    const stop = initialStop(side, price, opts.exits, stopAt ? stopAt[from]! : Number.NaN, costs.market);
    const valid = Number.isNaN(stop) || side * (price - stop) > 0;
    // Sized at the dearer of the two fees, so an all-in entry never costs more than the cash.
    const fee = Math.max(costs.fee, feeRate(costs, resting));
    const sized = valid ? positionSize(opts.sizing, cash, price, fee, stop, costs.slippage) : 0;
    const amount = sized > 0 ? entryAmount(sized, price, costs) : 0;
    if (typeof amount === 'string') tally.belowMinimum++;
    if (!valid) tally.beyondStop++;
    if (typeof amount === 'string' || !(amount > 0)) {
      tally.skippedEntries++;
      return 0;
    }
    return amount;
  };
  /** Open a position of `amount` at `price` in bar `i`, for the signal of bar `from`. */
  const open_ = (side: Side, from: number, i: number, price: number, amount: number, resting: boolean) => {
    const opened = openPosition({
      side,
      index: i,
      time: time[i]!,
      price,
      quantity: amount,
      rules: opts.exits,
      stopPrice: stopAt ? stopAt[from]! : Number.NaN,
      targetPrice: targetAt ? targetAt[from]! : Number.NaN,
      costs,
      resting,
    });
    cash += entryCash(opened);
    return opened;
  };
  /** A working order placed at bar `from`'s close, sized at its level, or null when none may be. */
  const place = (side: Side, from: number, i: number, e: Exclude<EntryOrders, { type: 'market' }>) => {
    const away = e.type === 'limit' ? -side : side;
    const level = roundToStep(offsetPrice(close[from]!, away * e.offset), costs.market?.priceStep ?? 0);
    // A stop order fills as a market order: sized at its slipped level.
    const price = e.type === 'stop' ? marketPrice(level, side === 1, costs.slippage) : level;
    const amount = size(side, from, price, e.type === 'limit');
    if (amount === 0) return null;
    tally.placed++;
    return { side, from, level, amount, until: i + e.expiryBars - 1 };
  };

  for (let i = 0; i < n; i++) {
    const o = open[i]!;
    // 1. Orders from the previous close.
    if (pendingExit !== null && pos !== null) {
      onFill(closeAtMarket(pos, time[i]!, o, pendingExit, costs));
      finish();
    }
    pendingExit = null;
    let filledInside = false;
    if (pendingEntry !== 0 && pos === null) {
      if (entry.type === 'market' || pendingMarket) {
        const price = marketPrice(o, pendingEntry === 1, costs.slippage);
        const amount = size(pendingEntry, pendingFrom, price, false);
        if (amount > 0) pos = open_(pendingEntry, pendingFrom, i, price, amount, false);
      } else {
        working = place(pendingEntry, pendingFrom, i, entry);
      }
    }
    pendingEntry = 0;
    pendingMarket = false;
    if (working !== null && entry.type !== 'market') {
      const w: Working = working;
      const fill = touch(entry.type, w, o, high[i]!, low[i]!, costs.slippage);
      if (fill !== undefined) {
        working = null;
        // The order's amount, or what the cash still buys at a dearer gap fill (a stop order's).
        const fee = Math.max(costs.fee, feeRate(costs, entry.type === 'limit'));
        const cap = entryAmount(
          positionSize({ mode: 'all-in' }, cash, fill.price, fee, Number.NaN),
          fill.price,
          costs,
        );
        const amount = typeof cap === 'number' ? Math.min(w.amount, cap) : 0;
        if (amount > 0) {
          // A gap through the signal's stop fills the order all the same; the bar then stops it out at the open.
          pos = open_(w.side, w.from, i, fill.price, amount, entry.type === 'limit');
          filledInside = !fill.atOpen;
        } else {
          tally.skippedEntries++;
          if (typeof cap === 'string') tally.belowMinimum++;
        }
      } else if (i >= w.until) {
        working = null;
        tally.expired++;
        if (entry.type === 'limit' && entry.fallback === 'market' && i < n - 1) {
          pendingEntry = w.side;
          pendingFrom = w.from;
          pendingMarket = true;
        }
      }
    }

    // 2. The bar against the open position (after a fill inside it: only what can follow the fill).
    if (pos !== null) {
      const p: Position = pos;
      const h = filledInside && p.side === 1 ? p.entryPrice : high[i]!;
      const l = filledInside && p.side === -1 ? p.entryPrice : low[i]!;
      if (applyBar(p, time[i]!, filledInside ? p.entryPrice : o, h, l, costs, onFill, onAdd)) finish();
    }

    // 3. Mark to market.
    const c = close[i]!;
    if (pos !== null) {
      pos.barsHeld++;
      inMarket[i] = 1;
      equity[i] = cash + pos.side * pos.qty * c;
    } else {
      equity[i] = cash;
    }

    // 4. Decide the orders for the next bar.
    if (i === n - 1) break;
    const p: Position | null = pos;
    const orders = nextOrders(
      p === null ? 0 : p.side,
      p === null ? 0 : p.barsHeld,
      enterLong[i]!,
      exitLong[i]!,
      enterShort[i]!,
      exitShort[i]!,
      allowLong,
      allowShort,
      maxBars,
    );
    // An entry still waiting (a working order, or a market entry after one expired): entry signals
    // wait; an exit signal for its side withdraws it, and an entry for the other side then goes ahead.
    const waiting: Side | 0 = working !== null ? (working as Working).side : pendingMarket ? pendingEntry : 0;
    if (waiting !== 0 && (waiting === 1 ? exitLong[i] : exitShort[i]) === 1) {
      working = null;
      pendingMarket = false;
      pendingEntry = 0;
      tally.withdrawn++;
    }
    if (working === null && !pendingMarket && orders !== 0) {
      if (orders & EXIT_ON_SIGNAL) pendingExit = 'signal';
      else if (orders & EXIT_ON_TIME) pendingExit = 'time';
      if (orders & (ENTER_LONG | ENTER_SHORT)) {
        pendingEntry = orders & ENTER_LONG ? 1 : -1;
        pendingFrom = i;
      }
    }
    if (opts.onProgress && (i & (PROGRESS_EVERY - 1)) === 0) opts.onProgress(i / n);
  }

  // A position still open at the end closes at the last close.
  if (pos !== null) {
    const p: Position = pos;
    onFill(closeAtMarket(p, time[n - 1]!, close[n - 1]!, 'end', costs));
    equity[n - 1] = cash;
    finish();
  }
  opts.onProgress?.(1);
  const { placed, expired, withdrawn, ...skips } = tally;
  const stillWorking = working !== null ? 1 : 0;
  return {
    trades,
    equity,
    inMarket,
    ...skips,
    ...(entry.type !== 'market'
      ? { entryOrders: { placed, expired, withdrawn, working: stillWorking } }
      : {}),
  };
}

/**
 * Where a working entry order fills in a bar, if it does: at the open when the bar opens beyond its
 * level, else at the level when the range reaches it. A stop order is a market order once triggered,
 * so its fill is slipped; a limit order fills at its price or better.
 */
function touch(
  type: 'limit' | 'stop',
  w: Working,
  open: number,
  high: number,
  low: number,
  slippage: number,
): { price: number; atOpen: boolean } | undefined {
  const buy = w.side === 1;
  if (type === 'limit') {
    if (buy ? open <= w.level : open >= w.level) return { price: open, atOpen: true };
    if (buy ? low <= w.level : high >= w.level) return { price: w.level, atOpen: false };
    return undefined;
  }
  if (buy ? open >= w.level : open <= w.level)
    return { price: marketPrice(open, buy, slippage), atOpen: true };
  if (buy ? high >= w.level : low <= w.level)
    return { price: marketPrice(w.level, buy, slippage), atOpen: false };
  return undefined;
}

/** A closed position as a trade record (shared with the engine). */
export function toTrade(p: Position): Trade {
  let pnl = 0;
  let fees = p.entryFee;
  let qty = 0;
  let value = 0;
  for (const f of p.exits) {
    pnl += f.pnl;
    fees += f.fee;
    qty += f.quantity;
    value += f.quantity * f.price;
  }
  const last = p.exits[p.exits.length - 1]!;
  return {
    side: p.side === 1 ? 'long' : 'short',
    entryTime: p.entryTime,
    entryPrice: p.entryPrice,
    exitTime: last.time,
    exitPrice: p.exits.length === 1 ? last.price : value / qty,
    quantity: p.initialQty,
    pnl,
    returnPct: pnl / (p.initialQty * p.entryPrice),
    fees,
    exitReason: last.reason,
    bars: Math.max(1, p.barsHeld),
    exits: p.exits,
    ...(p.adds && p.adds.fills.length > 1 ? { entries: p.adds.fills.map((f) => ({ ...f })) } : {}),
  };
}
