/**
 * The live broker's line to the exchange: one ccxt instance (rate limiter on), ccxt's error classes
 * turned into decisions, and a circuit breaker.
 *
 * - Reads retry on network errors with backoff (and the exchange's Retry-After).
 * - `submit` never resends an order whose outcome is unknown (a timeout, a lost response, a gateway
 *   error): it looks the order up by its client id and adopts it; only when the exchange says it has
 *   no such order, at least the resend grace (`resendGraceMs`) after it was sent, is the same request
 *   (same client id) sent again. A request can reach the matching engine after the client gave up
 *   on it, so an early "no such order" is not proof that it never will. A 429/418 is a refusal, so
 *   it is resent after the wait.
 * - InsufficientFunds, InvalidOrder, BadRequest and AuthenticationError are final.
 * - After `breakerFailures` exchange failures in a row the breaker opens: orders wait, the chats are
 *   told, and a probe asks the exchange for its time until it answers; then the breaker closes.
 */
import type ccxtModule from 'ccxt';
import type { Exchange, Order } from 'ccxt';
import { AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { firstLine, retryDelayMs, withRetry } from '../../market/exchange.js';

export interface OrderRequest {
  clientId: string;
  symbol: string;
  type: 'market' | 'limit' | 'stop';
  side: 'buy' | 'sell';
  amount: number;
  price?: number;
  stopPrice?: number;
}

export type SubmitOutcome =
  | { kind: 'placed' | 'adopted'; order: Order }
  | { kind: 'rejected'; reason: string; immediate?: boolean }
  /** Sent, but whether the exchange has it could not be learned; reconciliation will. */
  | { kind: 'unknown'; reason: string }
  /** Not sent: the breaker is open. */
  | { kind: 'deferred'; reason: string };

export interface ClientOptions {
  logger: Logger;
  /** Retries per read, and resends per order refused by rate limits (default 5). */
  retries?: number;
  /** First backoff in ms, doubled per attempt (default 500). */
  backoffMs?: number;
  /** Failures in a row that open the breaker (default 3). */
  breakerFailures?: number;
  /** How often the open breaker probes the exchange, ms (default 10 s). */
  probeMs?: number;
  onBreaker?: (open: boolean, detail: string) => void;
  /** Wall clock (tests). */
  clock?: () => number;
  /** The resend grace, ms (default: `resendGraceMs` of the exchange). */
  resendGraceMs?: number;
}

/**
 * How long after sending an order whose outcome is unknown the exchange's "no such order" is
 * believed: twice the request timeout (an exchange may still carry out a request it took too long to
 * answer), at least one second.
 */
export function resendGraceMs(ex: Pick<Exchange, 'timeout'>): number {
  return Math.max(1000, 2 * (Number(ex.timeout) || 10_000));
}

type Ccxt = typeof ccxtModule;

export class ExchangeClient {
  private failures = 0;
  private probe: NodeJS.Timeout | undefined;
  private open = false;
  private lastFailure = '';

  private constructor(
    readonly ex: Exchange,
    private readonly ccxt: Ccxt,
    private readonly o: ClientOptions,
  ) {}

  static async create(ex: Exchange, o: ClientOptions): Promise<ExchangeClient> {
    return new ExchangeClient(ex, (await import('ccxt')).default, o);
  }

  /** How long after a send with no answer "no such order" is believed (see `resendGraceMs`). */
  get grace(): number {
    return this.o.resendGraceMs ?? resendGraceMs(this.ex);
  }

  /** Whether the breaker is open (trading paused). */
  get paused(): boolean {
    return this.open;
  }

  get pauseReason(): string {
    return this.lastFailure;
  }

  stop(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  private succeeded(): void {
    this.failures = 0;
    if (this.open) {
      this.open = false;
      this.stop();
      this.o.logger.info('exchange answers again; trading resumes');
      this.o.onBreaker?.(false, 'the exchange answers again; live trading resumes');
    }
  }

  private failed(what: string, err: unknown): void {
    this.failures++;
    this.lastFailure = `${what}: ${firstLine(err)}`;
    if (!this.open && this.failures >= (this.o.breakerFailures ?? 3)) {
      this.open = true;
      this.o.logger.warn({ failures: this.failures, last: this.lastFailure }, 'circuit breaker open');
      this.o.onBreaker?.(
        true,
        `live trading paused after ${this.failures} exchange failures in a row (last: ${this.lastFailure}); orders wait until it answers again`,
      );
      this.probe = setInterval(() => {
        this.ex.fetchTime().then(
          () => this.succeeded(),
          () => undefined,
        );
      }, this.o.probeMs ?? 10_000);
      this.probe.unref();
    }
  }

  /** A read, retried on network errors; a final network failure counts toward the breaker. */
  async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await withRetry(
        fn,
        { retries: this.o.retries ?? 5, backoffMs: this.o.backoffMs ?? 500, logger: this.o.logger },
        what,
        this.ex,
      );
      this.succeeded();
      return r;
    } catch (err) {
      if (err instanceof AppError && err.code === 'NETWORK') this.failed(what, err);
      throw err;
    }
  }

  /** The order with this client id, or undefined when the exchange has none. */
  async lookup(symbol: string, clientId: string): Promise<Order | undefined> {
    try {
      return await this.read(`looking up order ${clientId}`, () =>
        this.ex.fetchOrder(undefined as unknown as string, symbol, { clientOrderId: clientId }),
      );
    } catch (err) {
      if (err instanceof AppError && err.cause instanceof this.ccxt.OrderNotFound) return undefined;
      throw err;
    }
  }

  /** Cancel by client id: true if cancelled now, false if the exchange no longer has it open. */
  async cancel(symbol: string, clientId: string): Promise<boolean> {
    try {
      await this.read(`cancelling order ${clientId}`, () =>
        this.ex.cancelOrder(undefined as unknown as string, symbol, { clientOrderId: clientId }),
      );
      return true;
    } catch (err) {
      if (err instanceof AppError && err.cause instanceof this.ccxt.OrderNotFound) return false;
      throw err;
    }
  }

  /**
   * Place an order at most once (see the module comment). `beforeSend` runs before each request
   * leaves (the broker writes down when, durably, so a restart knows the order may be out there).
   */
  async submit(req: OrderRequest, beforeSend?: () => Promise<void>): Promise<SubmitOutcome> {
    const C = this.ccxt;
    const retries = this.o.retries ?? 5;
    const what = `${req.side} ${req.amount} ${req.symbol} (${req.clientId})`;
    const clock = this.o.clock ?? Date.now;
    for (let attempt = 0; ; attempt++) {
      if (this.open) return { kind: 'deferred', reason: this.lastFailure };
      await beforeSend?.();
      const sentAt = clock();
      try {
        const params: Record<string, unknown> = { clientOrderId: req.clientId };
        if (req.type === 'stop') params.stopLossPrice = req.stopPrice;
        const order = await this.ex.createOrder(
          req.symbol,
          req.type === 'limit' ? 'limit' : 'market',
          req.side,
          req.amount,
          req.type === 'limit' ? req.price : undefined,
          params,
        );
        this.succeeded();
        return { kind: 'placed', order };
      } catch (err) {
        const reason = firstLine(err);
        // Refused before it was taken: safe to send again after the wait.
        if (err instanceof C.DDoSProtection || err instanceof C.InvalidNonce) {
          if (attempt >= retries) {
            this.failed(what, err);
            return { kind: 'deferred', reason };
          }
          const wait = retryDelayMs(attempt, this.o.backoffMs ?? 500, this.ex);
          this.o.logger.warn(
            { order: req.clientId, waitMs: wait, error: reason },
            'order refused; resending',
          );
          await this.sleep(wait);
          continue;
        }
        if (err instanceof C.InvalidOrder && /Duplicate order/i.test(reason)) {
          const found = await this.lookup(req.symbol, req.clientId).catch(() => undefined);
          return found ? { kind: 'adopted', order: found } : { kind: 'unknown', reason };
        }
        if (err instanceof C.OrderImmediatelyFillable) return { kind: 'rejected', reason, immediate: true };
        if (
          err instanceof C.InsufficientFunds ||
          err instanceof C.InvalidOrder ||
          err instanceof C.BadRequest ||
          err instanceof C.BadSymbol ||
          err instanceof C.AuthenticationError ||
          err instanceof C.PermissionDenied ||
          err instanceof C.AccountSuspended
        )
          return { kind: 'rejected', reason };
        if (!(err instanceof C.OperationFailed)) return { kind: 'rejected', reason };
        // The outcome is unknown: never send again blindly. Ask the exchange by client id.
        this.failed(what, err);
        this.o.logger.warn({ order: req.clientId, error: reason }, 'order outcome unknown; looking it up');
        await this.sleep(retryDelayMs(attempt, this.o.backoffMs ?? 500, this.ex));
        let found: Order | undefined;
        try {
          found = await this.lookup(req.symbol, req.clientId);
          // Not there yet is not proof: ask again once the grace after sending is over.
          const wait = sentAt + this.grace - clock();
          if (!found && wait > 0) {
            await this.sleep(wait);
            found = await this.lookup(req.symbol, req.clientId);
          }
        } catch {
          return { kind: 'unknown', reason };
        }
        if (found) return { kind: 'adopted', order: found };
        if (attempt >= retries) return { kind: 'unknown', reason };
        // The exchange has no such order, well after it was sent: it never arrived; it may go again.
      }
    }
  }
}
