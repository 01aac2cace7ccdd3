/**
 * Positions as the state keeps them: the conversion between a stored record and the fill model's
 * working `Position` (`backtest/fills.ts`), the stop in force, and closing one into a trade. Shared by
 * both brokers, the notices and the reports.
 */
import { effectiveStop, type ExitReason, type Position, type Side } from '../backtest/fills.js';
import { toTrade } from '../backtest/simulate.js';
import { quoteOf } from '../market/symbol.js';
import { bookTrade, type PositionRecord, type State, type TradeRecord } from '../store/state.js';

/** JSON has no NaN or Infinity: NaN (none) is stored as null, Infinity as 'inf'. */
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
    ...(p.adds
      ? {
          adds: {
            ...p.adds,
            prices: [...p.adds.prices],
            amounts: [...p.adds.amounts],
            fills: p.adds.fills.map((f) => ({ ...f })),
            stopPrice: num(p.adds.stopPrice),
            targetPrice: num(p.adds.targetPrice),
            ...(p.adds.targetPrices ? { targetPrices: [...p.adds.targetPrices] } : {}),
          },
        }
      : {}),
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
    ...(r.adds
      ? {
          adds: {
            prices: [...r.adds.prices],
            amounts: [...r.adds.amounts],
            next: r.adds.next,
            fills: r.adds.fills.map((f) => ({ ...f })),
            rules: structuredClone(r.adds.rules),
            stopPrice: unnum(r.adds.stopPrice),
            targetPrice: unnum(r.adds.targetPrice),
            ...(r.adds.targetPrices ? { targetPrices: [...r.adds.targetPrices] } : {}),
          },
        }
      : {}),
  };
}

/**
 * Write a working Position back into its record (after a bar or a partial exit). The mark and the
 * fields only the record has (a live stop order, a sell in flight) stay as they are.
 */
export function syncRecord(rec: PositionRecord, p: Position): void {
  Object.assign(rec, toRecord(p, rec), { mark: rec.mark });
}

/** The stop in force now, as the fill model applies it: the tighter of the fixed and trailing stops (NaN: none). */
export function currentStop(r: PositionRecord): number {
  return effectiveStop({ side: r.side as Side, stop: unnum(r.stop), trailStop: unnum(r.trailStop) });
}

/** The open position of a run (one at most: no pyramiding). */
export function positionOf(s: Readonly<State>, runId: string): PositionRecord | undefined {
  for (const p of Object.values(s.positions)) if (p.runId === runId) return p;
  return undefined;
}

/** A position that has nothing left: out of the open positions, booked as a trade (paper and live). */
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
  bookTrade(s, trade);
  return trade;
}
