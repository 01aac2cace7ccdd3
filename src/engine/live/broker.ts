/**
 * The live broker: the same decisions as paper trading, carried out as orders on the exchange.
 *
 * Inside the engine's state update it only *records* orders (`orders.ts`: status `new`, with a
 * client id derived from the signal or position, so the order has one identity however often it is
 * sent). After the write, `flush()` sends them one at a time and records each outcome in a second
 * write; `orders.ts` books fills into positions, exit fills and trades through the same position
 * arithmetic as paper and backtests (`backtest/fills.ts`), at the exchange's prices and fees.
 *
 * - Entries: market, or limit at an offset with a timeout, then market or nothing for the rest.
 *   Precision, minimum amount, minimum notional, free balance and the notional limits are checked
 *   from the market info before anything is sent.
 * - Stops: an exchange-side stop order for the whole position (LIVE_STOPS=exchange, where the market
 *   has a stop order type), else bosun sells when a closed candle reaches the stop. Take-profits and
 *   the trailing stop are bosun's: a market sell when a closed candle reaches them (on spot the stop
 *   order holds the whole balance, so resting take-profit orders could not be placed beside it).
 * - Before any sell, the position's stop order is cancelled; it is placed again for what remains.
 * - Fills as they happen: where the exchange has a user data stream (ccxt.pro `watchOrders`, the
 *   `stream` option), each order update is booked at once, through the same bookkeeping as a send's
 *   answer or a reconciliation (booking is idempotent: only fills beyond those booked count); an
 *   update for an order bosun did not place is reported once, never adopted. A broken stream is
 *   redialled with a backoff; meanwhile, as always, reconciliation is the safety net.
 * - Reconciliation (at start and every LIVE_RECONCILE_INTERVAL): every order not final is looked up
 *   by client id; fills that happened meanwhile are booked, outside cancels noted; open orders and
 *   balances bosun does not know are reported, never adopted or closed (`reconcile.ts`).
 *
 * This file is the one worker that talks to the exchange: sending, the resend grace, cancels and
 * the order lookups of a reconciliation share its in-flight bookkeeping (`fresh`, `waiting`, one
 * queue of work), which is why they stay together (about 500 lines).
 */
import { setTimeout as wait } from 'node:timers/promises';
import type { Exchange, Order, Trade } from 'ccxt';
import type { FillCosts } from '../../backtest/fills.js';
import type { LiveConfig } from '../../config.js';
import { toAppError } from '../../errors.js';
import { retireStreams, untilAborted } from '../../market/exchange.js';
import type { Logger } from '../../logger.js';
import { markSignal, type OrderRecord, type PositionRecord, type State } from '../../store/state.js';
import type {
  BarPrices,
  BarResult,
  Broker,
  BrokerContext,
  CloseResult,
  EntryOrder,
  EntryResult,
  ExitOrder,
} from '../broker.js';
import type { EngineEvent } from '../events.js';
import { ExchangeClient, type SubmitOutcome } from './client.js';
import { FINAL, LiveOrders, refused } from './orders.js';
import { compareAccount, reportOnce } from './reconcile.js';

const clone = <T>(v: T): T => structuredClone(v);

