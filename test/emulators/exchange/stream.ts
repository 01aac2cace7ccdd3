/**
 * The exchange emulator's WebSocket side: Binance spot market streams and the WebSocket API's user
 * data stream, served on the REST emulator's own port, so ccxt.pro (`new ccxt.pro.binance()`) talks to
 * it unchanged. Every `ExchangeEmulator` has one, as `emu.streams`; `emu.wsUrl` is its base URL.
 *
 * ```ts
 * const emu = await new ExchangeEmulator(markets, account).start();
 * const ex = new ccxt.pro.binance({ apiKey, secret, options: { fetchMarkets: { types: ['spot'] } } });
 * await pointCcxtAt(ex, emu);              // REST and WebSocket URLs to the emulator
 * emu.streams.advanceTo(T0 + 10 * HOUR);   // the market clock; nothing is streamed before a subscription
 * const candles = await ex.watchOHLCV('BTC/USDT', '1h'); // the forming candle, sent on subscribing
 * emu.streams.advanceTo(T0 + 11 * HOUR);   // pushes the path of hour 10, its close, hour 11's open
 * ...
 * await ex.close(); await emu.stop();
 * ```
 *
 * Paths, as Binance: `/ws` and `/ws/<stream>/<stream>...` (raw payloads; ccxt dials `/ws/0`, `/ws/1`,
 * ... one connection per subscription group and sends `SUBSCRIBE`), `/stream?streams=a/b` (combined:
 * `{ stream, data }`), and `/ws-api/v3` (the WebSocket API). Any path prefix is accepted.
 *
 * Market streams: `<symbol>@kline_<interval>` (any interval that is a whole multiple of the market's
 * data), `@trade`, `@aggTrade`, `@ticker` (24hrTicker), `@miniTicker` (24hrMiniTicker), `@bookTicker`.
 * `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS` are answered as Binance does (`{ result: null, id }`;
 * an unknown stream gets `{ error: { code: 2, msg }, id }`). Right after subscribing, a kline, ticker or
 * book ticker stream gets its current state (Binance pushes it within a second or two).
 *
 * The price path: each candle of the market's data is walked in four steps at its open time plus 0,
 * 1/4, 1/2 and 3/4 of its interval: open, then the extreme nearer the open (the high on a tie), then the
 * other extreme, then the close. Each step sends, to whoever subscribed, the forming kline of every
 * subscribed interval (x: false, OHLCV so far, a quarter of the candle's volume per step), one trade
 * (and aggTrade) at the step's price, a book ticker (bid/ask 0.01 either side) and the tickers. When the
 * clock reaches a kline's close, the closed kline (x: true, the same OHLCV as REST /klines) is sent,
 * before the next candle's first step. Event times (E, T) are market clock.
 *
 * The clock: `advanceTo(t)` fixes `emu.now` at t and sends everything between the last point streamed
 * and t, in time order across all markets; `pump()` does the same up to whatever `emu.now()` returns
 * (a test's own clock, or real time); `autoPump(ms)` pumps on a timer. Each then matches open orders
 * (REST emulator rules: a limit or stop fills when the candle that reaches it has closed).
 *
 * User data (what ccxt 4.5 uses for spot `watchOrders`, `watchMyTrades`, `watchBalance`): the
 * WebSocket API request `userDataStream.subscribe.signature` (params apiKey, timestamp, recvWindow,
 * signature; HMAC-SHA256 over the other params sorted by name, checked like the REST signed
 * endpoints) answers `{ id, status: 200, result: { subscriptionId } }`; then every order change and
 * balance change from the REST emulator is pushed as `{ subscriptionId, event }` with `executionReport`
 * (x: NEW, TRADE, CANCELED) and `outboundAccountPosition`. Also `userDataStream.unsubscribe`,
 * `session.subscriptions`, `ping`, `time`; other methods answer -1020. No listen keys: ccxt does not
 * use them for spot any more, nor does Binance.
 *
 * Faults (market and user data alike):
 * - `drop({ terminate? })`: close connections (code 1001; `terminate: true` cuts TCP: the client sees 1006);
 * - `stall({ answerPings? })`: existing connections get nothing more, not even pongs unless asked;
 *   new connections (a reconnect) are healthy; `resume()` ends it (what was withheld is lost);
 * - `fault({ type: 'skip' | 'duplicate' | 'reorder' | 'delay', stream?, event?, closed?, times?, ms? })`:
 *   the next matching messages are not sent (a gap: REST /klines still serves the candle), sent twice,
 *   held back and sent right after the next message on their connection, or sent `ms` later (out of
 *   order either way). Replies to requests are left alone unless `event: 'response'` is given;
 * - `inject(payload)`: send any text (malformed JSON) or object (an unexpected event) as is;
 * - `refuse(n)`: the next n connection attempts get HTTP 503 instead of a WebSocket.
 *
 * The log (`log`): every message in and out, with its wall-clock time (fractional ms), connection,
 * stream, event, and for klines the open time and closed flag; `closedKlines()` picks the closed-kline
 * sends, for latency figures from the exchange closing a candle (`logText = false` keeps the log
 * small on long runs). `connections()` lists who is subscribed to what; `subscribed(stream)` waits
 * until someone is ("userData" for the user data stream).
 *
 * What it does not do: REST prices stay the REST emulator's (a market order fills at the candle's
 * open even when the streamed path is elsewhere), exchange-held orders fill at the close of the
 * candle that reached them (not when the path crosses), and there is no depth stream.
 *
 * Like server.ts, it is independent of bosun's code.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Exchange } from 'ccxt';
import { type WebSocket, WebSocketServer } from 'ws';
import { aggregate, type EmulatorCandle, firstAtOrAfter, fix, INTERVALS } from './candles.js';
import type { AccountEvent, EmulatorMarket, ExchangeEmulator } from './server.js';

/** Market streams (/ws, /stream) or the WebSocket API (/ws-api/v3). */
export type ConnectionKind = 'market' | 'api';

