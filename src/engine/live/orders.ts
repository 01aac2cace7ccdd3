/**
 * The live broker's book of orders, inside the engine's state updates: what bosun decides becomes a
 * recorded order (status `new`, with a client id derived from the signal or position, so it has one
 * identity however often it is sent), after the market's checks; what the exchange says about an
 * order is booked back into positions, exit fills and trades, with the same position arithmetic as
 * paper and backtests (`backtest/fills.ts`), at the exchange's prices and fees. Nothing here waits
 * for the exchange: the broker (`broker.ts`) sends and asks, then calls in here to book.
 */
import { type MarketRules, rulesOfMarket } from '../../market/rules.js';
import type { Exchange, Market as CcxtMarket, Order, Trade } from 'ccxt';
import {
  applyBar,
  closePart,
  entryCash,
  exitCash,
  type ExitFill,
  type ExitReason,
  type FillCosts,
  openPosition,
  planEntry,
  type Side,
  partOf,
  addCash,
  addTo,
  planAdds,
} from '../../backtest/fills.js';
import type { LiveConfig } from '../../config.js';
import { AppError, toAppError } from '../../errors.js';
import { baseOf, quoteOf } from '../../market/symbol.js';
import { markSignal, type OrderRecord, type PositionRecord, type State } from '../../store/state.js';
import type {
  BarPrices,
  BarResult,
  CloseResult,
  EntryOrder,
  EntryResult,
  ExitOrder,
  Ordered,
  Refused,
} from '../broker.js';
import type { EngineEvent } from '../events.js';
import { reachOf } from '../guard.js';
import { closeRecord, fromRecord, toRecord } from '../positions.js';

type Market = NonNullable<CcxtMarket>;

/** An order's final states: nothing more will happen to it. */
export const FINAL = new Set<OrderRecord['status']>(['filled', 'cancelled', 'rejected']);
/** Final orders kept in memory (all of them are in the journal). */
const MAX_FINAL_ORDERS = 200;
const clone = <T>(v: T): T => structuredClone(v);
export const refused = (reason: string): Refused => ({ kind: 'refused', reason });
/** How many orders of a kind a position has had (numbers its client ids: `_x1`, `_s2`). */
const ordersOf = (s: State, positionId: string, purpose: OrderRecord['purpose']) =>
  Object.values(s.orders).filter((o) => o.positionId === positionId && o.purpose === purpose).length;

/** What a fill added: when, at what average price, how much (net of a fee taken in it), its fee in quote. */
interface OrderFill {
  time: number;
  price: number;
  qty: number;
  fee: number;
}

export interface LiveOrdersOptions {
  exchange: Exchange;
  settings: LiveConfig;
  clock: () => number;
  /** Orders recorded by this process: known not to have been sent before (the broker's). */
  fresh: Set<string>;
}

export class LiveOrders {
  private readonly clock: () => number;
  private readonly fresh: Set<string>;

  constructor(private readonly o: LiveOrdersOptions) {
    this.clock = o.clock;
    this.fresh = o.fresh;
  }

  private get ex(): Exchange {
    return this.o.exchange;
  }

  market(symbol: string): Market {
    const m = this.ex.markets?.[symbol];
    if (!m) throw new AppError('BAD_INPUT', `${symbol} is not listed on ${this.ex.id}`);
    return m;
  }

  /** A market's rules (amount step, tick, minimums) as the fill model takes them. */
  private rulesOf(symbol: string): MarketRules {
    return rulesOfMarket(this.market(symbol), this.ex.precisionMode ?? 0, this.ex.id);
  }

  /** Quote cash: the exchange's total at the last sync, moved by fills since. */
  cash(s: Readonly<State>, quote: string): number {
    return s.balances[quote] ?? 0;
  }

  private clientId(s: State, tail: string): string {
    return `bsn${s.install.id.slice(0, 6)}_${tail}`;
  }

  /** Record an order (status `new`): it goes out after the state write. */
  record(s: State, o: Omit<OrderRecord, 'status' | 'filled' | 'fee' | 'createdAt' | 'updatedAt'>) {
    const now = this.clock();
    const rec: OrderRecord = { ...o, status: 'new', filled: 0, fee: 0, createdAt: now, updatedAt: now };
    s.orders[rec.id] = rec;
    this.fresh.add(rec.id);
    return rec;
  }

