/**
 * Access to ccxt exchanges, shared by the candle download, the market feeds and the live broker: one
 * instance per exchange (rate limiter on), the API host rewritten for a proxy or an emulator, reads
 * retried with backoff and the exchange's Retry-After, and ccxt's errors cut to one line.
 *
 * ccxt is imported here only, lazily, so the backtest path never loads it.
 */
import type { Exchange } from 'ccxt';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

const exchanges = new Map<string, Promise<Exchange>>();
const streaming = new Map<string, Promise<Exchange | undefined>>();

/** One ccxt instance per exchange (and API URL), rate limiter on. */
export async function getExchange(id: string, apiUrl?: string): Promise<Exchange> {
  const key = `${id}|${apiUrl ?? ''}`;
  let pending = exchanges.get(key);
  if (!pending) {
    pending = createExchange(id, apiUrl);
    exchanges.set(key, pending);
    pending.catch(() => exchanges.delete(key));
  }
  return pending;
}

async function createExchange(id: string, apiUrl?: string): Promise<Exchange> {
  const ccxt = (await import('ccxt')).default;
  const Ctor = (ccxt as unknown as Record<string, new (o: object) => Exchange>)[id];
  if (typeof Ctor !== 'function' || !ccxt.exchanges.includes(id)) {
    throw new AppError(
      'BAD_INPUT',
      `exchange "${id}" is not supported; allowed: a ccxt exchange id such as binance, kraken, okx, bybit`,
    );
  }
  const ex = new Ctor({
    enableRateLimit: true,
    // Spot only; no margin or currency lookups, which need keys and are not used.
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  if (apiUrl) rewriteApiUrls(ex, apiUrl);
  forgetFailedMarketLoads(ex);
  return ex;
}

/**
 * ccxt keeps the promise of its first `loadMarkets` (`marketsLoading`) and hands it back to every later
 * call, its own calls inside fetchOHLCV, fetchTickers, createOrder... included: a load that failed (the
 * exchange down at start) failed every retry and every request after it, without asking again, until
 * a restart. A failed load is forgotten here, so the next call, whoever makes it, asks the exchange.
 */
export function forgetFailedMarketLoads(ex: Exchange): void {
  const load = ex.loadMarkets.bind(ex);
  const held = ex as unknown as { marketsLoading?: Promise<unknown> };
  ex.loadMarkets = async (reload?: boolean, params?: object) => {
    const answer = load(reload, params);
    // Set synchronously by the call above: the load this call joined or started.
    const loading = held.marketsLoading;
    try {
      return await answer;
    } catch (err) {
      if (held.marketsLoading === loading) held.marketsLoading = undefined;
      throw err;
    }
  };
}

/**
 * One ccxt streaming instance (ccxt.pro: REST and WebSocket) per exchange and API URL, or undefined
 * when ccxt has no streams for the exchange. Kept apart from the REST instance: closing its streams
 * leaves the REST reads of the live broker and the downloads alone.
 */
export async function getStreamingExchange(id: string, apiUrl?: string): Promise<Exchange | undefined> {
  const key = `${id}|${apiUrl ?? ''}`;
  let pending = streaming.get(key);
  if (!pending) {
    pending = newStreamingExchange(id, apiUrl);
    streaming.set(key, pending);
  }
  const ex = await pending;
  return ex?.has.watchOHLCV === true ? ex : undefined;
}

/**
 * A ccxt streaming instance of its own (not shared), with the account's keys where given: the live
 * broker's user data stream. Undefined when ccxt has no streams for the exchange.
 */
export async function streamingExchange(
  id: string,
  apiUrl?: string,
  keys?: { apiKey: string; secret: string; password?: string | undefined },
): Promise<Exchange | undefined> {
  const ex = await newStreamingExchange(id, apiUrl);
  if (!ex) return undefined;
  if (keys) {
    ex.apiKey = keys.apiKey;
    ex.secret = keys.secret;
    if (keys.password) ex.password = keys.password;
  }
  return ex;
}

async function newStreamingExchange(id: string, apiUrl?: string): Promise<Exchange | undefined> {
  const ccxt = (await import('ccxt')).default;
  const Ctor = (ccxt.pro as unknown as Record<string, new (o: object) => Exchange>)[id];
  if (typeof Ctor !== 'function') return undefined;
  const ex = new Ctor({
    enableRateLimit: true,
    options: { fetchMarkets: { types: ['spot'] }, fetchCurrencies: false, fetchMargins: false },
  });
  if (apiUrl) rewriteApiUrls(ex, apiUrl);
  forgetFailedMarketLoads(ex);
  rejectionsNeverUnhandled(ex);
  // ccxt dials ws:// (a local proxy or emulator) only with its HTTP agent loaded.
  if (apiUrl?.startsWith('http:')) await ex.loadHttpProxyAgent();
  return ex;
}

/**
 * Fail every pending watch of a streaming instance at once, then close its connections (as ccxt's
 * keepalive cuts a connection whose pongs stop): a graceful close of a dead socket would wait 30 s,
 * and a watch on the WebSocket API is not failed by `close()` at all.
 */
export function cutStreams(ex: Exchange, error: Error): void {
  type WsClient = { onError?: (error: Error) => void; close?: () => unknown };
  for (const client of Object.values(ex.clients ?? {}) as WsClient[]) {
    client.onError?.(error);
    void Promise.resolve(client.close?.()).catch(() => undefined);
  }
}

const retired = new WeakSet<Exchange>();

/**
 * Close an unshared streaming instance for good: its pending watches fail, and a watch still dialling
 * (loading markets, say) fails as it asks for a connection instead of opening one after the stop.
 */
export async function retireStreams(ex: Exchange, error: Error): Promise<void> {
  retired.add(ex);
  cutStreams(ex, error);
  await ex.close().catch(() => undefined);
}

/**
 * A watch that gives up when `signal` aborts. Cutting the clients fails the watches pending on them,
 * but a watch still dialling when bosun stops (a user data stream fetching its listen key over REST)
 * has no client yet to cut, and would open one after the stop and wait on it for ever. The watch
 * itself keeps a listener, so its late failure is never unhandled.
 */
export function untilAborted<T>(watch: Promise<T>, signal: AbortSignal): Promise<T> {
  watch.catch(() => undefined);
  if (signal.aborted) return Promise.reject(new Error('stopped'));
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(new Error('stopped'));
    signal.addEventListener('abort', stop, { once: true });
    watch.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

/**
 * ccxt leaves some of its streaming promises with nobody listening: the sends of subscriptions behind
 * its rate limiter are never awaited, and the user data stream's subscription future is created
 * "for concurrent callers" whether any come or not. A connection that fails meanwhile (a drop, bosun
 * stopping while it dials) rejects them, and an unhandled rejection ends Node. They get a listener
 * here; the watches themselves still fail, and their callers hear it.
 */
function rejectionsNeverUnhandled(ex: Exchange): void {
  type Client = {
    send: (m: unknown) => Promise<unknown>;
    future: (hash: string) => Promise<unknown>;
    bosunHeard?: true;
  };
  const streaming = ex as unknown as { client: (url: string) => unknown };
  const client = streaming.client.bind(ex);
  streaming.client = (url: string) => {
    if (retired.has(ex)) throw new Error('this stream was closed for good');
    const c = client(url) as Client;
    if (!c.bosunHeard) {
      const send = c.send.bind(c);
      c.send = (m: unknown) => heard(send(m));
      const future = c.future.bind(c);
      c.future = (hash: string) => heard(future(hash));
      c.bosunHeard = true;
    }
    return c;
  };
}

function heard<T extends Promise<unknown>>(p: T): T {
  p.catch(() => undefined);
  return p;
}

/**
 * Point every API URL of an exchange at another origin, keeping the paths. WebSocket URLs go to the
 * same origin (`ws://` for `http://`), so a proxy or an emulator serves the streams too.
 */
export function rewriteApiUrls(ex: Exchange, apiUrl: string): void {
  const base = apiUrl.replace(/\/+$/, '');
  const wsBase = base.replace(/^http/, 'ws');
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string')
      return /^wss?:/.test(node)
        ? node.replace(/^wss?:\/\/[^/]+/, wsBase)
        : node.replace(/^https?:\/\/[^/]+/, base);
    if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) (node as Record<string, unknown>)[k] = walk(v);
    }
    return node;
  };
  walk(ex.urls.api);
}