export interface StreamFault {
  /**
   * skip: not sent (a gap); duplicate: sent twice; reorder: sent right after the next message on its
   * connection (the client may read both in one go); delay: sent `ms` later, whatever goes meanwhile
   * overtakes it (the client reads them apart).
   */
  type: 'skip' | 'duplicate' | 'reorder' | 'delay';
  /** For delay: how long (default 50 ms). */
  ms?: number;
  /** Only messages of this stream, e.g. "btcusdt@kline_1h", or "userData" (default: any). */
  stream?: string;
  /** Only this event type: "kline", "trade", "executionReport", ..., or "response" for replies. */
  event?: string;
  /** Only klines that close (true) or that are forming (false). */
  closed?: boolean;
  /** How many matching messages (default 1). */
  times?: number;
}

export interface StreamLogEntry {
  /** Wall clock when sent or received (epoch ms, fractional). */
  at: number;
  /** Connection number, from 1 in the order they opened. */
  conn: number;
  dir: 'in' | 'out';
  kind: ConnectionKind;
  /** e.g. "btcusdt@kline_1h"; "userData" for the user data stream. */
  stream?: string;
  /** The payload's event type ("kline", "trade", "bookTicker", "executionReport"...), or "response". */
  event?: string;
  /** Exchange id, e.g. "BTCUSDT". */
  symbol?: string;
  /** Klines: open time and whether this message closes the candle. */
  openTime?: number;
  closed?: boolean;
  /** Market clock of the event (ms). */
  time?: number;
  /** Whether it went on the wire (not when skipped, stalled, or the socket was closed). */
  sent: boolean;
  fault?: 'skip' | 'duplicate' | 'reorder' | 'delay' | 'stall' | 'inject' | 'closed';
  text: string;
}

type Meta = Pick<StreamLogEntry, 'stream' | 'event' | 'symbol' | 'openTime' | 'closed' | 'time'>;

interface Outgoing {
  /** An object (JSON-encoded; wrapped on combined connections) or text sent as is. */
  payload: unknown;
  meta: Meta;
}

interface Connection {
  id: number;
  ws: WebSocket;
  path: string;
  kind: ConnectionKind;
  /** /stream: payloads go out as { stream, data }. */
  combined: boolean;
  streams: Set<string>;
  /** WebSocket API: the user data subscriptions open on it. */
  userData: Set<number>;
  nextSubscriptionId: number;
  stalled: boolean;
  answerPings: boolean;
  /** Messages held back by a reorder fault, sent after the next one. */
  held: Outgoing[];
}

/** What one market's subscribers want: kline intervals and the other channels. */
interface Wanted {
  klines: Set<string>;
  channels: Set<string>;
}

const STEPS = 4;
const TICK = 0.01;
const DAY = 86_400_000;
const CHANNELS = new Set(['trade', 'aggTrade', 'ticker', 'miniTicker', 'bookTicker']);
const API_METHODS =
  'userDataStream.subscribe.signature, userDataStream.unsubscribe, session.subscriptions, ping, time';