  /** Record an entry order after the market's checks, or say why not. */
  enter(s: State, o: EntryOrder): EntryResult {
    if (o.side === -1)
      return refused('short entries need a margin or futures account; the live broker trades spot only');
    let market: Market;
    try {
      market = this.market(o.symbol);
    } catch (err) {
      return refused(toAppError(err).message);
    }
    const plan = planEntry(o.side, o.price, o.rules, o.costs, o.signalStop);
    if (!plan.valid) return refused(`the price ${plan.price} is already beyond the stop ${plan.stop}`);
    const sized = o.size(plan.price, plan.stop);
    if ('refused' in sized) return refused(sized.refused);
    let qty = sized.quantity;
    const cfg = this.o.settings;
    const runValue = Object.values(s.positions)
      .filter((p) => p.runId === o.runId)
      .reduce((a, p) => a + p.qty * p.mark, 0);
    const allValue = Object.values(s.positions).reduce((a, p) => a + p.qty * p.mark, 0);
    if (cfg.maxNotionalRun > 0) qty = Math.min(qty, (cfg.maxNotionalRun - runValue) / plan.price);
    if (cfg.maxNotionalTotal > 0) qty = Math.min(qty, (cfg.maxNotionalTotal - allValue) / plan.price);
    if (!(qty > 0))
      return refused('the notional limit is used up (LIVE_MAX_NOTIONAL_RUN / LIVE_MAX_NOTIONAL_TOTAL)');
    // With adds, the entry buys the first part; the adds rest on the exchange once it has filled.
    const ladder = o.rules.adds?.length
      ? planAdds(o.side, plan.price, qty, o.rules, o.signalStop, this.rulesOf(o.symbol))
      : undefined;
    const amount = Number(this.ex.amountToPrecision(o.symbol, ladder ? ladder.base : qty));
    const minAmount = market.limits.amount?.min;
    const minCost = market.limits.cost?.min;
    const quote = quoteOf(o.symbol);
    if (!(amount > 0) || (minAmount !== undefined && amount < minAmount))
      return refused(
        `${qty.toPrecision(6)} ${baseOf(o.symbol)} is below the minimum amount ${minAmount ?? market.precision.amount} for ${o.symbol}`,
      );
    if (minCost !== undefined && amount * plan.price < minCost)
      return refused(
        `${(amount * plan.price).toFixed(2)} ${quote} is below the minimum order value ${minCost} ${quote} for ${o.symbol}`,
      );
    const need =
      (amount * plan.price + (ladder?.prices ?? []).reduce((a, p, k) => a + p * ladder!.amounts[k]!, 0)) *
      (1 + o.costs.fee);
    const cash = this.cash(s, quote);
    if (need > cash)
      return refused(`needs ${need.toFixed(2)} ${quote}, the account has ${cash.toFixed(2)} ${quote}`);
    const limit = cfg.entryOrder === 'limit';
    const price = limit
      ? Number(this.ex.priceToPrecision(o.symbol, o.price * (1 - cfg.limitOffsetBps / 10_000)))
      : undefined;
    const order = this.record(s, {
      id: this.clientId(s, `${o.signalId}_e`),
      symbol: o.symbol,
      side: 'buy',
      type: limit ? 'limit' : 'market',
      amount,
      ...(price !== undefined ? { price } : {}),
      purpose: 'entry',
      positionId: o.positionId,
      runId: o.runId,
      signalId: o.signalId,
      rules: o.rules,
      ...(ladder ? { full: qty } : {}),
      ...(limit ? { deadline: this.clock() + cfg.limitTimeout } : {}),
    });
    return { kind: 'ordered', order: clone(order) };
  }

