/**
 * A Binance-compatible exchange emulator: the spot REST endpoints that ccxt's `binance` class calls,
 * served over real HTTP on 127.0.0.1 so tests drive the real ccxt client against it.
 *
 * Public endpoints: `GET /api/v3/ping`, `/time`, `/exchangeInfo`, `/klines`, `/ticker/24hr`,
 * `/ticker/price`, `/ticker/bookTicker`, `/depth`. Candles come from the data each market is given
 * (any interval that is a whole multiple of the data's is aggregated on the fly), and only candles
 * that have opened by the emulator's clock are served, as on the real exchange.
 *
 * Signed endpoints (`X-MBX-APIKEY` + HMAC-SHA256 `signature` over the query and body, `timestamp`
 * within `recvWindow` of the wall clock): `GET /api/v3/account`, `POST|GET|DELETE /api/v3/order`,
 * `GET /api/v3/openOrders`, `GET /api/v3/allOrders`, `GET /api/v3/myTrades`. One account holds
 * balances (free and locked); orders are MARKET, LIMIT and STOP_LOSS(_LIMIT), matched against the
 * candles as the market clock moves: a market order fills at the current candle's open, a limit when a
 * later candle trades through its price, a stop when a later candle reaches it (at the open if it
 * gapped). Commission is 0.1 % of what is received, in the received asset, as on Binance. A
 * `newClientOrderId` already used by any order is refused ("Duplicate order sent."), so a test can
 * count orders per client id.
 *
 * Faults can be injected: an HTTP status (429 with Retry-After, 418, 5xx), a hung request (the
 * client times out), or a request that is carried out but whose response is lost, for the next N
 * matching requests. Every request is logged.
 *
 * The same port serves the WebSocket streams (`emu.streams`, base URL `emu.wsUrl`): Binance's market
 * streams and the WebSocket API's user data stream, which pushes every order change and balance change
 * made here (`onAccountEvent`). `pointCcxtAt(ex, emu)` points a ccxt or ccxt.pro client at both.
 * See stream.ts.
 *
 * It is independent of bosun's code on purpose: it parses nothing with bosun's helpers, so tests
 * that compare bosun's output with it are not circular.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { aggregate, type EmulatorCandle, firstAtOrAfter, fix, INTERVALS } from './candles.js';
import { StreamServer } from './stream.js';

export type { EmulatorCandle } from './candles.js';
export { pointCcxtAt, type StreamFault, type StreamLogEntry, StreamServer } from './stream.js';

export interface EmulatorMarket {
  /** Unified symbol, e.g. "BTC/USDT". */
  symbol: string;
  /** Candles at `intervalMs` spacing, oldest first. */
  candles: EmulatorCandle[];
  intervalMs: number;
  /** Fixed 24h ticker figures, instead of those derived from the candles (hand-made tickers). */
  ticker?: { bid?: number; ask?: number; high?: number; low?: number; last?: number; quoteVolume?: number };
}

/** A held request that is answered as if no fault had met it (after a `delayMs`). */
const ANSWERED: Fault & { times: number } = { times: 0 };

export interface Fault {
  /** HTTP status to answer with; omit with `hang: true` to never answer. */
  status?: number;
  hang?: boolean;
  /** The JSON error to answer with (default: Binance's words for the status). */
  body?: unknown;
  /** Carry the request out, then never answer (an order accepted whose response is lost). */
  lose?: boolean;
  /**
   * With `lose`: carry the request out only this many ms after it arrived (it reached the matching
   * engine after the client had given up on it, and after any lookup made meanwhile).
   */
  lateMs?: number;
  /** Answer the request normally, but this many ms after it arrived (a slow exchange). */
  delayMs?: number;
  /** Only requests with this method (default: any). */
  method?: string;
  /** Seconds, sent as Retry-After. */
  retryAfter?: number;
  /** Only requests whose path starts with this (default: every path). */
  path?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  /** Whether the request carried an API key (a private endpoint). */
  signed: boolean;
  /** When it arrived (wall clock, ms). */
  at: number;
}

export interface EmulatorOrder {
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT' | 'STOP_LOSS' | 'STOP_LOSS_LIMIT';
  price: number;
  stopPrice: number;
  origQty: number;
  executedQty: number;
  cummulativeQuoteQty: number;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED' | 'EXPIRED';
  timeInForce: string;
  time: number;
  updateTime: number;
}