export class StreamServer {
  /** Every message in and out, in wire order. */
  readonly log: StreamLogEntry[] = [];
  /** Keep each message's text in the log (turn off for long runs: the other fields stay). */
  logText = true;
  private readonly wss = new WebSocketServer({ noServer: true, autoPong: false });
  private readonly conns = new Set<Connection>();
  private nextConnId = 1;
  private faults: Array<StreamFault & { times: number }> = [];
  private refusals: { times: number; status: number } = { times: 0, status: 503 };
  /** Up to when (market clock) the price path has been streamed; unset until the first subscription. */
  private streamedTo: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private waiters: Array<{ stream: string; resolve: () => void }> = [];
  /** While set, market messages go to these connections only (a new subscriber's snapshot). */
  private targets: Set<Connection> | undefined;

  constructor(private readonly emu: ExchangeEmulator) {
    emu.onAccountEvent((e) => this.accountEvent(e));
  }

  // --- the clock ---

  /** Fix the market clock at `t` and stream everything up to it. The clock never goes back. */
  advanceTo(t: number): void {
    if (this.streamedTo !== undefined && t < this.streamedTo)
      throw new Error(
        `the market clock cannot go back: streamed to ${iso(this.streamedTo)}, asked for ${iso(t)}`,
      );
    this.emu.now = () => t;
    this.pump();
  }

  /** Stream everything up to the market clock's `emu.now()`, then match open orders. */
  pump(): void {
    const to = this.emu.now();
    const from = this.streamedTo ?? to;
    if (to > from) {
      this.streamedTo = to;
      for (const e of this.marketEvents(from, to)) e.send();
    }
    this.emu.matchOrders();
  }

  /** Pump every `everyMs` (for a clock that runs by itself, e.g. real time). */
  autoPump(everyMs: number): void {
    this.stopAutoPump();
    this.timer = setInterval(() => this.pump(), everyMs);
  }

  stopAutoPump(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // --- faults ---

  /** Close open connections (market, api or both); returns how many. */
  drop(opts: { kind?: ConnectionKind; terminate?: boolean; code?: number; reason?: string } = {}): number {
    let n = 0;
    for (const conn of this.select(opts.kind)) {
      this.conns.delete(conn);
      if (opts.terminate) conn.ws.terminate();
      else conn.ws.close(opts.code ?? 1001, opts.reason ?? 'emulator dropped the connection');
      n++;
    }
    return n;
  }

  /** Open connections send nothing more (pongs only with `answerPings`); new ones are healthy. */
  stall(opts: { kind?: ConnectionKind; answerPings?: boolean } = {}): number {
    const conns = this.select(opts.kind);
    for (const conn of conns) {
      conn.stalled = true;
      conn.answerPings = opts.answerPings ?? false;
    }
    return conns.length;
  }

  /** End every stall; what was withheld meanwhile is not sent. */
  resume(): void {
    for (const conn of this.conns) conn.stalled = false;
  }

  /** Skip, duplicate or reorder the next matching messages. */
  fault(f: StreamFault): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Send text as is (malformed JSON) or an object (an unexpected event) on open connections. */
  inject(payload: unknown, opts: { kind?: ConnectionKind } = {}): number {
    const conns = this.select(opts.kind ?? 'market');
    for (const conn of conns) this.write(conn, { payload, meta: { event: 'inject' } }, 'inject');
    return conns.length;
  }

  /** Answer the next `times` connection attempts with an HTTP error instead of a WebSocket. */
  refuse(times = 1, status = 503): void {
    this.refusals = { times, status };
  }

  // --- what happened ---

  /** The closed klines that went on the wire: when (`at`), to which connection, which candle. */
  closedKlines(): StreamLogEntry[] {
    return this.log.filter((e) => e.dir === 'out' && e.sent && e.closed === true);
  }

  /** Open connections and what each is subscribed to. */
  connections(): Array<{
    id: number;
    path: string;
    kind: ConnectionKind;
    streams: string[];
    userData: boolean;
  }> {
    return [...this.conns].map((c) => ({
      id: c.id,
      path: c.path,
      kind: c.kind,
      streams: [...c.streams],
      userData: c.userData.size > 0,
    }));
  }

  /**
   * Resolves once an open connection is subscribed to `stream` ("btcusdt@trade", or "userData" for
   * the user data stream), so a test can move the clock knowing someone listens.
   */
  subscribed(stream: string, timeoutMs = 2000): Promise<void> {
    if (this.isSubscribed(stream)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`nobody subscribed to ${stream} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        stream,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  private isSubscribed(stream: string): boolean {
    return [...this.conns].some((c) => (stream === 'userData' ? c.userData.size > 0 : c.streams.has(stream)));
  }

  private notifyWaiters(): void {
    const ready = this.waiters.filter((w) => this.isSubscribed(w.stream));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  // --- connections ---

  /** The HTTP server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routeOf(url);
    if (!route) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (this.refusals.times > 0) {
      this.refusals.times--;
      socket.end(`HTTP/1.1 ${this.refusals.status} Service Unavailable\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, url.pathname, route));
  }