  /**
   * Record a market sell of what is left of a position (a signal, time, a person's /close, panic):
   * it fills at the exchange's price, not the one given.
   */
  close(s: State, rec: PositionRecord, x: ExitOrder): CloseResult {
    if (x.quantity !== undefined && x.quantity < rec.qty) {
      const part = partOf(rec.qty, x.quantity, rec.mark, x.costs);
      if (typeof part === 'string') return refused(part);
      return this.exitOrder(s, rec, part, x.reason);
    }
    return this.exitOrder(s, rec, rec.qty, x.reason);
  }

  private exitOrder(s: State, rec: PositionRecord, qty: number, reason: ExitReason): Ordered | Refused {
    if (rec.closing) return refused(`a sell of ${rec.id} (${rec.closing}) is already under way`);
    const n = ordersOf(s, rec.id, 'exit');
    let amount = 0;
    try {
      amount = Number(this.ex.amountToPrecision(rec.symbol, Math.min(qty, rec.qty)));
    } catch {
      // ccxt refuses an amount under the market's precision: nothing that could be sent.
    }
    if (!(amount > 0))
      return refused(`what is left of ${rec.id} is below ${rec.symbol}'s smallest amount on ${this.ex.id}`);
    rec.closing = reason;
    const order = this.record(s, {
      id: this.clientId(s, `${rec.id}_x${n + 1}`),
      symbol: rec.symbol,
      side: 'sell',
      type: 'market',
      amount,
      purpose: 'exit',
      reason,
      positionId: rec.id,
      runId: rec.runId,
    });
    return { kind: 'ordered', order: clone(order) };
  }

  /**
   * What prices would do to a live position: a sell (a target, the trailing stop, the stop when bosun
   * holds it) or a trailing stop to move is `act`; a stop the exchange holds is its business (`none`);
   * with a sell in flight nothing can be done until it is booked (`wait`).
   */
  reach(rec: PositionRecord, c: BarPrices, costs: FillCosts): 'act' | 'none' | 'wait' {
    if (rec.closing) return 'wait';
    const r = reachOf(rec, c, costs, false);
    const sells = r.fills.some((f) => !(f.reason === 'stop' && rec.stopOrder));
    return sells || r.trailMoved ? 'act' : 'none';
  }

  /**
   * A closed candle against a live position: the same rules as paper, but what paper would fill
   * becomes a market sell (take-profits, trailing stop, and the stop when bosun manages it); a stop
   * the exchange holds is left to the exchange.
   */
  applyCandle(s: State, rec: PositionRecord, c: BarPrices, costs: FillCosts, closes: boolean): BarResult {
    rec.mark = c.close;
    if (rec.closing) return { fills: [] };
    const p = fromRecord(rec);
    // Its adds rest on the exchange; they count as the exchange fills them.
    delete p.adds;
    const wanted: ExitFill[] = [];
    applyBar(p, c.time, c.open, c.high, c.low, costs, (f) => wanted.push(f));
    rec.best = p.best;
    rec.trailStop = Number.isNaN(p.trailStop) ? null : p.trailStop;
    if (closes) rec.barsHeld++;
    let qty = 0;
    let reason: ExitReason | undefined;
    for (const f of wanted) {
      if (f.reason === 'stop' && rec.stopOrder) continue;
      qty += f.quantity;
      reason ??= f.reason;
    }
    if (reason !== undefined) {
      // Targets passed count as taken once their sell is recorded.
      rec.nextTarget = p.nextTarget;
      this.exitOrder(s, rec, p.qty <= 0 ? rec.qty : qty, reason);
    }
    return { fills: [] };
  }

  rejected(
    s: State,
    o: OrderRecord,
    reason: string,
    immediate: boolean | undefined,
    events: EngineEvent[],
  ): void {
    o.status = 'rejected';
    o.error = reason;
    const pos = s.positions[o.positionId];
    if (o.purpose === 'entry' && o.signalId) {
      const sig = s.signals[o.signalId];
      if (sig) {
        markSignal(s, sig, 'skipped');
        sig.reason = `the exchange refused the order: ${reason}`;
      }
    }
    if (o.purpose === 'exit' && pos) delete pos.closing;
    if (o.purpose === 'stop' && pos) {
      delete pos.stopOrder;
      // The price is already through the stop: sell now.
      if (immediate) this.exitOrder(s, pos, pos.qty, 'stop');
    }
    events.push({ type: 'order', order: clone(o), what: 'rejected', detail: reason });
  }