export interface EmulatorTrade {
  id: number;
  symbol: string;
  orderId: number;
  side: 'BUY' | 'SELL';
  price: number;
  qty: number;
  commission: number;
  commissionAsset: string;
  time: number;
}

export interface AccountOptions {
  apiKey: string;
  secret: string;
  /** Starting free balances per asset. */
  balances: Record<string, number>;
  /** Commission rate on what is received (default 0.001). */
  commission?: number;
}

/**
 * A change to the account, as the user data stream reports it: an order accepted (NEW), filled
 * (TRADE, with its trade) or cancelled (CANCELED), and the balances of the assets it moved.
 */
export type AccountEvent =
  | {
      kind: 'order';
      execution: 'NEW' | 'TRADE' | 'CANCELED';
      /** The order as it stood after this change (a copy). */
      order: EmulatorOrder;
      trade?: EmulatorTrade;
      /** Market clock (ms). */
      at: number;
    }
  | { kind: 'balances'; assets: string[]; at: number };

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 500;

export class ExchangeEmulator {
  readonly requests: LoggedRequest[] = [];
  private server: Server | undefined;
  private faults: Array<Required<Pick<Fault, 'times'>> & Fault> = [];
  private readonly markets = new Map<string, EmulatorMarket>();
  private readonly hung = new Set<ServerResponse>();
  /** Requests to carry out later (a `lateMs` fault). */
  private readonly late = new Set<NodeJS.Timeout>();
  /** The emulator's market clock (epoch ms): which candles exist, where orders fill. Default: real time. */
  now: () => number = () => Date.now();
  /** The clock signed requests' timestamps are checked against (the client's real time). */
  wallClock: () => number = () => Date.now();
  readonly orders: EmulatorOrder[] = [];
  readonly trades: EmulatorTrade[] = [];
  readonly balances = new Map<string, { free: number; locked: number }>();
  private account: AccountOptions | undefined;
  private nextOrderId = 1;
  private nextTradeId = 1;
  /** Up to when open orders have been matched against candles (market clock). */
  private matchedTo = 0;
  private readonly accountListeners = new Set<(e: AccountEvent) => void>();
  /** The WebSocket streams, served on the same port (see stream.ts). */
  readonly streams: StreamServer;

  constructor(markets: EmulatorMarket[], account?: AccountOptions) {
    for (const m of markets) this.markets.set(m.symbol.replace('/', ''), m);
    if (account) {
      this.account = account;
      for (const [asset, free] of Object.entries(account.balances))
        this.balances.set(asset, { free, locked: 0 });
    }
    this.streams = new StreamServer(this);
  }

  /** A market by its exchange id ("BTCUSDT"). */
  market(id: string): EmulatorMarket | undefined {
    return this.markets.get(id);
  }

  /** Be told of every order change and balance change; returns the function that stops it. */
  onAccountEvent(listener: (e: AccountEvent) => void): () => void {
    this.accountListeners.add(listener);
    return () => this.accountListeners.delete(listener);
  }

  private emit(e: AccountEvent): void {
    for (const listener of this.accountListeners) listener(e);
  }

  private emitOrder(
    execution: 'NEW' | 'TRADE' | 'CANCELED',
    o: EmulatorOrder,
    trade?: EmulatorTrade,
    at = o.updateTime,
  ): void {
    this.emit({ kind: 'order', execution, order: { ...o, updateTime: at }, trade, at });
  }

  private emitBalances(symbolId: string): void {
    const market = this.markets.get(symbolId);
    if (market) this.emit({ kind: 'balances', assets: market.symbol.split('/'), at: this.now() });
  }

  /** Free plus locked balance of an asset. */
  total(asset: string): number {
    const b = this.balances.get(asset);
    return b ? b.free + b.locked : 0;
  }

  /** Orders placed with a client order id. */
  ordersByClientId(clientOrderId: string): EmulatorOrder[] {
    return this.orders.filter((o) => o.clientOrderId === clientOrderId);
  }

  /** Signed requests (those with an API key) so far. */
  signedCalls(): LoggedRequest[] {
    return this.requests.filter((r) => r.signed);
  }