  stop(): void {
    this.stopAutoPump();
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    for (const conn of this.conns) conn.ws.terminate();
    this.conns.clear();
    this.wss.close();
  }

  private open(ws: WebSocket, path: string, route: Route): void {
    const conn: Connection = {
      id: this.nextConnId++,
      ws,
      path,
      kind: route.kind,
      combined: route.combined,
      streams: new Set(),
      userData: new Set(),
      nextSubscriptionId: 0,
      stalled: false,
      answerPings: true,
      held: [],
    };
    this.conns.add(conn);
    ws.on('close', () => this.conns.delete(conn));
    ws.on('error', () => this.conns.delete(conn));
    ws.on('ping', (data: Buffer) => {
      if (!conn.stalled || conn.answerPings) ws.pong(data);
    });
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      this.record(conn, { payload: text, meta: {} }, 'in', true);
      if (conn.stalled) return;
      if (conn.kind === 'api') this.apiRequest(conn, text);
      else this.marketRequest(conn, text);
    });
    // Streams named in a raw path (/ws/btcusdt@trade) are subscribed at once; others ("0") ignored.
    const named = route.streams.filter((s) => this.invalidStream(s) === undefined);
    if (named.length > 0) this.subscribe(conn, named);
  }

  private select(kind?: ConnectionKind): Connection[] {
    return [...this.conns].filter((c) => !kind || c.kind === kind);
  }

  // --- market streams: requests ---

  private marketRequest(conn: Connection, text: string): void {
    let req: { method?: unknown; params?: unknown; id?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return this.reply(conn, { error: { code: 3, msg: 'Invalid JSON: expected value' }, id: null });
    }
    const id = req.id ?? null;
    const params = Array.isArray(req.params) ? req.params.map(String) : [];
    switch (req.method) {
      case 'SUBSCRIBE': {
        const bad = params.map((s) => this.invalidStream(s)).find((why) => why !== undefined);
        if (bad) return this.reply(conn, { error: { code: 2, msg: `Invalid request: ${bad}` }, id });
        this.reply(conn, { result: null, id });
        this.subscribe(conn, params);
        return;
      }
      case 'UNSUBSCRIBE':
        for (const s of params) conn.streams.delete(s);
        return this.reply(conn, { result: null, id });
      case 'LIST_SUBSCRIPTIONS':
        return this.reply(conn, { result: [...conn.streams], id });
      case 'SET_PROPERTY':
        return this.reply(conn, { result: null, id });
      case 'GET_PROPERTY':
        return this.reply(conn, { result: false, id });
      default:
        return this.reply(conn, {
          error: { code: 2, msg: `Invalid request: unknown method ${String(req.method)}` },
          id,
        });
    }
  }

  /** Subscribe, after bringing the streams up to the clock; each stream gets its current state. */
  private subscribe(conn: Connection, streams: string[]): void {
    this.pump();
    this.streamedTo ??= this.emu.now();
    for (const s of streams) {
      conn.streams.add(s);
      this.sendSnapshot(conn, s);
    }
    this.notifyWaiters();
  }

  /** Why a stream name cannot be served, or undefined when it can. */
  private invalidStream(name: string): string | undefined {
    const m = /^([a-z0-9]+)@(kline_(\w+)|\w+)$/.exec(name);
    const market = m && this.emu.market(m[1]!.toUpperCase());
    if (!m || !market) return `invalid stream ${name}`;
    if (m[3] !== undefined) {
      const ms = INTERVALS[m[3]];
      if (!ms) return `invalid interval in ${name}`;
      if (ms % market.intervalMs !== 0)
        return `${name}: the emulator's data for ${market.symbol} is every ${market.intervalMs} ms`;
      return undefined;
    }
    return CHANNELS.has(m[2]!) ? undefined : `invalid stream ${name}`;
  }

  // --- market streams: the price path ---

  /** The events between two clock readings (from excluded), in time order, closes before steps. */
  private marketEvents(from: number, to: number): Array<{ time: number; rank: number; send: () => void }> {
    const events: Array<{ time: number; rank: number; send: () => void }> = [];
    for (const [id, wanted] of this.wanted()) {
      const market = this.emu.market(id)!;
      const c = market.candles;
      const quarter = market.intervalMs / STEPS;
      for (let i = firstAtOrAfter(c, from - market.intervalMs); i < c.length && c[i]!.time <= to; i++) {
        for (let k = 0; k < STEPS; k++) {
          const time = c[i]!.time + k * quarter;
          if (time > from && time <= to)
            events.push({ time, rank: 1, send: () => this.sendStep(id, market, wanted, i, k, time) });
        }
      }
      for (const interval of wanted.klines) {
        const ms = INTERVALS[interval]!;
        const bars = aggregate(c, ms);
        for (let b = firstAtOrAfter(bars, from - ms + 1); b < bars.length; b++) {
          const bar = bars[b]!;
          const close = bar.time + ms;
          if (close > to) break;
          events.push({
            time: close,
            rank: 0,
            send: () =>
              this.sendKline(
                id,
                market,
                interval,
                bar,
                lastIndexIn(c, bar.time + ms),
                STEPS - 1,
                true,
                close,
              ),
          });
        }
      }
    }
    return events.sort((a, b) => a.time - b.time || a.rank - b.rank);
  }

  /** Per market id, what its subscribers want. */
  private wanted(): Map<string, Wanted> {
    const out = new Map<string, Wanted>();
    for (const conn of this.conns) {
      for (const s of conn.streams) {
        const [lower, channel] = s.split('@') as [string, string];
        const id = lower.toUpperCase();
        let w = out.get(id);
        if (!w) out.set(id, (w = { klines: new Set(), channels: new Set() }));
        if (channel.startsWith('kline_')) w.klines.add(channel.slice('kline_'.length));
        else w.channels.add(channel);
      }
    }
    return out;
  }

  private sendStep(
    id: string,
    market: EmulatorMarket,
    wanted: Wanted,
    i: number,
    k: number,
    time: number,
  ): void {
    for (const interval of wanted.klines) {
      const ms = INTERVALS[interval]!;
      this.sendKline(id, market, interval, formingBar(market, ms, i, k), i, k, false, time);
    }
    for (const channel of wanted.channels) this.sendChannel(id, market, channel, i, k, time);
  }

  private sendKline(
    id: string,
    market: EmulatorMarket,
    interval: string,
    bar: EmulatorCandle,
    i: number,
    k: number,
    closed: boolean,
    time: number,
  ): void {
    const ms = INTERVALS[interval]!;
    const first = firstAtOrAfter(market.candles, bar.time) * STEPS + 1;
    const last = tradeId(i, k);
    const payload = {
      e: 'kline',
      E: time,
      s: id,
      k: {
        t: bar.time,
        T: bar.time + ms - 1,
        s: id,
        i: interval,
        f: first,
        L: last,
        o: fix(bar.open),
        c: fix(bar.close),
        h: fix(bar.high),
        l: fix(bar.low),
        v: fix(bar.volume),
        n: last - first + 1,
        x: closed,
        q: fix(bar.volume * bar.close),
        V: fix(bar.volume / 2),
        Q: fix((bar.volume * bar.close) / 2),
        B: '0',
      },
    };
    const stream = `${id.toLowerCase()}@kline_${interval}`;
    this.publish(stream, payload, { event: 'kline', symbol: id, openTime: bar.time, closed, time });
  }

  private sendChannel(
    id: string,
    market: EmulatorMarket,
    channel: string,
    i: number,
    k: number,
    time: number,
  ): void {
    const c = market.candles[i]!;
    const path = pricePath(c);
    const price = path[k]!;
    const previous = k > 0 ? path[k - 1]! : (market.candles[i - 1]?.close ?? price);
    const qty = c.volume / STEPS;
    const tid = tradeId(i, k);
    const stream = `${id.toLowerCase()}@${channel}`;
    const meta = { symbol: id, time };
    const buyerIsMaker = price < previous;
    switch (channel) {
      case 'trade':
        return this.publish(
          stream,
          {
            e: 'trade',
            E: time,
            s: id,
            t: tid,
            p: fix(price),
            q: fix(qty),
            T: time,
            m: buyerIsMaker,
            M: true,
          },
          { ...meta, event: 'trade' },
        );
      case 'aggTrade':
        return this.publish(
          stream,
          {
            e: 'aggTrade',
            E: time,
            s: id,
            a: tid,
            p: fix(price),
            q: fix(qty),
            f: tid,
            l: tid,
            T: time,
            m: buyerIsMaker,
            M: true,
          },
          { ...meta, event: 'aggTrade' },
        );
      case 'bookTicker':
        return this.publish(stream, bookTicker(id, tid, price), { ...meta, event: 'bookTicker' });
      default:
        return this.publish(stream, dayTicker(id, market, i, k, time, channel === 'miniTicker'), {
          ...meta,
          event: channel === 'miniTicker' ? '24hrMiniTicker' : '24hrTicker',
        });
    }
  }

  /** A new subscriber's first message: the state now (a forming kline, the tickers). */
  private sendSnapshot(conn: Connection, stream: string): void {
    const [lower, channel] = stream.split('@') as [string, string];
    const id = lower.toUpperCase();
    const market = this.emu.market(id)!;
    const now = this.streamedTo!;
    const at = stepAt(market, now);
    if (!at || channel === 'trade' || channel === 'aggTrade') return;
    const { i, k } = at;
    // Sent on this connection only: a second subscriber must not make the first hear it twice.
    const only = new Set([conn]);
    if (channel.startsWith('kline_')) {
      const interval = channel.slice('kline_'.length);
      const bar = formingBar(market, INTERVALS[interval]!, i, k);
      this.withTargets(only, () => this.sendKline(id, market, interval, bar, i, k, false, now));
    } else {
      this.withTargets(only, () => this.sendChannel(id, market, channel, i, k, now));
    }
  }

  private withTargets(conns: Set<Connection>, send: () => void): void {
    this.targets = conns;
    try {
      send();
    } finally {
      this.targets = undefined;
    }
  }

  private publish(stream: string, payload: unknown, meta: Meta): void {
    for (const conn of this.targets ?? this.conns)
      if (conn.kind === 'market' && conn.streams.has(stream))
        this.deliver(conn, { payload, meta: { ...meta, stream } });
  }

  // --- the WebSocket API: user data ---

  private apiRequest(conn: Connection, text: string): void {
    let req: { id?: unknown; method?: unknown; params?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return this.reply(conn, {
        id: null,
        status: 400,
        error: { code: -1000, msg: 'Malformed request: not JSON.' },
      });
    }
    const id = req.id ?? null;
    const params = (req.params && typeof req.params === 'object' ? req.params : {}) as Record<
      string,
      unknown
    >;
    const ok = (result: unknown) => this.reply(conn, { id, status: 200, result });
    switch (req.method) {
      case 'userDataStream.subscribe.signature': {
        const denied = this.emu.authenticateParams(params);
        if (denied)
          return this.reply(conn, {
            id,
            status: denied.status,
            error: { code: denied.code, msg: denied.msg },
          });
        const subscriptionId = conn.nextSubscriptionId++;
        conn.userData.add(subscriptionId);
        ok({ subscriptionId });
        this.notifyWaiters();
        return;
      }
      case 'userDataStream.unsubscribe':
        if (params.subscriptionId === undefined) conn.userData.clear();
        else conn.userData.delete(Number(params.subscriptionId));
        return ok({});
      case 'session.subscriptions':
        return ok([...conn.userData].map((subscriptionId) => ({ subscriptionId })));
      case 'ping':
        return ok({});
      case 'time':
        return ok({ serverTime: this.emu.now() });
      default:
        return this.reply(conn, {
          id,
          status: 400,
          error: {
            code: -1020,
            msg: `This operation is not supported: ${String(req.method)}; the emulator serves ${API_METHODS}.`,
          },
        });
    }
  }

  private accountEvent(e: AccountEvent): void {
    const event = e.kind === 'order' ? executionReport(e) : this.accountPosition(e.assets, e.at);
    const meta: Meta = { stream: 'userData', event: event.e, time: e.at };
    if (e.kind === 'order') meta.symbol = e.order.symbol;
    for (const conn of this.conns)
      for (const subscriptionId of conn.userData)
        this.deliver(conn, { payload: { subscriptionId, event }, meta });
  }

  private accountPosition(assets: string[], at: number) {
    return {
      e: 'outboundAccountPosition',
      E: at,
      u: at,
      B: assets.map((a) => {
        const b = this.emu.balances.get(a) ?? { free: 0, locked: 0 };
        return { a, f: fix(b.free), l: fix(b.locked) };
      }),
    };
  }

  // --- the wire ---

  private reply(conn: Connection, payload: unknown): void {
    this.deliver(conn, { payload, meta: { event: 'response' } });
  }

  /** Send through the faults: stalls, then the first matching skip, duplicate or reorder. */
  private deliver(conn: Connection, out: Outgoing): void {
    if (conn.stalled) return this.record(conn, out, 'out', false, 'stall');
    const fault = this.takeFault(out.meta);
    if (fault?.type === 'skip') return this.record(conn, out, 'out', false, 'skip');
    if (fault?.type === 'reorder') {
      conn.held.push(out);
      return;
    }
    if (fault?.type === 'delay') {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.write(conn, out, 'delay');
      }, fault.ms ?? 50);
      this.delayed.add(timer);
      return;
    }
    this.write(conn, out);
    if (fault?.type === 'duplicate') this.write(conn, out, 'duplicate');
    for (const held of conn.held.splice(0)) this.write(conn, held, 'reorder');
  }

  private takeFault(meta: Meta): (StreamFault & { times: number }) | undefined {
    const f = this.faults.find(
      (f) =>
        f.times > 0 &&
        (f.event === undefined ? meta.event !== 'response' : f.event === meta.event) &&
        (f.stream === undefined || f.stream === meta.stream) &&
        (f.closed === undefined || f.closed === meta.closed),
    );
    if (!f) return undefined;
    f.times--;
    this.faults = this.faults.filter((x) => x.times > 0);
    return f;
  }

  private write(conn: Connection, out: Outgoing, fault?: StreamLogEntry['fault']): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return this.record(conn, out, 'out', false, 'closed');
    this.record(conn, out, 'out', true, fault);
    conn.ws.send(this.encode(conn, out));
  }

  private encode(conn: Connection, out: Outgoing): string {
    if (typeof out.payload === 'string') return out.payload;
    const wrap = conn.combined && out.meta.stream !== undefined && out.meta.event !== 'inject';
    return JSON.stringify(wrap ? { stream: out.meta.stream, data: out.payload } : out.payload);
  }

  private record(
    conn: Connection,
    out: Outgoing,
    dir: 'in' | 'out',
    sent: boolean,
    fault?: StreamLogEntry['fault'],
  ): void {
    const entry: StreamLogEntry = {
      at: performance.timeOrigin + performance.now(),
      conn: conn.id,
      dir,
      kind: conn.kind,
      ...out.meta,
      sent,
      text: !this.logText ? '' : dir === 'in' ? String(out.payload) : this.encode(conn, out),
    };
    if (fault) entry.fault = fault;
    this.log.push(entry);
  }
}