  /** Apply an exchange order's state to ours: new fills go into the position. */
  book(s: State, o: OrderRecord, ex: Order, trades: Trade[] | undefined, events: EngineEvent[]): void {
    const status = ex.status;
    const filled = ex.filled ?? 0;
    const done =
      status === 'closed' || status === 'canceled' || status === 'expired' || status === 'rejected';
    o.status =
      status === 'closed'
        ? 'filled'
        : status === 'canceled' || status === 'expired'
          ? 'cancelled'
          : status === 'rejected'
            ? 'rejected'
            : 'open';
    if (status === 'canceled' && o.note === undefined) o.note = 'cancelled on the exchange';
    const delta = filled - o.filled;
    // Entries are booked once, when final (a limit may fill in parts); exits as they fill.
    if (o.purpose === 'entry' ? !done || filled <= 0 : delta <= 1e-12) {
      if (o.purpose === 'entry' && done && filled <= 0) this.entryNotFilled(s, o, events);
      if (o.purpose === 'stop' && o.status === 'cancelled') this.stopGone(s, o, events);
      // A sell that ended with nothing (more) filled: its position may be sold again.
      if (o.purpose === 'exit' && done) delete s.positions[o.positionId]?.closing;
      return;
    }
    const price = ex.average ?? ex.price ?? 0;
    const base = baseOf(o.symbol);
    let feeQuote = 0;
    let feeBase = 0;
    const all = trades ?? [];
    for (const t of all) {
      if (!t.fee || t.fee.cost === undefined) continue;
      if (t.fee.currency === base) feeBase += t.fee.cost;
      else feeQuote += t.fee.cost;
    }
    if (all.length === 0) feeQuote = (ex.cost ?? filled * price) * 0.001; // unknown: assume 0.1 %
    const share = o.filled > 0 ? delta / filled : 1;
    o.filled = filled;
    o.average = price;
    o.fee += (feeQuote + feeBase * price) * share;
    const time = ex.lastTradeTimestamp ?? ex.timestamp ?? this.clock();
    if (o.purpose === 'entry')
      this.opened(s, o, { time, price, qty: filled - feeBase, fee: feeQuote + feeBase * price }, events);
    else if (o.purpose === 'add')
      this.added(
        s,
        o,
        { time, price, qty: delta - feeBase * share, fee: (feeQuote + feeBase * price) * share },
        events,
      );
    else this.sold(s, o, { time, price, qty: delta, fee: feeQuote * share }, events);
  }

  /**
   * An order recorded and not sent is withdrawn (a panic): its entry's signal is skipped, its
   * position no longer counts as being sold.
   */
  withdraw(s: State, o: OrderRecord, why: string, events: EngineEvent[]): void {
    o.status = 'cancelled';
    o.note = why;
    o.updatedAt = this.clock();
    if (o.purpose === 'entry') this.entryNotFilled(s, o, events);
    if (o.purpose === 'exit') delete s.positions[o.positionId]?.closing;
  }

  private entryNotFilled(s: State, o: OrderRecord, events: EngineEvent[]): void {
    const sig = o.signalId ? s.signals[o.signalId] : undefined;
    if (sig && sig.status === 'ordered') {
      markSignal(s, sig, 'skipped');
      sig.reason = o.note ?? 'the entry order was not filled';
    }
    events.push({ type: 'order', order: clone(o), what: 'cancelled', detail: o.note ?? 'not filled' });
  }

  private stopGone(s: State, o: OrderRecord, events: EngineEvent[]): void {
    const pos = s.positions[o.positionId];
    if (pos?.stopOrder !== o.id) return;
    // Cancelled outside bosun: the position is still guarded, by bosun, at the stop.
    delete pos.stopOrder;
    events.push({
      type: 'order',
      order: clone(o),
      what: 'cancelled',
      detail: `stop order of ${pos.id} was cancelled on the exchange; bosun now watches the stop itself`,
    });
  }