  /** Base URL, e.g. http://127.0.0.1:43123 (valid after start). */
  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('emulator not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  /** Base URL of the WebSocket streams, e.g. ws://127.0.0.1:43123 (same port as `url`). */
  get wsUrl(): string {
    return this.url.replace(/^http/, 'ws');
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('upgrade', (req, socket, head) => this.streams.upgrade(req, socket, head));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.streams.stop();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    for (const t of this.late) clearTimeout(t);
    this.late.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections?.();
  }

  /** Make the next `times` requests (matching `path`) fail. */
  fault(f: Fault): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  /** Drop every pending fault. */
  clearFaults(): void {
    this.faults = [];
  }

  /** Requests to a path, e.g. "/api/v3/klines". */
  calls(path: string): LoggedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.route(req, res, Buffer.concat(chunks).toString('utf8')));
  }

  private route(req: IncomingMessage, res: ServerResponse, body: string, held?: Fault): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const query = {
      ...Object.fromEntries(url.searchParams),
      ...Object.fromEntries(new URLSearchParams(body)),
    };
    const signed = typeof req.headers['x-mbx-apikey'] === 'string';
    const at = Date.now();
    const log = (status: number) =>
      this.requests.push({ method, path: url.pathname, query, status, signed, at });

    const fault =
      held ??
      this.faults.find(
        (f) =>
          f.times > 0 && (!f.path || url.pathname.startsWith(f.path)) && (!f.method || f.method === method),
      );
    if (fault && !held) {
      fault.times = (fault.times ?? 1) - 1;
      this.faults = this.faults.filter((f) => f.times > 0);
    }
    if (fault?.lose && fault.lateMs !== undefined && !held) {
      const later = setTimeout(() => {
        this.late.delete(later);
        this.route(req, res, body, { ...fault, lateMs: undefined });
      }, fault.lateMs);
      this.late.add(later);
      return;
    }
    if (fault?.delayMs !== undefined && !held) {
      const later = setTimeout(() => {
        this.late.delete(later);
        this.route(req, res, body, ANSWERED);
      }, fault.delayMs);
      this.late.add(later);
      return;
    }
    if (fault && fault !== ANSWERED && !fault.lose) {
      if (fault.hang) {
        log(0);
        this.hung.add(res);
        return;
      }
      const status = fault.status ?? 500;
      log(status);
      const retryAfter: Record<string, string> =
        fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      if (status >= 502) {
        // Gateways in front of the exchange answer with a page, not the API's JSON.
        res
          .writeHead(status, { 'content-type': 'text/html', ...retryAfter })
          .end(`<html><body><h1>${status} Bad Gateway</h1></body></html>`);
        return;
      }
      const body =
        fault.body ??
        (status === 429
          ? { code: -1003, msg: 'Too many requests; current limit is 6000 request weight per 1 MINUTE.' }
          : status === 418
            ? { code: -1003, msg: 'Way too many requests; IP banned until 1700000000000.' }
            : { code: -1000, msg: 'An unknown error occurred while processing the request.' });
      res.writeHead(status, { 'content-type': 'application/json', ...retryAfter }).end(JSON.stringify(body));
      return;
    }

    const send = (status: number, payload: unknown) => {
      if (fault?.lose) {
        // Done, but the answer never arrives: the client times out not knowing.
        log(0);
        this.hung.add(res);
        return;
      }
      log(status);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    this.matchOrders();
    const route = `${method} ${url.pathname}`;
    switch (route) {
      case 'GET /api/v3/ping':
        return send(200, {});
      case 'GET /api/v3/time':
        return send(200, { serverTime: this.now() });
      case 'GET /api/v3/exchangeInfo':
        return send(200, this.exchangeInfo());
      case 'GET /api/v3/klines':
        return this.klines(query, send);
      case 'GET /api/v3/ticker/24hr':
      case 'GET /api/v3/ticker/price':
      case 'GET /api/v3/ticker/bookTicker':
        return this.tickers(url.pathname, query, send);
      case 'GET /api/v3/depth':
        return this.depth(query, send);
    }
    const priv: Record<string, (q: Record<string, string>) => [number, unknown]> = {
      'GET /api/v3/account': () => [200, this.accountInfo()],
      'POST /api/v3/order': (q) => this.placeOrder(q),
      'GET /api/v3/order': (q) => this.queryOrder(q),
      'DELETE /api/v3/order': (q) => this.cancelOrder(q),
      'GET /api/v3/openOrders': (q) => [
        200,
        this.orders.filter((o) => isOpen(o) && (!q.symbol || o.symbol === q.symbol)).map(orderJson),
      ],
      'GET /api/v3/allOrders': (q) => [200, this.orders.filter((o) => o.symbol === q.symbol).map(orderJson)],
      'GET /api/v3/myTrades': (q) => [200, this.myTrades(q)],
    };
    const handler = priv[route];
    if (!handler) return send(404, { code: -1, msg: `unknown endpoint ${route}` });
    const denied = this.authenticate(req, url, body);
    if (denied) return send(denied[0], denied[1]);
    const [status, payload] = handler(query);
    send(status, payload);
  }

  /** Binance's checks on a signed request: the key, the signature, the timestamp. */
  private authenticate(req: IncomingMessage, url: URL, body: string): [number, unknown] | undefined {
    const account = this.account;
    if (!account || req.headers['x-mbx-apikey'] !== account.apiKey)
      return [401, { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' }];
    const raw = [url.search.replace(/^\?/, ''), body].filter(Boolean).join('&');
    const m = /^(.*)&signature=([0-9a-f]{64})$/.exec(raw);
    const expected = m ? createHmac('sha256', account.secret).update(m[1]!).digest() : undefined;
    if (!m || !expected || !timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')))
      return [400, { code: -1022, msg: 'Signature for this request is not valid.' }];
    const params = new URLSearchParams(m[1]);
    const timestamp = Number(params.get('timestamp'));
    const window = Number(params.get('recvWindow') ?? 5000);
    const wall = this.wallClock();
    if (!Number.isFinite(timestamp) || timestamp > wall + 1000 || wall - timestamp > window)
      return [400, { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' }];
    return undefined;
  }

  /**
   * Binance's checks on a signed WebSocket API request, whose params carry `apiKey`, `timestamp` and
   * `signature` (HMAC-SHA256 over the other params sorted by name, as key=value joined by &).
   */
  authenticateParams(
    params: Record<string, unknown>,
  ): { status: number; code: number; msg: string } | undefined {
    const account = this.account;
    if (!account || params.apiKey !== account.apiKey)
      return { status: 401, code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' };
    const payload = Object.keys(params)
      .filter((k) => k !== 'signature')
      .sort()
      .map((k) => `${k}=${String(params[k])}`)
      .join('&');
    const signature = String(params.signature ?? '');
    const expected = createHmac('sha256', account.secret).update(payload).digest();
    if (!/^[0-9a-f]{64}$/.test(signature) || !timingSafeEqual(expected, Buffer.from(signature, 'hex')))
      return { status: 400, code: -1022, msg: 'Signature for this request is not valid.' };
    const timestamp = Number(params.timestamp);
    const window = Number(params.recvWindow ?? 5000);
    const wall = this.wallClock();
    if (!Number.isFinite(timestamp) || timestamp > wall + 1000 || wall - timestamp > window)
      return { status: 400, code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' };
    return undefined;
  }

  // --- the market ---

  /** The candle (at the data's interval) trading at the market clock's time. */
  private current(market: EmulatorMarket, at = this.now()): EmulatorCandle | undefined {
    const c = market.candles;
    let lo = 0;
    let hi = c.length - 1;
    if (hi < 0 || c[0]!.time > at) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (c[mid]!.time <= at) lo = mid;
      else hi = mid - 1;
    }
    return c[lo];
  }

  /** The price now: the open of the candle trading now. */
  price(symbol: string): number {
    const market = this.markets.get(symbol.replace('/', ''));
    const c = market && this.current(market);
    if (!c) throw new Error(`no price for ${symbol} at ${this.now()}`);
    return c.open;
  }

  private tickers(
    path: string,
    query: Record<string, string>,
    send: (status: number, body: unknown) => void,
  ): void {
    const ids = query.symbol ? [query.symbol] : [...this.markets.keys()];
    const out = [];
    for (const id of ids) {
      const market = this.markets.get(id);
      if (!market) return send(400, { code: -1121, msg: 'Invalid symbol.' });
      const c = this.current(market);
      if (!c) continue;
      const day = market.candles.filter((k) => k.time > c.time - 86_400_000 && k.time <= c.time);
      const first = day[0] ?? c;
      const price = c.open;
      const tick = 0.01;
      const row = path.endsWith('/price')
        ? { symbol: id, price: fix(price) }
        : path.endsWith('/bookTicker')
          ? {
              symbol: id,
              bidPrice: fix(price - tick),
              bidQty: '1.00000000',
              askPrice: fix(price + tick),
              askQty: '1.00000000',
            }
          : {
              symbol: id,
              priceChange: fix(price - first.open),
              priceChangePercent: ((price / first.open - 1) * 100).toFixed(3),
              weightedAvgPrice: fix(price),
              prevClosePrice: fix(first.open),
              lastPrice: fix(price),
              lastQty: '0.01000000',
              bidPrice: fix(price - tick),
              bidQty: '1.00000000',
              askPrice: fix(price + tick),
              askQty: '1.00000000',
              openPrice: fix(first.open),
              highPrice: fix(Math.max(...day.map((k) => k.high))),
              lowPrice: fix(Math.min(...day.map((k) => k.low))),
              volume: fix(day.reduce((a, k) => a + k.volume, 0)),
              quoteVolume: fix(day.reduce((a, k) => a + k.volume * k.close, 0)),
              openTime: first.time,
              closeTime: this.now(),
              firstId: 1,
              lastId: 2,
              count: day.length,
            };
      const t = market.ticker;
      if (t && 'quoteVolume' in row) {
        if (t.bid !== undefined) row.bidPrice = fix(t.bid);
        if (t.ask !== undefined) row.askPrice = fix(t.ask);
        if (t.high !== undefined) row.highPrice = fix(t.high);
        if (t.low !== undefined) row.lowPrice = fix(t.low);
        if (t.last !== undefined) row.lastPrice = fix(t.last);
        if (t.quoteVolume !== undefined) row.quoteVolume = fix(t.quoteVolume);
      }
      out.push(row);
    }
    send(200, query.symbol ? out[0] : out);
  }

  private depth(query: Record<string, string>, send: (status: number, body: unknown) => void): void {
    const market = this.markets.get(query.symbol ?? '');
    const c = market && this.current(market);
    if (!c) return send(400, { code: -1121, msg: 'Invalid symbol.' });
    const levels = Math.min(Number(query.limit ?? 100), 100);
    const bids = [];
    const asks = [];
    for (let i = 0; i < levels; i++) {
      bids.push([fix(c.open - 0.01 * (i + 1)), '0.50000000']);
      asks.push([fix(c.open + 0.01 * (i + 1)), '0.50000000']);
    }
    send(200, { lastUpdateId: Math.floor(this.now() / 1000), bids, asks });
  }

  // --- the account ---

  private bal(asset: string): { free: number; locked: number } {
    let b = this.balances.get(asset);
    if (!b) this.balances.set(asset, (b = { free: 0, locked: 0 }));
    return b;
  }

  private accountInfo() {
    return {
      makerCommission: 10,
      takerCommission: 10,
      buyerCommission: 0,
      sellerCommission: 0,
      canTrade: true,
      canWithdraw: true,
      canDeposit: true,
      brokered: false,
      requireSelfTradePrevention: false,
      updateTime: this.now(),
      accountType: 'SPOT',
      balances: [...this.balances.entries()].map(([asset, b]) => ({
        asset,
        free: fix(b.free),
        locked: fix(b.locked),
      })),
      permissions: ['SPOT'],
    };
  }

  private placeOrder(q: Record<string, string>): [number, unknown] {
    const market = this.markets.get(q.symbol ?? '');
    if (!market) return [400, { code: -1121, msg: 'Invalid symbol.' }];
    const [base, quoteAsset] = market.symbol.split('/') as [string, string];
    const side = q.side as EmulatorOrder['side'];
    const type = q.type as EmulatorOrder['type'];
    if (side !== 'BUY' && side !== 'SELL')
      return [
        400,
        { code: -1102, msg: "Mandatory parameter 'side' was not sent, was empty/null, or malformed." },
      ];
    if (!['MARKET', 'LIMIT', 'STOP_LOSS', 'STOP_LOSS_LIMIT'].includes(type))
      return [400, { code: -1116, msg: 'Invalid orderType.' }];
    const clientOrderId = q.newClientOrderId ?? `emu${this.nextOrderId}`;
    if (this.orders.some((o) => o.clientOrderId === clientOrderId))
      return [400, { code: -2010, msg: 'Duplicate order sent.' }];
    const qty = Number(q.quantity);
    if (!(qty > 0) || Math.abs(Math.round(qty / 0.00001) * 0.00001 - qty) > 1e-12)
      return [400, { code: -1013, msg: 'Filter failure: LOT_SIZE' }];
    const price = Number(q.price ?? 0);
    const stopPrice = Number(q.stopPrice ?? 0);
    if ((type === 'LIMIT' || type === 'STOP_LOSS_LIMIT') && !(price > 0))
      return [
        400,
        { code: -1102, msg: "Mandatory parameter 'price' was not sent, was empty/null, or malformed." },
      ];
    if (type.startsWith('STOP') && !(stopPrice > 0))
      return [
        400,
        { code: -1102, msg: "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed." },
      ];
    const now = this.price(market.symbol);
    const refPrice = type === 'MARKET' ? now : type === 'LIMIT' ? price : stopPrice;
    if (qty * refPrice < 5) return [400, { code: -1013, msg: 'Filter failure: NOTIONAL' }];
    if (type.startsWith('STOP') && (side === 'SELL' ? now <= stopPrice : now >= stopPrice))
      return [400, { code: -2010, msg: 'Stop price would trigger immediately.' }];
    // Funds are locked when the order is placed.
    const lockAsset = side === 'BUY' ? quoteAsset : base;
    const lockAmount = side === 'BUY' ? qty * refPrice * (type === 'MARKET' ? 1.0001 : 1) : qty;
    const b = this.bal(lockAsset);
    if (b.free + 1e-9 < lockAmount)
      return [400, { code: -2010, msg: 'Account has insufficient balance for requested action.' }];
    const o: EmulatorOrder = {
      symbol: q.symbol!,
      orderId: this.nextOrderId++,
      clientOrderId,
      side,
      type,
      price,
      stopPrice,
      origQty: qty,
      executedQty: 0,
      cummulativeQuoteQty: 0,
      status: 'NEW',
      timeInForce: q.timeInForce ?? 'GTC',
      time: this.now(),
      updateTime: this.now(),
    };
    this.orders.push(o);
    if (side === 'BUY' && type !== 'MARKET') {
      b.free -= qty * refPrice;
      b.locked += qty * refPrice;
    } else if (side === 'SELL') {
      b.free -= qty;
      b.locked += qty;
    }
    this.emitOrder('NEW', o);
    const fills: EmulatorTrade[] = [];
    if (type === 'MARKET') fills.push(this.fill(o, now));
    else if (type === 'LIMIT' && (side === 'BUY' ? now <= price : now >= price))
      fills.push(this.fill(o, now));
    this.emitBalances(o.symbol);
    return [
      200,
      {
        ...orderJson(o),
        transactTime: o.time,
        fills: fills.map((t) => ({
          price: fix(t.price),
          qty: fix(t.qty),
          commission: fix(t.commission),
          commissionAsset: t.commissionAsset,
          tradeId: t.id,
        })),
      },
    ];
  }

  /** Fill what is left of an order at a price: balances move, a trade is recorded. */
  private fill(o: EmulatorOrder, price: number, at = this.now()): EmulatorTrade {
    const market = this.markets.get(o.symbol)!;
    const [base, quoteAsset] = market.symbol.split('/') as [string, string];
    const rate = this.account?.commission ?? 0.001;
    const qty = o.origQty - o.executedQty;
    const cost = qty * price;
    if (o.side === 'BUY') {
      const q = this.bal(quoteAsset);
      if (o.type === 'MARKET') q.free -= cost;
      else {
        const reserved = qty * (o.type === 'LIMIT' ? o.price : o.stopPrice);
        q.locked -= reserved;
        q.free += reserved - cost;
      }
      this.bal(base).free += qty * (1 - rate);
    } else {
      this.bal(base).locked -= qty;
      this.bal(quoteAsset).free += cost * (1 - rate);
    }
    o.executedQty = o.origQty;
    o.cummulativeQuoteQty += cost;
    o.status = 'FILLED';
    o.updateTime = at;
    const t: EmulatorTrade = {
      id: this.nextTradeId++,
      symbol: o.symbol,
      orderId: o.orderId,
      side: o.side,
      price,
      qty,
      commission: o.side === 'BUY' ? qty * rate : cost * rate,
      commissionAsset: o.side === 'BUY' ? base : quoteAsset,
      time: at,
    };
    this.trades.push(t);
    this.emitOrder('TRADE', o, t);
    return t;
  }

  /**
   * Fill open limit and stop orders against the candles that closed since the last match: a candle
   * counts once it has closed, and only candles that opened at or after the order was placed.
   */
  matchOrders(): void {
    const now = this.now();
    if (now <= this.matchedTo) return;
    const from = this.matchedTo;
    this.matchedTo = now;
    for (const o of this.orders) {
      if (!isOpen(o) || o.type === 'MARKET') continue;
      const market = this.markets.get(o.symbol)!;
      const candles = market.candles;
      const level = o.type === 'LIMIT' ? o.price : o.stopPrice;
      for (
        let i = firstAtOrAfter(candles, Math.max(o.time, from - market.intervalMs));
        i < candles.length;
        i++
      ) {
        const c = candles[i]!;
        if (c.time + market.intervalMs > now) break;
        if (c.time + market.intervalMs <= from) continue;
        const hit = (o.side === 'SELL') === (o.type === 'LIMIT') ? c.high >= level : c.low <= level;
        if (!hit) continue;
        // Through the level at the open (a gap): the open is the price.
        const gapped = (o.side === 'BUY') === (o.type === 'LIMIT') ? c.open < level : c.open > level;
        this.fill(
          o,
          gapped ? c.open : o.type === 'STOP_LOSS_LIMIT' ? o.price : level,
          c.time + market.intervalMs,
        );
        this.emitBalances(o.symbol);
        break;
      }
    }
  }

  private find(q: Record<string, string>): EmulatorOrder | undefined {
    return this.orders.find(
      (o) =>
        o.symbol === q.symbol &&
        (q.orderId !== undefined ? String(o.orderId) === q.orderId : o.clientOrderId === q.origClientOrderId),
    );
  }

  private queryOrder(q: Record<string, string>): [number, unknown] {
    const o = this.find(q);
    return o ? [200, orderJson(o)] : [400, { code: -2013, msg: 'Order does not exist.' }];
  }

  private cancelOrder(q: Record<string, string>): [number, unknown] {
    const o = this.find(q);
    if (!o || !isOpen(o)) return [400, { code: -2011, msg: 'Unknown order sent.' }];
    this.release(o);
    o.status = 'CANCELED';
    o.updateTime = this.now();
    this.emitOrder('CANCELED', o);
    this.emitBalances(o.symbol);
    return [200, { ...orderJson(o), origClientOrderId: o.clientOrderId }];
  }

  /** Cancel an order as if someone did it on the exchange's website. */
  cancelOutside(clientOrderId: string): boolean {
    const o = this.orders.find((x) => x.clientOrderId === clientOrderId && isOpen(x));
    if (!o) return false;
    this.release(o);
    o.status = 'CANCELED';
    this.emitOrder('CANCELED', o, undefined, this.now());
    this.emitBalances(o.symbol);
    return true;
  }

  private release(o: EmulatorOrder): void {
    const market = this.markets.get(o.symbol)!;
    const [base, quoteAsset] = market.symbol.split('/') as [string, string];
    const left = o.origQty - o.executedQty;
    const b = this.bal(o.side === 'BUY' ? quoteAsset : base);
    const amount = o.side === 'BUY' ? left * (o.type === 'LIMIT' ? o.price : o.stopPrice) : left;
    b.locked -= amount;
    b.free += amount;
  }

  private myTrades(q: Record<string, string>) {
    return this.trades
      .filter(
        (t) =>
          t.symbol === q.symbol &&
          (q.orderId === undefined || String(t.orderId) === q.orderId) &&
          (q.startTime === undefined || t.time >= Number(q.startTime)) &&
          (q.fromId === undefined || t.id >= Number(q.fromId)),
      )
      .slice(0, Number(q.limit ?? 500))
      .map((t) => ({
        symbol: t.symbol,
        id: t.id,
        orderId: t.orderId,
        orderListId: -1,
        price: fix(t.price),
        qty: fix(t.qty),
        quoteQty: fix(t.qty * t.price),
        commission: fix(t.commission),
        commissionAsset: t.commissionAsset,
        time: t.time,
        isBuyer: t.side === 'BUY',
        isMaker: false,
        isBestMatch: true,
      }));
  }

  private exchangeInfo() {
    return {
      timezone: 'UTC',
      serverTime: this.now(),
      rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }],
      exchangeFilters: [],
      symbols: [...this.markets.entries()].map(([id, m]) => {
        const [base, quote] = m.symbol.split('/') as [string, string];
        return {
          symbol: id,
          status: 'TRADING',
          baseAsset: base,
          baseAssetPrecision: 8,
          quoteAsset: quote,
          quotePrecision: 8,
          quoteAssetPrecision: 8,
          baseCommissionPrecision: 8,
          quoteCommissionPrecision: 8,
          orderTypes: [
            'LIMIT',
            'LIMIT_MAKER',
            'MARKET',
            'STOP_LOSS',
            'STOP_LOSS_LIMIT',
            'TAKE_PROFIT',
            'TAKE_PROFIT_LIMIT',
          ],
          icebergAllowed: true,
          ocoAllowed: true,
          otoAllowed: true,
          quoteOrderQtyMarketAllowed: true,
          allowTrailingStop: true,
          cancelReplaceAllowed: true,
          isSpotTradingAllowed: true,
          isMarginTradingAllowed: false,
          filters: [
            {
              filterType: 'PRICE_FILTER',
              minPrice: '0.01000000',
              maxPrice: '1000000.00000000',
              tickSize: '0.01000000',
            },
            { filterType: 'LOT_SIZE', minQty: '0.00001000', maxQty: '9000.00000000', stepSize: '0.00001000' },
            {
              filterType: 'NOTIONAL',
              minNotional: '5.00000000',
              applyMinToMarket: true,
              maxNotional: '9000000.00000000',
              applyMaxToMarket: false,
              avgPriceMins: 5,
            },
            { filterType: 'MAX_NUM_ORDERS', maxNumOrders: 200 },
          ],
          permissions: [],
          permissionSets: [['SPOT']],
          defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
          allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH'],
        };
      }),
    };
  }

  private klines(query: Record<string, string>, send: (status: number, body: unknown) => void): void {
    const market = this.markets.get(query.symbol ?? '');
    if (!market) return send(400, { code: -1121, msg: 'Invalid symbol.' });
    const intervalMs = INTERVALS[query.interval ?? ''];
    if (!intervalMs || intervalMs % market.intervalMs !== 0)
      return send(400, { code: -1120, msg: 'Invalid interval.' });
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      return send(400, {
        code: -1100,
        msg: `Illegal characters found in parameter 'limit'; legal range is '1-${MAX_LIMIT}'.`,
      });
    const start = query.startTime ? Number(query.startTime) : undefined;
    const end = query.endTime ? Number(query.endTime) : undefined;
    const now = this.now();

    const rows: unknown[] = [];
    const bars = aggregate(market.candles, intervalMs);
    // Without startTime Binance returns the most recent candles.
    const eligible = bars.filter(
      (b) =>
        b.time <= now && (start === undefined || b.time >= start) && (end === undefined || b.time <= end),
    );
    const page = start === undefined ? eligible.slice(-limit) : eligible.slice(0, limit);
    for (const b of page) {
      rows.push([
        b.time,
        fix(b.open),
        fix(b.high),
        fix(b.low),
        fix(b.close),
        fix(b.volume),
        b.time + intervalMs - 1,
        fix(b.volume * b.close),
        100,
        '0',
        '0',
        '0',
      ]);
    }
    send(200, rows);
  }
}

const isOpen = (o: EmulatorOrder) => o.status === 'NEW' || o.status === 'PARTIALLY_FILLED';

function orderJson(o: EmulatorOrder) {
  return {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    price: fix(o.price),
    origQty: fix(o.origQty),
    executedQty: fix(o.executedQty),
    cummulativeQuoteQty: fix(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
    stopPrice: fix(o.stopPrice),
    icebergQty: '0.00000000',
    time: o.time,
    updateTime: o.updateTime,
    isWorking: o.type.startsWith('STOP') ? o.status !== 'NEW' : true,
    workingTime: o.time,
    origQuoteOrderQty: '0.00000000',
    selfTradePreventionMode: 'EXPIRE_MAKER',
  };
}

/** Candles from a CSV text (timestamp,open,high,low,close,volume), parsed plainly. */
export function candlesFromCsv(text: string): EmulatorCandle[] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [time, open, high, low, close, volume] = line.split(',').map(Number) as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      return { time, open, high, low, close, volume };
    });
}
