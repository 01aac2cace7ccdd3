/**
 * The paper broker: simulated fills against a paper balance per quote currency, with the very
 * functions the backtester uses (`backtest/fills.ts`: slippage, fees, gaps, stop before targets,
 * partial take-profits, trailing stops), so a paper position behaves exactly like the same position
 * in a backtest. It works on the state document inside one store update; the engine decides when.
 */
import {
  applyBar,
  closeAtMarket,
  effectiveStop,
  entryCash,
  type ExitFill,
  type ExitReason,
  exitCash,
  type FillCosts,
  openPosition,
  type Position,
  planEntry,
  type Side,
} from '../backtest/fills.js';
import { toTrade } from '../backtest/simulate.js';
import { quoteOf } from '../market/symbol.js';
import type { ExitRules } from '../strategy/define.js';
import {
  noteClosed,
  type OrderRecord,
  type PositionRecord,
  type State,
  type TradeRecord,
} from '../store/state.js';

const num = (v: number): number | null | 'inf' => (Number.isNaN(v) ? null : v === Infinity ? 'inf' : v);
const unnum = (v: number | null | 'inf'): number => (v === null ? Number.NaN : v === 'inf' ? Infinity : v);

export function toRecord(
  p: Position,
  meta: { id: string; runId: string; signalId: string; symbol: string; mark: number },
): PositionRecord {
  return {
    ...meta,
    quote: quoteOf(meta.symbol),
    side: p.side,
    entryIndex: p.entryIndex,
    entryTime: p.entryTime,
    entryPrice: p.entryPrice,
    initialQty: p.initialQty,
    qty: p.qty,
    entryFee: p.entryFee,
    stop: num(p.stop),
    targetPrices: [...p.targetPrices],
    targetQty: [...p.targetQty].map(num),
    nextTarget: p.nextTarget,
    trailActivation: num(p.trailActivation),
    trailOffset: p.trailOffset,
    best: p.best,
    trailStop: num(p.trailStop),
    barsHeld: p.barsHeld,
    exits: p.exits.map((e) => ({ ...e })),
  };
}

export function fromRecord(r: PositionRecord): Position {
  return {
    side: r.side as Side,
    entryIndex: r.entryIndex,
    entryTime: r.entryTime,
    entryPrice: r.entryPrice,
    initialQty: r.initialQty,
    qty: r.qty,
    entryFee: r.entryFee,
    stop: unnum(r.stop),
    targetPrices: Float64Array.from(r.targetPrices),
    targetQty: Float64Array.from(r.targetQty.map(unnum)),
    nextTarget: r.nextTarget,
    trailActivation: unnum(r.trailActivation),
    trailOffset: r.trailOffset,
    best: r.best,
    trailStop: unnum(r.trailStop),
    barsHeld: r.barsHeld,
    exits: r.exits.map((e) => ({ ...e, reason: e.reason as ExitReason })),
  };
}

/** The stop in force now, as the fill model applies it: the tighter of the fixed and trailing stops (NaN: none). */
export function currentStop(r: PositionRecord): number {
  return effectiveStop({ side: r.side as Side, stop: unnum(r.stop), trailStop: unnum(r.trailStop) });
}

/** Write a live Position back into its record (after a bar or a partial exit). */
function sync(rec: PositionRecord, p: Position): void {
  Object.assign(rec, toRecord(p, rec), { mark: rec.mark });
}

export interface EntryOrder {
  positionId: string;
  runId: string;
  signalId: string;
  symbol: string;
  side: Side;
  time: number;
  /** Reference price: the next candle's open, or the latest price for a decision between candles. */
  price: number;
  rules: ExitRules;
  costs: FillCosts;
  /** Absolute stop and target from the signal (NaN: none). */
  signalStop: number;
  signalTarget: number;
  /** Quantity for a fill price and stop (the risk manager's answer), 0 to skip. */
  size(price: number, stop: number): { quantity: number } | { refused: string };
}

/** Paper fills at once (`position`); live records an order (`ordered`); or the entry is refused. */
export type EntryResult = { position: PositionRecord } | { ordered: OrderRecord } | { refused: string };

export class PaperBroker {
  readonly kind = 'paper' as const;

  constructor(private readonly balances: Readonly<Record<string, number>>) {}

  /** Paper cash of a quote currency, starting from the configured balance. */
  cash(s: State, quote: string): number {
    return s.balances[quote] ?? this.balances[quote] ?? 0;
  }

  enter(s: State, o: EntryOrder): EntryResult {
    const plan = planEntry(o.side, o.price, o.rules, o.costs, o.signalStop);
    if (!plan.valid) return { refused: `the price ${plan.price} is already beyond the stop ${plan.stop}` };
    const sized = o.size(plan.price, plan.stop);
    if ('refused' in sized) return sized;
    const p = openPosition({
      side: o.side,
      index: 0,
      time: o.time,
      price: plan.price,
      quantity: sized.quantity,
      rules: o.rules,
      stopPrice: o.signalStop,
      targetPrice: o.signalTarget,
      costs: o.costs,
    });
    const quote = quoteOf(o.symbol);
    s.balances[quote] = this.cash(s, quote) + entryCash(p);
    const rec = toRecord(p, {
      id: o.positionId,
      runId: o.runId,
      signalId: o.signalId,
      symbol: o.symbol,
      mark: p.entryPrice,
    });
    s.positions[rec.id] = rec;
    return { position: rec };
  }

  /**
   * One candle against an open position: gaps, stop before targets, trailing stop, then the mark at
   * the close. Returns the exit fills, and the trade when the position closed.
   */
  applyCandle(
    s: State,
    rec: PositionRecord,
    c: { time: number; open: number; high: number; low: number; close: number },
    costs: FillCosts,
  ): { fills: ExitFill[]; trade?: TradeRecord } {
    const p = fromRecord(rec);
    const fills: ExitFill[] = [];
    const closed = applyBar(p, c.time, c.open, c.high, c.low, costs, (f) => {
      fills.push(f);
      s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, f);
    });
    if (closed) return { fills, trade: this.finish(s, rec, p) };
    p.barsHeld++;
    sync(rec, p);
    rec.mark = c.close;
    return { fills };
  }

  /** Close what is left at a market price (slipped): a signal exit, a time exit, a person's /close. */
  close(
    s: State,
    rec: PositionRecord,
    time: number,
    price: number,
    reason: ExitReason,
    costs: FillCosts,
  ): { fill: ExitFill; trade: TradeRecord } {
    const p = fromRecord(rec);
    const fill = closeAtMarket(p, time, price, reason, costs);
    s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, fill);
    return { fill, trade: this.finish(s, rec, p) };
  }

  private finish(s: State, rec: PositionRecord, p: Position): TradeRecord {
    return closeRecord(s, rec, p);
  }
}

/** A position that has nothing left: out of the open positions, into the trades (paper and live). */
export function closeRecord(s: State, rec: PositionRecord, p: Position): TradeRecord {
  delete s.positions[rec.id];
  const t = toTrade(p);
  const trade: TradeRecord = {
    ...t,
    exits: t.exits.map((e) => ({ ...e })),
    id: rec.id,
    runId: rec.runId,
    symbol: rec.symbol,
    quote: rec.quote,
  };
  s.log.trades.push(trade);
  noteClosed((s.engine.recent ??= { lastLoss: {}, closedPnls: {} }), trade);
  return trade;
}