/**
 * Point a ccxt binance instance (REST or ccxt.pro) at an emulator: every REST URL to `emu.url` and
 * every WebSocket URL (market streams, WebSocket API) to `emu.wsUrl`, paths kept. Async because
 * ccxt refuses a plain ws:// URL ("to use proxy with non-ssl ws:// urls...") until its HTTP agent is
 * loaded with `loadHttpProxyAgent()`.
 */
export async function pointCcxtAt(ex: Exchange, emu: { url: string; wsUrl: string }): Promise<void> {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string')
      return /^wss?:/.test(node)
        ? node.replace(/^wss?:\/\/[^/]+/, emu.wsUrl)
        : node.replace(/^https?:\/\/[^/]+/, emu.url);
    if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node)) (node as Record<string, unknown>)[k] = walk(v);
    return node;
  };
  walk(ex.urls.api);
  await ex.loadHttpProxyAgent();
}

interface Route {
  kind: ConnectionKind;
  combined: boolean;
  streams: string[];
}

/** Which endpoint a path is: .../ws-api/v3, .../ws[/streams...], or .../stream?streams=... */
function routeOf(url: URL): Route | undefined {
  const segments = url.pathname.split('/');
  if (url.pathname.endsWith('/ws-api/v3')) return { kind: 'api', combined: false, streams: [] };
  const ws = segments.indexOf('ws');
  if (ws >= 0) return { kind: 'market', combined: false, streams: segments.slice(ws + 1).filter(Boolean) };
  if (segments[segments.length - 1] === 'stream')
    return {
      kind: 'market',
      combined: true,
      streams: (url.searchParams.get('streams') ?? '').split('/').filter(Boolean),
    };
  return undefined;
}