/** A user data stream watch that failed after standing this long had been up (ms). */
const ORDER_STREAM_UP_MS = 10_000;

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
  /** A streaming instance with the account's keys: order updates as they happen (`watchOrders`). */
  stream?: Exchange;
  /** First wait before redialling the user data stream, doubling to 30 s (default 250 ms). */
  streamBackoffMs?: number;
}

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
  /** The user data stream's loop while it runs, and what wakes its backoff when bosun stops. */
  private streaming: Promise<void> | undefined;
  private halt = new AbortController();
  /** A malformed order update was logged (once). */
  private malformedSaid = false;
  /** Unwanted resting orders whose cancel was tried by this process (a failed try is tried again). */
  private readonly cancelTried = new Set<string>();

  /** Recording and booking orders in the state. */
  private readonly orders: LiveOrders;

  constructor(private readonly o: LiveBrokerOptions) {
    this.clock = o.clock ?? Date.now;
    this.orders = new LiveOrders({
      exchange: o.exchange,
      settings: o.settings,
      clock: this.clock,
      fresh: this.fresh,
    });
  }

  private get ex(): Exchange {
    return this.o.exchange;
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
    const stream = this.o.stream;
    if (stream?.has.watchOrders === true) {
      this.halt = new AbortController();
      this.streaming = this.watchOrders(stream);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.client?.stop();
    this.halt.abort();
    // Its pending watch fails at once; the loop sees `stopped` and ends.
    if (this.o.stream) await retireStreams(this.o.stream, new Error('bosun stopped'));
    await this.streaming;
    await this.working;
  }

  // --- the user data stream ---

  /** Keep a `watchOrders` pending while bosun runs; book each update as it comes. */
  private async watchOrders(stream: Exchange): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const since = Date.now();
      try {
        const orders = await untilAborted(stream.watchOrders(), this.halt.signal);
        failures = 0;
        for (const order of orders) this.streamed(order);
      } catch (err) {
        if (this.stopped) break;
        // A watch that stood for a while was up (orders may simply not have moved): a new outage.
        if (Date.now() - since >= ORDER_STREAM_UP_MS) failures = 0;
        if (failures++ === 0)
          this.o.logger.warn(
            { err: toAppError(err).message },
            'order stream down: fills are learned by reconciliation until it is back',
          );
        const ms = Math.min((this.o.streamBackoffMs ?? 250) * 2 ** (failures - 1), 30_000);
        await wait(ms, undefined, { signal: this.halt.signal }).catch(() => undefined);
      }
    }
  }

  /**
   * One order update from the stream: booked at once for an order of bosun's (in turn with the sends
   * and reconciliations, so it never crosses them); reported once for one bosun did not place.
   */
  private streamed(order: Order): void {
    const host = this.host;
    if (!host) return;
    const id = order.clientOrderId;
    if (typeof id !== 'string' || typeof order.status !== 'string') {
      if (!this.malformedSaid) {
        this.malformedSaid = true;
        this.o.logger.warn({ order: order.id }, 'order update without a client id or status dropped');
      }
      return;
    }
    this.working = this.working.then(async () => {
      try {
        const known = host.store.data.orders[id];
        // Booked to its end already (by the send's answer or a reconciliation), unless the exchange
        // reports more filled than was booked (a stop that filled in part as it was cancelled).
        if (known && FINAL.has(known.status) && (order.filled ?? 0) <= known.filled) return;
        if (known) {
          this.fresh.add(id);
          this.waiting.delete(id);
          await this.settle(id, { kind: 'adopted', order });
          return;
        }
        const events: EngineEvent[] = [];
        await host.store.update((s) =>
          reportOnce(
            s,
            `order:${order.id}`,
            `order ${order.id} (${order.side} ${order.filled ?? 0}/${order.amount} ${order.symbol}, ${order.status}) was not placed by bosun; left alone`,
            events,
          ),
        );
        host.emit(events);
      } catch (err) {
        this.o.logger.error({ err: toAppError(err).message }, 'an order update was not booked');
      }
    });
    this.kick();
  }

  get paused(): boolean {
    return this.client?.paused ?? false;
  }

  /** Quote cash: the exchange's total at the last sync, moved by fills since. */
  cash(s: Readonly<State>, quote: string): number {
    return this.orders.cash(s, quote);
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
  /** Record an entry order after the market's checks, or say why not (spot: long only). */
  enter(s: State, o: EntryOrder): EntryResult {
    if (this.paused) return refused(`trading is paused: ${this.client?.pauseReason}`);
    return this.orders.enter(s, o);
  }

  /** Record a market sell of what is left (it fills at the exchange's price, not the one given). */
  close(s: State, rec: PositionRecord, x: ExitOrder): CloseResult {
    return this.orders.close(s, rec, x);
  }

  /** A stop resting on the exchange, placed again at the position's moved stop. */
  moved(s: State, rec: PositionRecord): void {
    this.orders.restop(s, rec);
  }

  /** Whether streamed prices call for a sell now, wait for one in flight, or change nothing. */
  reach(rec: PositionRecord, c: BarPrices, costs: FillCosts): 'act' | 'none' | 'wait' {
    return this.orders.reach(rec, c, costs);
  }

  /**
   * What paper would fill on these prices becomes a market sell, at a close or as the stream shows
   * them; an exchange-held stop is left to the exchange.
   */
  applyCandle(s: State, rec: PositionRecord, c: BarPrices, costs: FillCosts, closes: boolean): BarResult {
    return this.orders.applyCandle(s, rec, c, costs, closes);
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
      // Adds withdrawn while they rest on the exchange (their position had an exit): cancelled first.
      const unwanted = Object.values(host.store.data.orders).find(
        (o) =>
          o.cancel !== undefined &&
          (o.status === 'open' || o.status === 'unknown') &&
          !this.cancelTried.has(o.id),
      );
      if (unwanted) {
        this.cancelTried.add(unwanted.id);
        await this.cancelResting(unwanted.id);
        continue;
      }
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
      if (next.purpose === 'stop') {
        // A stop placed again (after an add): the one it replaces is cancelled before it goes out.
        const pos = host.store.data.positions[next.positionId];
        if (!pos || pos.stopOrder !== next.id) {
          await this.drop(next.id, pos ? 'replaced by a newer stop' : 'its position was already closed');
          continue;
        }
        const old = Object.values(host.store.data.orders).find(
          (o) => o.positionId === pos.id && o.purpose === 'stop' && o.id !== next.id && !FINAL.has(o.status),
        );
        if (old) {
          const released = await this.releaseStop(pos.id, old.id);
          if (released === 'wait') return;
          continue;
        }
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

  /** Cancel an order resting on the exchange that is no longer wanted, and book what it had filled. */
  private async cancelResting(id: string): Promise<void> {
    const o = this.host!.store.data.orders[id];
    if (!o) return;
    let found: Order | undefined;
    try {
      await this.client!.cancel(o.symbol, id);
      found = await this.client!.lookup(o.symbol, id);
    } catch {
      // Not answered: the next reconciliation looks again.
      this.cancelTried.delete(id);
      return;
    }
    if (found) await this.settle(id, { kind: 'adopted', order: found });
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
        if (outcome.kind === 'rejected')
          this.orders.rejected(s, o, outcome.reason, outcome.immediate, events);
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
      this.orders.book(s, o, ex, fills, events);
      if (wasNew && o.deadline !== undefined && o.status === 'open') this.checkAt(o.deadline);
      if (wasNew && !FINAL.has(o.status))
        events.push({
          type: 'order',
          order: clone(o),
          what: outcome.kind === 'adopted' ? 'adopted' : 'placed',
        });
      else if (wasNew && outcome.kind === 'adopted')
        events.push({ type: 'order', order: clone(o), what: 'adopted' });
      this.orders.prune(s);
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
          // A stop whose position is closed, an add withdrawn or whose position is closed: cancel it.
          const unwanted =
            (o.purpose === 'stop' || o.purpose === 'add') &&
            (!host.store.data.positions[o.positionId] || o.cancel !== undefined);
          if (unwanted && found.status === 'open')
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
        compareAccount(
          s,
          { balance, openOrders, symbols, quotes: this.o.quotes ?? ['USDT'], markets: this.ex.markets ?? {} },
          events,
        );
        s.live.lastSync = now;
      });
      host.emit(events);
    }));
    this.kick();
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
      this.orders.record(s, { ...rest, id, type: 'market' });
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
        const events: EngineEvent[] = [];
        await host.store.update((s) => {
          const r = s.orders[o.id];
          if (r?.status === 'new') this.orders.withdraw(s, r, 'panic', events);
        });
        host.emit(events);
        cancelled++;
        continue;
      }
      if (await this.client!.cancel(o.symbol, o.id).catch(() => false)) cancelled++;
    }
    return cancelled;
  }
}