  private opened(
    s: State,
    o: OrderRecord,
    { time, price, qty, fee }: OrderFill,
    events: EngineEvent[],
  ): void {
    const sig = o.signalId ? s.signals[o.signalId] : undefined;
    // An order recorded before entries carried their rules: the stop the signal showed guards it.
    const rules = o.rules ?? {};
    const stopPrice = o.rules ? sig?.signalStop : (sig?.stop ?? sig?.signalStop);
    const market = this.rulesOf(o.symbol);
    const p = openPosition({
      side: 1 as Side,
      index: 0,
      time,
      price,
      // With adds: the full size they complete, from the price the first part got.
      quantity: o.full ?? qty,
      base: qty,
      rules,
      stopPrice: stopPrice ?? Number.NaN,
      targetPrice: sig?.signalTarget ?? Number.NaN,
      ...(sig?.signalTargets?.length ? { targetPrices: sig.signalTargets } : {}),
      // A ladder's levels in whole steps and over the minimums, as the exchange takes its sells.
      costs: { fee: 0, slippage: 0, market },
    });
    p.entryFee = fee;
    if (p.adds) p.adds.fills[0]!.fee = fee;
    const rec = toRecord(p, {
      id: o.positionId,
      runId: o.runId,
      signalId: o.signalId ?? '-',
      symbol: o.symbol,
      mark: price,
    });
    s.positions[rec.id] = rec;
    s.balances[rec.quote] = this.cash(s, rec.quote) + entryCash(p);
    if (sig) markSignal(s, sig, 'filled');
    this.protect(s, rec);
    this.placeAdds(s, rec);
    if (sig) events.push({ type: 'entry', position: clone(rec), signal: clone(sig) });
  }

  /** A stop resting on the exchange, placed again for the position as it stands (its old one goes first). */
  restop(s: State, rec: PositionRecord): void {
    if (rec.stopOrder && !rec.closing) this.protect(s, rec);
  }

  /** Rest a limit order on the exchange for each of a position's adds (an entry ladder, DCA). */
  private placeAdds(s: State, rec: PositionRecord): void {
    const a = rec.adds;
    if (!a) return;
    a.prices.forEach((price, level) => {
      if (level < a.next) return;
      this.record(s, {
        id: this.clientId(s, `${rec.id}_a${level + 1}`),
        symbol: rec.symbol,
        side: rec.side === 1 ? 'buy' : 'sell',
        type: 'limit',
        amount: Number(this.ex.amountToPrecision(rec.symbol, a.amounts[level]!)),
        price: Number(this.ex.priceToPrecision(rec.symbol, price)),
        purpose: 'add',
        level,
        positionId: rec.id,
        runId: rec.runId,
      });
    });
  }

  /**
   * An add filled (in part or whole): the position's average entry, size and fee move, its stop and
   * targets follow, and an exchange stop is placed again for the new size (the old one is cancelled
   * before the new one goes out).
   */
  private added(s: State, o: OrderRecord, { time, price, qty, fee }: OrderFill, events: EngineEvent[]): void {
    const rec = s.positions[o.positionId];
    if (!rec?.adds || rec.exits.length > 0) {
      events.push({
        type: 'order',
        order: clone(o),
        what: 'unmatched',
        detail: `an add of ${qty} ${o.symbol} filled for position ${o.positionId}, which is ${rec ? 'already selling' : 'not open'}; it is in the account, not in a position`,
      });
      return;
    }
    const p = fromRecord(rec);
    const a = p.adds!;
    const next = a.next;
    const fill = addTo(p, time, price, qty, { fee: 0, slippage: 0, market: this.rulesOf(rec.symbol) });
    fill.fee = fee;
    p.entryFee += fee;
    // A limit filling in parts is one level.
    a.next = Math.max(next, (o.level ?? next) + 1);
    s.balances[rec.quote] = this.cash(s, rec.quote) + addCash(p.side, fill);
    Object.assign(rec, toRecord(p, rec), { mark: rec.mark, stopOrder: rec.stopOrder });
    if (rec.stopOrder) this.protect(s, rec);
    events.push({ type: 'add', position: clone(rec), fill: clone(fill), n: (o.level ?? next) + 1 });
  }