/** A candle's four prices: open, the extreme nearer the open (high on a tie), the other, close. */
export function pricePath(c: EmulatorCandle): [number, number, number, number] {
  return c.high - c.open <= c.open - c.low
    ? [c.open, c.high, c.low, c.close]
    : [c.open, c.low, c.high, c.close];
}

/** A candle as it stands after step k of its path. */
function partial(c: EmulatorCandle, k: number): EmulatorCandle {
  const seen = pricePath(c).slice(0, k + 1);
  return {
    time: c.time,
    open: c.open,
    high: Math.max(...seen),
    low: Math.min(...seen),
    close: seen[k]!,
    volume: (c.volume * (k + 1)) / STEPS,
  };
}

/** The kline of `intervalMs` containing candle i, as it stands after step k of candle i. */
function formingBar(market: EmulatorMarket, intervalMs: number, i: number, k: number): EmulatorCandle {
  const c = market.candles;
  const start = Math.floor(c[i]!.time / intervalMs) * intervalMs;
  const bar = { ...partial(c[i]!, k), time: start };
  const j0 = firstAtOrAfter(c, start);
  if (j0 < i) {
    bar.open = c[j0]!.open;
    for (let j = j0; j < i; j++) {
      bar.high = Math.max(bar.high, c[j]!.high);
      bar.low = Math.min(bar.low, c[j]!.low);
      bar.volume += c[j]!.volume;
    }
  }
  return bar;
}

