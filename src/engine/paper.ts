/**
 * The paper broker: simulated fills against a paper balance per quote currency, with the very
 * functions the backtester uses (`backtest/fills.ts`: slippage, fees, gaps, stop before targets,
 * partial take-profits, trailing stops), so a paper position behaves exactly like the same position
 * in a backtest, under the same exchange rules (amount step, minimums, price tick) when the market's
 * are known. It works on the state document inside one store update; the engine decides when.
 */
import {
  addCash,
  applyBar,
  closeAtMarket,
  closePart,
  entryAmount,
  entryCash,
  type EntryFill,
  type ExitFill,
  exitCash,
  type FillCosts,
  marketPrice,
  openPosition,
  partOf,
  planEntry,
} from '../backtest/fills.js';
import { quoteOf } from '../market/symbol.js';
import type { PositionRecord, State } from '../store/state.js';
import type {
  BarPrices,
  BarResult,
  Broker,
  CloseResult,
  EntryOrder,
  EntryResult,
  ExitOrder,
} from './broker.js';
import { reachOf } from './guard.js';
import { closeRecord, fromRecord, syncRecord, toRecord } from './positions.js';

export class PaperBroker implements Broker {
  readonly closesAtGivenPrice = true;

  /** `balances`: the starting paper cash per quote currency. */
  constructor(private readonly balances: Readonly<Record<string, number>>) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  flush(): void {}

  /** Paper orders fill at once: none is ever left working. */
  cancelWorking(): Promise<number> {
    return Promise.resolve(0);
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  reconcile(): Promise<void> {
    return Promise.resolve();
  }

  quotes(): string[] {
    return Object.keys(this.balances);
  }

  initialBalance(_s: Readonly<State>, quote: string): number {
    return this.balances[quote] ?? 0;
  }

  /** Paper cash of a quote currency, starting from the configured balance. */
  cash(s: Readonly<State>, quote: string): number {
    return s.balances[quote] ?? this.balances[quote] ?? 0;
  }

  busy(): boolean {
    return false;
  }

  enter(s: State, o: EntryOrder): EntryResult {
    const plan = planEntry(o.side, o.price, o.rules, o.costs, o.signalStop);
    if (!plan.valid)
      return { kind: 'refused', reason: `the price ${plan.price} is already beyond the stop ${plan.stop}` };
    const sized = o.size(plan.price, plan.stop);
    if ('refused' in sized) return { kind: 'refused', reason: sized.refused };
    // The exchange's amount step and minimums, as the live broker meets them.
    const amount = entryAmount(sized.quantity, plan.price, o.costs);
    if (typeof amount === 'string') return { kind: 'refused', reason: amount };
    const p = openPosition({
      side: o.side,
      index: 0,
      time: o.time,
      price: plan.price,
      quantity: amount,
      rules: o.rules,
      stopPrice: o.signalStop,
      targetPrice: o.signalTarget,
      ...(o.signalTargets ? { targetPrices: o.signalTargets } : {}),
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
    return { kind: 'filled', position: rec };
  }

  /** Paper acts on whatever the fill model fills or moves. */
  reach(rec: PositionRecord, prices: BarPrices, costs: FillCosts): 'act' | 'none' {
    const r = reachOf(rec, prices, costs);
    return r.fills.length > 0 || r.trailMoved || r.added ? 'act' : 'none';
  }

  applyCandle(s: State, rec: PositionRecord, c: BarPrices, costs: FillCosts, closes: boolean): BarResult {
    const p = fromRecord(rec);
    const fills: ExitFill[] = [];
    const adds: EntryFill[] = [];
    const closed = applyBar(
      p,
      c.time,
      c.open,
      c.high,
      c.low,
      costs,
      (f) => {
        fills.push(f);
        s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, f);
      },
      (a) => {
        adds.push(a);
        s.balances[rec.quote] = this.cash(s, rec.quote) + addCash(p.side, a);
      },
    );
    const added = adds.length ? { adds } : {};
    if (closed) {
      // The record as it closed (its adds' average), for the notices of this candle.
      if (adds.length) syncRecord(rec, p);
      return { fills, ...added, trade: closeRecord(s, rec, p) };
    }
    if (closes) p.barsHeld++;
    syncRecord(rec, p);
    rec.mark = c.close;
    return { fills, ...added };
  }

  /** Paper stops are the position's own: nothing rests anywhere. */
  moved(): void {}

  /** Close what is left at the given market price (slipped). */
  close(s: State, rec: PositionRecord, x: ExitOrder): CloseResult {
    const p = fromRecord(rec);
    if (x.quantity !== undefined && x.quantity < p.qty) {
      const price = marketPrice(x.price, p.side === -1, x.costs.slippage);
      const part = partOf(p.qty, x.quantity, price, x.costs);
      if (typeof part === 'string') return { kind: 'refused', reason: part };
      const fill = closePart(p, x.time, price, part, x.reason, x.costs);
      s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, fill);
      if (p.qty > 0) {
        syncRecord(rec, p);
        return { kind: 'part', fill };
      }
      return { kind: 'filled', fill, trade: closeRecord(s, rec, p) };
    }
    const fill = closeAtMarket(p, x.time, x.price, x.reason, x.costs);
    s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, fill);
    return { kind: 'filled', fill, trade: closeRecord(s, rec, p) };
  }
}