  /** A position's add orders not filled, withdrawn (its first exit, or it closed): cancelled, or never sent. */
  private withdrawAdds(s: State, positionId: string, why: string): void {
    for (const x of Object.values(s.orders)) {
      if (x.positionId !== positionId || x.purpose !== 'add' || FINAL.has(x.status)) continue;
      x.cancel = why;
      if (x.status === 'new' && this.fresh.has(x.id)) {
        x.status = 'cancelled';
        x.note = why;
        x.updatedAt = this.clock();
      }
    }
  }

  /** Put a stop order on the exchange for what the position holds (when the settings and market allow). */
  private protect(s: State, rec: PositionRecord): void {
    if (this.o.settings.stops !== 'exchange' || rec.stop === null || rec.stop === 'inf') return;
    const types = (this.market(rec.symbol).info as { orderTypes?: string[] })?.orderTypes;
    if (types && !types.includes('STOP_LOSS')) return;
    const amount = Number(this.ex.amountToPrecision(rec.symbol, rec.qty));
    if (!(amount > 0)) return;
    const n = ordersOf(s, rec.id, 'stop');
    const order = this.record(s, {
      id: this.clientId(s, `${rec.id}_s${n + 1}`),
      symbol: rec.symbol,
      side: 'sell',
      type: 'stop',
      amount,
      stopPrice: Number(this.ex.priceToPrecision(rec.symbol, rec.stop)),
      purpose: 'stop',
      reason: 'stop',
      positionId: rec.id,
      runId: rec.runId,
    });
    rec.stopOrder = order.id;
  }

  private sold(s: State, o: OrderRecord, { time, price, qty, fee }: OrderFill, events: EngineEvent[]): void {
    const rec = s.positions[o.positionId];
    if (!rec) {
      events.push({
        type: 'order',
        order: clone(o),
        what: 'unmatched',
        detail: `a sell of ${qty} ${o.symbol} filled for position ${o.positionId}, which is not open`,
      });
      return;
    }
    const p = fromRecord(rec);
    const reason = (o.reason ?? 'manual') as ExitReason;
    // Adds still resting (a last one filled in part included) are withdrawn at the first exit.
    if (p.adds) this.withdrawAdds(s, rec.id, `withdrawn: ${rec.id} had its first exit`);
    const fill = closePart(p, time, price, qty, reason, {
      fee: qty > 0 ? fee / (qty * price) : 0,
      slippage: 0,
    });
    // What is left below the market's smallest amount cannot be sold: it is dust, not a position.
    const minAmount = this.market(rec.symbol).limits.amount?.min ?? 0;
    if (p.qty > 0 && p.qty < minAmount) p.qty = 0;
    s.balances[rec.quote] = this.cash(s, rec.quote) + exitCash(p.side, fill);
    const before = clone(rec);
    Object.assign(rec, toRecord(p, rec), { mark: rec.mark, stopOrder: rec.stopOrder });
    if (o.purpose === 'stop') delete rec.stopOrder;
    if (FINAL.has(o.status)) delete rec.closing;
    if (p.qty <= 0) {
      const trade = closeRecord(s, rec, p);
      // Nothing left to protect: any stop still resting is cancelled by the next reconciliation.
      for (const x of Object.values(s.orders))
        if (x.positionId === rec.id && x.purpose === 'stop' && !FINAL.has(x.status) && x.id !== o.id)
          x.note = 'orphaned: its position is closed';
      events.push({ type: 'exit', position: before, fill: clone(fill), trade: clone(trade) });
      return;
    }
    events.push({ type: 'exit', position: before, fill: clone(fill) });
    if (FINAL.has(o.status) && !rec.stopOrder) this.protect(s, rec);
  }

  prune(s: State): void {
    // An open position's orders stay: their count numbers its next client id.
    const final = Object.values(s.orders).filter((o) => FINAL.has(o.status) && !s.positions[o.positionId]);
    if (final.length <= MAX_FINAL_ORDERS) return;
    for (const o of final.slice(0, final.length - MAX_FINAL_ORDERS)) delete s.orders[o.id];
  }
}