/** Where the path stands at a moment: candle i, step k; undefined before the data or after it. */
function stepAt(market: EmulatorMarket, t: number): { i: number; k: number } | undefined {
  const i = firstAtOrAfter(market.candles, t + 1) - 1;
  const c = market.candles[i];
  if (!c || t >= c.time + market.intervalMs) return undefined;
  return { i, k: Math.min(STEPS - 1, Math.floor((t - c.time) / (market.intervalMs / STEPS))) };
}

/** Index of the last candle opening before `t`. */
function lastIndexIn(c: EmulatorCandle[], t: number): number {
  return firstAtOrAfter(c, t) - 1;
}

/** The trade at step k of candle i: ids 1, 2, 3... along the path. */
function tradeId(i: number, k: number): number {
  return i * STEPS + k + 1;
}

function bookTicker(id: string, updateId: number, price: number) {
  return {
    u: updateId,
    s: id,
    b: fix(price - TICK),
    B: '1.00000000',
    a: fix(price + TICK),
    A: '1.00000000',
  };
}

/** The rolling 24h ticker (full or mini) at step k of candle i. */
function dayTicker(id: string, market: EmulatorMarket, i: number, k: number, time: number, mini: boolean) {
  const c = market.candles;
  const now = partial(c[i]!, k);
  const day = [...c.slice(firstAtOrAfter(c, c[i]!.time - DAY + 1), i), now];
  const first = day[0]!;
  const high = Math.max(...day.map((x) => x.high));
  const low = Math.min(...day.map((x) => x.low));
  const volume = day.reduce((a, x) => a + x.volume, 0);
  const quoteVolume = day.reduce((a, x) => a + x.volume * x.close, 0);
  const price = now.close;
  const common = {
    E: time,
    s: id,
    c: fix(price),
    o: fix(first.open),
    h: fix(high),
    l: fix(low),
    v: fix(volume),
    q: fix(quoteVolume),
  };
  if (mini) return { e: '24hrMiniTicker', ...common };
  const lastId = tradeId(i, k);
  const firstId = firstAtOrAfter(c, first.time) * STEPS + 1;
  return {
    e: '24hrTicker',
    ...common,
    p: fix(price - first.open),
    P: ((price / first.open - 1) * 100).toFixed(3),
    w: fix(volume > 0 ? quoteVolume / volume : price),
    x: fix(first.open),
    Q: fix(c[i]!.volume / STEPS),
    b: fix(price - TICK),
    B: '1.00000000',
    a: fix(price + TICK),
    A: '1.00000000',
    O: first.time,
    C: time,
    F: firstId,
    L: lastId,
    n: lastId - firstId + 1,
  };
}

