/**
 * A Binance-compatible exchange emulator: the spot REST endpoints that ccxt's `binance` class calls,
 * served over real HTTP on 127.0.0.1 so tests drive the real ccxt client against it.
 *
 * Public endpoints: `GET /api/v3/ping`, `/api/v3/time`, `/api/v3/exchangeInfo`, `/api/v3/klines`.
 * Candles come from the data each market is given (any interval that is a whole multiple of the
 * data's is aggregated on the fly), and only candles that have opened by the emulator's clock are
 * served, as on the real exchange.
 *
 * Faults can be injected: an HTTP status (429 with Retry-After, 418, 5xx) or a hung request (the
 * client times out), for the next N matching requests. Every request is logged.
 *
 * It is independent of bosun's code on purpose: it parses nothing with bosun's helpers, so tests
 * that compare bosun's output with it are not circular.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EmulatorCandle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface EmulatorMarket {
  /** Unified symbol, e.g. "BTC/USDT". */
  symbol: string;
  /** Candles at `intervalMs` spacing, oldest first. */
  candles: EmulatorCandle[];
  intervalMs: number;
}

export interface Fault {
  /** HTTP status to answer with; omit with `hang: true` to never answer. */
  status?: number;
  hang?: boolean;
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
}

const INTERVALS: Record<string, number> = {
  '1m': 60_000,
  '3m': 180_000,
  '5m': 300_000,
  '15m': 900_000,
  '30m': 1_800_000,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '4h': 14_400_000,
  '6h': 21_600_000,
  '8h': 28_800_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
  '3d': 259_200_000,
  '1w': 604_800_000,
};

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 500;

export class ExchangeEmulator {
  readonly requests: LoggedRequest[] = [];
  private server: Server | undefined;
  private faults: Array<Required<Pick<Fault, 'times'>> & Fault> = [];
  private readonly markets = new Map<string, EmulatorMarket>();
  private readonly hung = new Set<ServerResponse>();
  /** The emulator's clock (epoch ms); defaults to the real one. */
  now: () => number = () => Date.now();

  constructor(markets: EmulatorMarket[]) {
    for (const m of markets) this.markets.set(m.symbol.replace('/', ''), m);
  }

  /** Base URL, e.g. http://127.0.0.1:43123 (valid after start). */
  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('emulator not started');
    return `http://127.0.0.1:${addr.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung.clear();
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
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const log = (status: number) =>
      this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, status });

    const fault = this.faults.find((f) => f.times > 0 && (!f.path || url.pathname.startsWith(f.path)));
    if (fault) {
      fault.times--;
      this.faults = this.faults.filter((f) => f.times > 0);
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
        status === 429
          ? { code: -1003, msg: 'Too many requests; current limit is 6000 request weight per 1 MINUTE.' }
          : status === 418
            ? { code: -1003, msg: 'Way too many requests; IP banned until 1700000000000.' }
            : { code: -1000, msg: 'An unknown error occurred while processing the request.' };
      res.writeHead(status, { 'content-type': 'application/json', ...retryAfter }).end(JSON.stringify(body));
      return;
    }

    const send = (status: number, body: unknown) => {
      log(status);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    switch (url.pathname) {
      case '/api/v3/ping':
        return send(200, {});
      case '/api/v3/time':
        return send(200, { serverTime: this.now() });
      case '/api/v3/exchangeInfo':
        return send(200, this.exchangeInfo());
      case '/api/v3/klines':
        return this.klines(query, send);
      default:
        return send(404, { code: -1, msg: `unknown endpoint ${url.pathname}` });
    }
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

const aggregated = new WeakMap<EmulatorCandle[], Map<number, EmulatorCandle[]>>();

/** Candles at `intervalMs`, aggregated from the market's data (epoch-aligned buckets). */
function aggregate(candles: EmulatorCandle[], intervalMs: number): EmulatorCandle[] {
  let byInterval = aggregated.get(candles);
  if (!byInterval) aggregated.set(candles, (byInterval = new Map()));
  const cached = byInterval.get(intervalMs);
  if (cached) return cached;
  const out: EmulatorCandle[] = [];
  for (const c of candles) {
    const bucket = Math.floor(c.time / intervalMs) * intervalMs;
    const last = out[out.length - 1];
    if (last && last.time === bucket) {
      last.high = Math.max(last.high, c.high);
      last.low = Math.min(last.low, c.low);
      last.close = c.close;
      last.volume += c.volume;
    } else {
      out.push({ ...c, time: bucket });
    }
  }
  byInterval.set(intervalMs, out);
  return out;
}

function fix(v: number): string {
  return v.toFixed(8);
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
