/**
 * The live broker: the same decisions as paper trading, carried out as orders on the exchange.
 *
 * Inside the engine's state update it only *records* orders (status `new`, with a client id derived
 * from the signal or position, so the order has one identity however often it is sent). After the
 * write, `kick()` sends them one at a time and records each outcome in a second write; fills become
 * positions, exit fills and trades through the same position arithmetic as paper and backtests
 * (`backtest/fills.ts`), at the exchange's prices and fees.
 *
 * - Entries: market, or limit at an offset with a timeout, then market or nothing for the rest.
 *   Precision, minimum amount, minimum notional, free balance and the notional limits are checked
 *   from the market info before anything is sent.
 * - Stops: an exchange-side stop order for the whole position (LIVE_STOPS=exchange, where the market
 *   has a stop order type), else bosun sells when a closed candle reaches the stop. Take-profits and
 *   the trailing stop are bosun's: a market sell when a closed candle reaches them (on spot the stop
 *   order holds the whole balance, so resting take-profit orders could not be placed beside it).
 * - Before any sell, the position's stop order is cancelled; it is placed again for what remains.
 * - Reconciliation (at start and every LIVE_RECONCILE_INTERVAL): every order not final is looked up
 *   by client id; fills that happened meanwhile are booked, outside cancels noted; open orders and
 *   balances bosun does not know are reported, never adopted or closed.
 */
import type { Exchange, Market as CcxtMarket, Order, Trade } from 'ccxt';