/** Binance's executionReport for an order change. */
function executionReport(e: Extract<AccountEvent, { kind: 'order' }>) {
  const o = e.order;
  const t = e.trade;
  const canceled = e.execution === 'CANCELED';
  return {
    e: 'executionReport',
    E: e.at,
    s: o.symbol,
    // A cancel carries the cancel request's id in c and the order's own in C.
    c: canceled ? `cancel-${o.orderId}` : o.clientOrderId,
    S: o.side,
    o: o.type,
    f: o.timeInForce,
    q: fix(o.origQty),
    p: fix(o.price),
    P: fix(o.stopPrice),
    F: fix(0),
    g: -1,
    C: canceled ? o.clientOrderId : '',
    x: e.execution,
    X: o.status,
    r: 'NONE',
    i: o.orderId,
    l: fix(t?.qty ?? 0),
    z: fix(o.executedQty),
    L: fix(t?.price ?? 0),
    n: fix(t?.commission ?? 0),
    N: t?.commissionAsset ?? null,
    T: e.at,
    t: t?.id ?? -1,
    I: e.at,
    w: o.status === 'NEW' && o.type === 'LIMIT',
    m: false,
    M: t !== undefined,
    O: o.time,
    Z: fix(o.cummulativeQuoteQty),
    Y: fix(t ? t.qty * t.price : 0),
    Q: fix(0),
    W: o.time,
    V: 'EXPIRE_MAKER',
  };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