/** The longest wait a Retry-After header is honoured for. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The wait before retry `attempt` (0 for the first): `backoffMs` doubled per attempt, or the
 * Retry-After (seconds) of the exchange's last response when that is longer, up to a minute.
 */
export function retryDelayMs(
  attempt: number,
  backoffMs: number,
  ex?: Pick<Exchange, 'last_response_headers'>,
): number {
  const backoff = backoffMs * 2 ** attempt;
  const headers = ex?.last_response_headers ?? {};
  const retryAfter = Number(headers['retry-after'] ?? headers['Retry-After']);
  if (!(Number.isFinite(retryAfter) && retryAfter > 0)) return backoff;
  return Math.max(backoff, Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS));
}

/** The first line of an exchange error's message, at most 200 characters (ccxt appends whole bodies). */
export function firstLine(err: unknown): string {
  const line = ((err as Error | undefined)?.message ?? String(err)).split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

export interface RetryOptions {
  /** Retries per request on network errors (default 5). */
  retries?: number;
  /** First backoff delay in ms, doubled per retry (default 500). */
  backoffMs?: number;
  logger?: Logger;
}

/**
 * Retry a read on errors that may pass (ccxt's OperationFailed: network errors, timeouts, rate limits,
 * the exchange's "unknown error") with exponential backoff; other errors become AppErrors at once.
 * Only for reads: an order whose outcome is unknown must never be resent blindly.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  opts: RetryOptions,
  what: string,
  ex?: Exchange,
): Promise<T> {
  const { OperationFailed, BadSymbol, AuthenticationError } = (await import('ccxt')).default;
  const retries = opts.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof OperationFailed && attempt < retries) {
        const delay = retryDelayMs(attempt, opts.backoffMs ?? 500, ex);
        opts.logger?.warn(
          { attempt: attempt + 1, delayMs: delay, error: (err as Error).message },
          `${what}: network error, retrying`,
        );
        await new Promise((r) => setTimeout(r, delay));
        continue;
      }
      const message = firstLine(err);
      if (err instanceof OperationFailed)
        throw new AppError('NETWORK', `${what} failed after ${retries + 1} attempts: ${message}`, {
          cause: err,
        });
      if (err instanceof BadSymbol) throw new AppError('BAD_INPUT', `${what}: ${message}`, { cause: err });
      if (err instanceof AuthenticationError)
        throw new AppError('EXCHANGE', `${what}: the exchange refused the API key (${message})`, {
          cause: err,
        });
      if (err instanceof AppError) throw err;
      throw new AppError('EXCHANGE', `${what}: ${message}`, { cause: err });
    }
  }
}