type Market = NonNullable<CcxtMarket>;
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
} from '../../backtest/fills.js';
import type { LiveConfig } from '../../config.js';
import { AppError, toAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { baseOf, quoteOf } from '../../market/symbol.js';
import { markSignal, type OrderRecord, type PositionRecord, type State } from '../../store/state.js';
import type {
  BarResult,
  Broker,
  BrokerContext,
  CloseResult,
  EntryOrder,
  EntryResult,
  ExitOrder,
  Ordered,
  Refused,
} from '../broker.js';
import type { EngineEvent } from '../events.js';
import { closeRecord, fromRecord, toRecord } from '../positions.js';
import { ExchangeClient, type SubmitOutcome } from './client.js';

export interface LiveBrokerOptions {
  exchange: Exchange;
  settings: LiveConfig;
  logger: Logger;
  /** The account's quote currencies (cash is tracked in these; default USDT). */
  quotes?: readonly string[];
  /** Wall clock (tests). */
  clock?: () => number;
  retries?: number;
  backoffMs?: number;
  probeMs?: number;
  /** The resend grace, ms (default: twice the exchange's request timeout; see `resendGraceMs`). */
  resendGraceMs?: number;
}

const FINAL = new Set<OrderRecord['status']>(['filled', 'cancelled', 'rejected']);
/** Final orders kept in memory (all of them are in the journal). */
const MAX_FINAL_ORDERS = 200;
const clone = <T>(v: T): T => structuredClone(v);
const refused = (reason: string): Refused => ({ kind: 'refused', reason });
/** How many orders of a kind a position has had (numbers its client ids: `_x1`, `_s2`). */
const ordersOf = (s: State, positionId: string, purpose: OrderRecord['purpose']) =>
  Object.values(s.orders).filter((o) => o.positionId === positionId && o.purpose === purpose).length;

export class LiveBroker implements Broker {
  readonly closesAtGivenPrice = false;
  private host: BrokerContext | undefined;
  private client: ExchangeClient | undefined;
  private working: Promise<void> = Promise.resolve();
  private kicked = false;
  /** Orders recorded by this process: known not to have been sent before. */
  private readonly fresh = new Set<string>();
  /**
   * Orders sent before (by an earlier process, or by this one with no answer) that the exchange does
   * not show yet: not sent again before this wall-clock time (the resend grace), then looked up again.
   */
  private readonly waiting = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly clock: () => number;
  /** Final errors already reported (each once until the exchange answers again). */
  private readonly said = new Set<string>();

  constructor(private readonly o: LiveBrokerOptions) {
    this.clock = o.clock ?? Date.now;
  }

  private get ex(): Exchange {
    return this.o.exchange;
  }

  private market(symbol: string): Market {
    const m = this.ex.markets?.[symbol];
    if (!m) throw new AppError('BAD_INPUT', `${symbol} is not listed on ${this.ex.id}`);
    return m;
  }

  /** Connect: markets, then a first reconciliation; then the periodic one. */
  async start(host: BrokerContext): Promise<void> {
    this.host = host;
    this.stopped = false;
    this.client = await ExchangeClient.create(this.ex, {
      logger: this.o.logger,
      breakerFailures: this.o.settings.breakerFailures,
      ...(this.o.retries !== undefined ? { retries: this.o.retries } : {}),
      ...(this.o.backoffMs !== undefined ? { backoffMs: this.o.backoffMs } : {}),
      ...(this.o.probeMs !== undefined ? { probeMs: this.o.probeMs } : {}),
      clock: this.clock,
      ...(this.o.resendGraceMs !== undefined ? { resendGraceMs: this.o.resendGraceMs } : {}),
      onBreaker: (open, detail) => {
        host.emit([{ type: 'exchange', up: !open, detail }]);
        // Back: settle what was left unknown, then send what waits.
        if (!open)
          void this.reconcile().catch((err: unknown) =>
            this.o.logger.warn({ err: toAppError(err).message }, 'reconciliation failed'),
          );
      },
    });
    await this.client.read('loading markets', () => this.ex.loadMarkets());
    await this.reconcile();
    this.timer = setInterval(() => {
      void this.reconcile().catch((err: unknown) =>
        this.o.logger.warn({ err: toAppError(err).message }, 'reconciliation failed'),
      );
    }, this.o.settings.reconcileInterval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.stop();
    await this.working;
  }

  get paused(): boolean {
    return this.client?.paused ?? false;
  }

  /** Quote cash: the exchange's total at the last sync, moved by fills since. */
  cash(s: Readonly<State>, quote: string): number {
    return s.balances[quote] ?? 0;
  }

  /** The quote currencies are those the exchange reports (in the state). */
  quotes(): string[] {
    return [];
  }

  /** What the exchange's account held at the first sync. */
  initialBalance(s: Readonly<State>, quote: string): number {
    return s.live.initial[quote] ?? 0;
  }

  /** Whether a run has an entry order working (so it must not get another). */
  busy(s: Readonly<State>, runId: string): boolean {
    return Object.values(s.orders).some(
      (o) => o.runId === runId && o.purpose === 'entry' && !FINAL.has(o.status),
    );
  }

  private clientId(s: State, tail: string): string {
    return `bsn${s.install.id.slice(0, 6)}_${tail}`;
  }

  private record(s: State, o: Omit<OrderRecord, 'status' | 'filled' | 'fee' | 'createdAt' | 'updatedAt'>) {
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
    if (this.paused) return refused(`trading is paused: ${this.client?.pauseReason}`);
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
    const amount = Number(this.ex.amountToPrecision(o.symbol, qty));
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
    const need = amount * plan.price * (1 + o.costs.fee);
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
      ...(limit ? { deadline: this.clock() + cfg.limitTimeout } : {}),
    });
    return { kind: 'ordered', order: clone(order) };
  }

  /**
   * Record a market sell of what is left of a position (a signal, time, a person's /close, panic):
   * it fills at the exchange's price, not the one given.
   */
  close(s: State, rec: PositionRecord, x: ExitOrder): CloseResult {
    return this.exitOrder(s, rec, rec.qty, x.reason);
  }

  private exitOrder(s: State, rec: PositionRecord, qty: number, reason: ExitReason): Ordered | Refused {
    if (rec.closing) return refused(`a sell of ${rec.id} (${rec.closing}) is already under way`);
    const n = ordersOf(s, rec.id, 'exit');
    const amount = Number(this.ex.amountToPrecision(rec.symbol, Math.min(qty, rec.qty)));
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
   * A closed candle against a live position: the same rules as paper, but what paper would fill
   * becomes a market sell (take-profits, trailing stop, and the stop when bosun manages it); a stop
   * the exchange holds is left to the exchange.
   */
  applyCandle(
    s: State,
    rec: PositionRecord,
    c: { time: number; open: number; high: number; low: number; close: number },
    costs: FillCosts,
  ): BarResult {
    rec.mark = c.close;
    if (rec.closing) return { fills: [] };
    const p = fromRecord(rec);
    const wanted: ExitFill[] = [];
    applyBar(p, c.time, c.open, c.high, c.low, costs, (f) => wanted.push(f));
    rec.best = p.best;
    rec.trailStop = Number.isNaN(p.trailStop) ? null : p.trailStop;
    rec.barsHeld++;
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

  // --- sending ---

  /** Send what is recorded (after the state write). One worker; calls while it runs re-run it. */
  flush(): void {
    this.kick();
  }

  private kick(): void {
    if (this.stopped || !this.host) return;
    if (this.kicked) return;
    this.kicked = true;
    this.working = this.working.then(async () => {
      this.kicked = false;
      try {
        await this.drain();
      } catch (err) {
        this.o.logger.error({ err: toAppError(err).message }, 'sending orders failed');
      }
    });
  }

  /** Resolves when the orders recorded so far have been dealt with (tests, shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const w = this.working;
      await w;
      // Work queued as that finished (a reconciliation kicks a send) counts too.
      await new Promise((r) => setImmediate(r));
      if (w === this.working && !this.kicked) return;
    }
  }

  private async drain(): Promise<void> {
    const host = this.host!;
    const client = this.client!;
    for (;;) {
      if (this.stopped || client.paused) return;
      const now = this.clock();
      const next = Object.values(host.store.data.orders).find(
        (o) => o.status === 'new' && !((this.waiting.get(o.id) ?? 0) > now),
      );
      if (!next) return;
      // An order recorded before a restart may have been sent just before it: ask first.
      if (!this.fresh.has(next.id)) {
        const found = await client.lookup(next.symbol, next.id).catch(() => null);
        if (found === null) return; // the exchange is not answering; try again later
        if (found) {
          this.fresh.add(next.id);
          this.waiting.delete(next.id);
          await this.settle(next.id, { kind: 'adopted', order: found });
          continue;
        }
        if (this.holdBack(next)) continue;
        this.fresh.add(next.id);
      }
      if (next.purpose === 'exit') {
        const pos = host.store.data.positions[next.positionId];
        if (!pos) {
          // Closed meanwhile (its stop filled first): nothing is left to sell.
          await this.drop(next.id, 'its position was already closed');
          continue;
        }
        if (pos.stopOrder) {
          const released = await this.releaseStop(pos.id, pos.stopOrder);
          if (released === 'wait') return;
          if (released === 'filled') continue;
        }
      }
      const outcome = await client.submit(
        {
          clientId: next.id,
          symbol: next.symbol,
          type: next.type,
          side: next.side,
          amount: next.amount,
          ...(next.price !== undefined ? { price: next.price } : {}),
          ...(next.stopPrice !== undefined ? { stopPrice: next.stopPrice } : {}),
        },
        // Written before each request leaves, so a restart knows it may be out there.
        () =>
          host.store.update((s) => {
            const r = s.orders[next.id];
            if (r) r.sentAt = this.clock();
          }),
      );
      if (outcome.kind === 'deferred') return;
      await this.settle(next.id, outcome);
    }
  }

  /**
   * An order sent before that the exchange does not show: hold it back until the resend grace after
   * its last send is over (the request may still be carried out), then look again. True if held.
   */
  private holdBack(o: OrderRecord): boolean {
    if (o.sentAt === undefined) return false;
    const until = o.sentAt + this.client!.grace;
    if (until <= this.clock()) {
      this.waiting.delete(o.id);
      return false;
    }
    if (this.waiting.get(o.id) !== until) {
      this.waiting.set(o.id, until);
      const t = setTimeout(() => this.kick(), until - this.clock() + 10);
      t.unref();
    }
    return true;
  }

  /** A recorded order that will not be sent after all. */
  private async drop(id: string, why: string): Promise<void> {
    await this.host!.store.update((s) => {
      const o = s.orders[id];
      if (o?.status !== 'new') return;
      o.status = 'cancelled';
      o.note = why;
      o.updatedAt = this.clock();
    });
  }

  /**
   * Cancel a position's stop order before selling: `ok`, or `wait` (the exchange did not answer), or
   * `filled` (the stop filled first; it is booked, and the sell is dropped on the next pass).
   */
  private async releaseStop(positionId: string, stopId: string): Promise<'ok' | 'wait' | 'filled'> {
    const host = this.host!;
    const stop = host.store.data.orders[stopId];
    let gone: Order | undefined;
    try {
      if (stop && !FINAL.has(stop.status)) {
        const cancelled = await this.client!.cancel(stop.symbol, stopId);
        if (!cancelled) gone = await this.client!.lookup(stop.symbol, stopId);
      }
    } catch {
      return 'wait';
    }
    if (gone && gone.status !== 'canceled') {
      await this.settle(stopId, { kind: 'adopted', order: gone });
      return 'filled';
    }
    await host.store.update((s) => {
      const o = s.orders[stopId];
      if (o && !FINAL.has(o.status)) {
        o.status = 'cancelled';
        o.note = 'cancelled by bosun before a sell';
        o.updatedAt = this.clock();
      }
      const pos = s.positions[positionId];
      if (pos?.stopOrder === stopId) delete pos.stopOrder;
    });
    return 'ok';
  }

  /** Record an order's outcome: status, fills booked into positions and trades. */
  private async settle(id: string, outcome: SubmitOutcome): Promise<void> {
    const host = this.host!;
    const fills =
      'order' in outcome && (outcome.order.filled ?? 0) > 0 ? await this.tradesOf(outcome.order) : undefined;
    const events: EngineEvent[] = [];
    await host.store.update((s) => {
      const o = s.orders[id];
      if (!o) return;
      o.updatedAt = this.clock();
      if (outcome.kind === 'rejected' || outcome.kind === 'unknown' || outcome.kind === 'deferred') {
        if (outcome.kind === 'rejected') this.rejected(s, o, outcome.reason, outcome.immediate, events);
        else if (o.status !== 'unknown') {
          o.status = 'unknown';
          o.error = outcome.reason;
          events.push({ type: 'order', order: clone(o), what: 'unknown', detail: outcome.reason });
        }
        return;
      }
      const ex = outcome.order;
      if (ex.id) o.exchangeId = ex.id;
      const wasNew = o.status === 'new' || o.status === 'unknown';
      this.book(s, o, ex, fills, events);
      if (wasNew && o.deadline !== undefined && o.status === 'open') this.checkAt(o.deadline);
      if (wasNew && !FINAL.has(o.status))
        events.push({
          type: 'order',
          order: clone(o),
          what: outcome.kind === 'adopted' ? 'adopted' : 'placed',
        });
      else if (wasNew && outcome.kind === 'adopted')
        events.push({ type: 'order', order: clone(o), what: 'adopted' });
      this.prune(s);
    });
    host.emit(events);
  }

  /** Reconcile at a limit entry's deadline (its timeout), rather than at the next periodic one. */
  private checkAt(when: number): void {
    const t = setTimeout(
      () => {
        void this.reconcile().catch((err: unknown) =>
          this.o.logger.warn({ err: toAppError(err).message }, 'reconciliation failed'),
        );
      },
      Math.max(0, when - this.clock()) + 10,
    );
    t.unref();
  }

  private rejected(
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

  /** Trades of an order (fees in the asset charged), from the order or the exchange. */
  private async tradesOf(order: Order): Promise<Trade[] | undefined> {
    if (order.trades && order.trades.length > 0) return order.trades;
    try {
      return await this.client!.read(`fills of order ${order.clientOrderId ?? order.id}`, () =>
        this.ex.fetchMyTrades(order.symbol, undefined, undefined, { orderId: order.id }),
      );
    } catch {
      return undefined;
    }
  }

  /** Apply an exchange order's state to ours: new fills go into the position. */
  private book(
    s: State,
    o: OrderRecord,
    ex: Order,
    trades: Trade[] | undefined,
    events: EngineEvent[],
  ): void {
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
      this.opened(s, o, time, price, filled - feeBase, feeQuote + feeBase * price, events);
    else this.sold(s, o, time, price, delta, feeQuote * share, events);
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
    time: number,
    price: number,
    qty: number,
    fee: number,
    events: EngineEvent[],
  ): void {
    const sig = o.signalId ? s.signals[o.signalId] : undefined;
    const rules = o.rules ?? {};
    const p = openPosition({
      side: 1 as Side,
      index: 0,
      time,
      price,
      quantity: qty,
      rules,
      stopPrice: sig?.signalStop ?? Number.NaN,
      targetPrice: sig?.signalTarget ?? Number.NaN,
      costs: { fee: 0, slippage: 0 },
    });
    p.entryFee = fee;
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
    if (sig) events.push({ type: 'entry', position: clone(rec), signal: clone(sig) });
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

  private sold(
    s: State,
    o: OrderRecord,
    time: number,
    price: number,
    qty: number,
    fee: number,
    events: EngineEvent[],
  ): void {
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

  private prune(s: State): void {
    // An open position's orders stay: their count numbers its next client id.
    const final = Object.values(s.orders).filter((o) => FINAL.has(o.status) && !s.positions[o.positionId]);
    if (final.length <= MAX_FINAL_ORDERS) return;
    for (const o of final.slice(0, final.length - MAX_FINAL_ORDERS)) delete s.orders[o.id];
  }

  // --- reconciliation ---

  /** Compare the state with the exchange and settle every difference (see the module comment). */
  async reconcile(): Promise<void> {
    const host = this.host;
    const client = this.client;
    if (!host || !client || this.stopped) return;
    await (this.working = this.working.then(async () => {
      const now = this.clock();
      // 1. Orders not final: their fate on the exchange.
      for (const o of Object.values(host.store.data.orders)) {
        if (FINAL.has(o.status) || (o.status === 'new' && this.fresh.has(o.id))) continue;
        let found: Order | undefined;
        try {
          found = await client.lookup(o.symbol, o.id);
        } catch {
          return;
        }
        if (found) {
          this.fresh.add(o.id);
          this.waiting.delete(o.id);
          // A limit entry past its time: cancel the rest, then market or nothing.
          if (
            o.purpose === 'entry' &&
            o.deadline !== undefined &&
            now >= o.deadline &&
            found.status === 'open'
          ) {
            if (await client.cancel(o.symbol, o.id).catch(() => false)) {
              found = (await client.lookup(o.symbol, o.id).catch(() => undefined)) ?? found;
              await host.store.update((s) => {
                const r = s.orders[o.id];
                if (r) r.note = `limit not filled within ${this.o.settings.limitTimeout / 1000} s`;
              });
            }
          }
          // A stop whose position is closed: cancel it.
          if (o.purpose === 'stop' && !host.store.data.positions[o.positionId] && found.status === 'open')
            if (await client.cancel(o.symbol, o.id).catch(() => false))
              found = (await client.lookup(o.symbol, o.id).catch(() => undefined)) ?? found;
          await this.settle(o.id, { kind: 'adopted', order: found });
          const after = host.store.data.orders[o.id];
          if (
            after?.purpose === 'entry' &&
            after.status === 'cancelled' &&
            this.o.settings.limitFallback === 'market' &&
            after.filled <= 0
          )
            await this.fallback(after);
        } else if (o.status === 'open') {
          await this.settle(o.id, { kind: 'rejected', reason: 'the exchange no longer knows this order' });
        } else {
          // Recorded (or sent with no answer) and not on the exchange: it goes (again), at once if it
          // was never sent, else once the resend grace is over and it is still not there.
          if (!this.holdBack(o)) this.fresh.add(o.id);
          await host.store.update((s) => {
            const r = s.orders[o.id];
            if (r && (r.status === 'new' || r.status === 'unknown')) r.status = 'new';
          });
        }
      }
      // 2. Balances, open orders and fills bosun does not know.
      const symbols = [
        ...new Set([
          ...Object.values(host.store.data.runs).map((r) => r.symbol),
          ...Object.values(host.store.data.positions).map((p) => p.symbol),
        ]),
      ];
      let balance: Record<string, number>;
      const openOrders: Order[] = [];
      try {
        const b = await client.read('reading balances', () => this.ex.fetchBalance());
        balance = (b.total ?? {}) as unknown as Record<string, number>;
        for (const sym of symbols)
          openOrders.push(
            ...(await client.read(`open orders of ${sym}`, () => this.ex.fetchOpenOrders(sym))),
          );
      } catch (err) {
        // A refusal (a key the exchange rejects, say) is final: said once, not at every sync.
        const e = toAppError(err);
        this.o.logger.warn({ err: e.message }, 'reconciliation could not read the account');
        if (e.code !== 'NETWORK' && !this.said.has(e.message)) {
          this.said.add(e.message);
          host.emit([{ type: 'exchange', up: false, detail: `reconciliation stopped: ${e.message}` }]);
        }
        return;
      }
      this.said.clear();
      const events: EngineEvent[] = [];
      await host.store.update((s) => {
        const say = (key: string, detail: string) => {
          if (s.live.reported.includes(key)) return;
          s.live.reported.push(key);
          if (s.live.reported.length > 500) s.live.reported.splice(0, s.live.reported.length - 500);
          events.push({ type: 'reconcile', detail });
        };
        for (const q of new Set([
          ...(this.o.quotes ?? ['USDT']),
          ...symbols.map(quoteOf),
          ...Object.keys(s.balances),
        ])) {
          s.balances[q] = balance[q] ?? 0;
          s.live.initial[q] ??= s.balances[q];
        }
        for (const eo of openOrders)
          if (!eo.clientOrderId || !s.orders[eo.clientOrderId])
            say(
              `order:${eo.id}`,
              `order ${eo.id} (${eo.side} ${eo.amount} ${eo.symbol}) is open on the exchange but was not placed by bosun; left alone`,
            );
        for (const sym of symbols) {
          const base = baseOf(sym);
          const held = balance[base] ?? 0;
          const ours = Object.values(s.positions)
            .filter((p) => baseOf(p.symbol) === base)
            .reduce((a, p) => a + p.qty, 0);
          const m = this.ex.markets?.[sym];
          const dust = Math.max(
            m?.limits.amount?.min ?? 0,
            (m?.limits.cost?.min ?? 0) / (this.lastPrice(s, sym) || Infinity),
          );
          const diff = held - ours;
          if (diff > dust * 1.0001)
            say(
              `hold:${base}:${held.toPrecision(8)}`,
              `the exchange holds ${held} ${base}, ${diff.toPrecision(6)} more than bosun's positions: not bosun's, left alone (neither adopted nor sold)`,
            );
          else if (diff < -Math.max(dust, ours * 1e-6))
            say(
              `short:${base}:${held.toPrecision(8)}`,
              `bosun's positions hold ${ours} ${base} but the exchange has ${held}: sold outside bosun? Check, then /close what is gone`,
            );
        }
        s.live.lastSync = now;
      });
      host.emit(events);
    }));
    this.kick();
  }

  private lastPrice(s: Readonly<State>, symbol: string): number {
    for (const p of Object.values(s.positions)) if (p.symbol === symbol) return p.mark;
    return 0;
  }

  /**
   * A limit entry that timed out with nothing filled, sent again as a market order (a partly filled
   * one keeps what it got). The signal goes back to `ordered`.
   */
  private async fallback(o: OrderRecord): Promise<void> {
    await this.host!.store.update((s) => {
      const id = `${o.id}m`;
      if (s.orders[id] || s.positions[o.positionId]) return;
      const { price: _p, deadline: _d, exchangeId: _e, note: _n, error: _r, ...rest } = o;
      this.record(s, { ...rest, id, type: 'market' });
      const sig = o.signalId ? s.signals[o.signalId] : undefined;
      if (sig) {
        markSignal(s, sig, 'ordered');
        delete sig.reason;
      }
    });
  }

  // --- panic ---

  /** Cancel every working bosun order (entries and sells; stops stay until their position is sold). */
  async cancelWorking(): Promise<number> {
    const host = this.host!;
    let cancelled = 0;
    await this.idle();
    for (const o of Object.values(host.store.data.orders)) {
      if (FINAL.has(o.status) || o.purpose === 'stop') continue;
      if (o.status === 'new') {
        await host.store.update((s) => {
          const r = s.orders[o.id];
          if (r?.status === 'new') {
            r.status = 'cancelled';
            r.note = 'panic';
          }
        });
        cancelled++;
        continue;
      }
      if (await this.client!.cancel(o.symbol, o.id).catch(() => false)) cancelled++;
    }
    return cancelled;
  }
}
