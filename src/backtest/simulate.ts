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
 */
import type { Candles } from '../market/types.js';
import type { Signals } from '../strategy/define.js';
import {
  applyBar,
  closeAtMarket,
  ENTER_LONG,
  ENTER_SHORT,
  EXIT_ON_SIGNAL,
  EXIT_ON_TIME,
  entryCash,
  type ExitFill,
  type ExitReason,
  exitCash,
  type FillCosts,
  nextOrders,
  openPosition,
  type Position,
  planEntry,
  type Side,
} from './fills.js';
import { positionSize } from './sizing.js';
import type { Simulation, SimulationOptions, Trade } from './types.js';

const PROGRESS_EVERY = 65_536;

export function simulate(candles: Candles, signals: Signals, opts: SimulationOptions): Simulation {
  const n = candles.length;
  const { time, open, high, low, close } = candles;
  const { enterLong, exitLong, enterShort, exitShort } = signals;
  const stopAt = signals.stop;
  const targetAt = signals.target;
  const costs: FillCosts = { fee: opts.fee, slippage: opts.slippageBps / 10_000 };
  const allowLong = opts.direction !== 'short';
  const allowShort = opts.direction !== 'long';
  const maxBars = opts.exits.maxBars ?? 0;

  const equity = new Float64Array(n);
  const inMarket = new Uint8Array(n);
  const trades: Trade[] = [];
  let cash = opts.capital;
  let pos: Position | null = null;
  let skippedEntries = 0;

  // Orders for the next open.
  let pendingExit: ExitReason | null = null;
  let pendingEntry: 0 | Side = 0;
  let pendingFrom = -1; // bar whose signal made the entry (for its stop/target)

  const onFill = (fill: ExitFill) => {
    cash += exitCash(pos!.side, fill);
  };
  const finish = () => {
    trades.push(toTrade(pos!));
    pos = null;
  };

  for (let i = 0; i < n; i++) {
    const o = open[i]!;
    // 1. Orders from the previous close.
    if (pendingExit !== null && pos !== null) {
      onFill(closeAtMarket(pos, time[i]!, o, pendingExit, costs));
      finish();
    }
    pendingExit = null;
    if (pendingEntry !== 0 && pos === null) {
      const side = pendingEntry;
      const signalStop = stopAt ? stopAt[pendingFrom]! : Number.NaN;
      const plan = planEntry(side, o, opts.exits, costs, signalStop);
      const qty = plan.valid
        ? positionSize(opts.sizing, cash, plan.price, costs.fee, plan.stop, costs.slippage)
        : 0;
      if (qty > 0) {
        pos = openPosition({
          side,
          index: i,
          time: time[i]!,
          price: plan.price,
          quantity: qty,
          rules: opts.exits,
          stopPrice: signalStop,
          targetPrice: targetAt ? targetAt[pendingFrom]! : Number.NaN,
          costs,
        });
        cash += entryCash(pos);
      } else {
        skippedEntries++;
      }
    }
    pendingEntry = 0;

    // 2. The bar against the open position.
    if (pos !== null && applyBar(pos, time[i]!, o, high[i]!, low[i]!, costs, onFill)) finish();

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
    if (orders !== 0) {
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
  return { trades, equity, inMarket, skippedEntries };
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
  };
}
