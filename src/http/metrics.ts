/**
 * bosun's Prometheus metrics (`/metrics`), one registry per bot (prom-client):
 *
 * - `bosun_candles_total{series}`: closed candles taken per series ("BTC/USDT 1h");
 * - `bosun_signal_latency_seconds`: from a candle's close to its signal, on a live feed (a replay's
 *   clock is not the wall's, and signals of a catch-up after downtime are not live ones);
 * - `bosun_orders_total{outcome}`: live orders by outcome (placed, adopted, rejected, unknown, ...);
 * - `bosun_errors_total{kind}`: feed, stream, journal, exchange, strategy and order troubles;
 * - `bosun_chat_notices_total{what}`: notices queued, and messages sent, failed or dropped;
 *   `bosun_chat_notices_waiting`: notices not sent yet;
 * - `bosun_open_positions{quote}`, `bosun_equity{quote}`: read from the trading book when scraped;
 * - `bosun_ready`: 1 ok, 0.5 degraded, 0 failing (the health check's answer);
 * - Node's own: event-loop delay (`nodejs_eventloop_lag_*`), memory, CPU, handles.
 */
import client from 'prom-client';
import type { Notifier } from '../chat/notifier.js';
import type { EngineEvent } from '../engine/events.js';
import type { Trading } from '../engine/trading.js';
import type { Health } from '../health.js';
import { timeframeMs } from '../market/timeframe.js';

export interface MetricsOptions {
  trading: Trading;
  notifier: Notifier;
  health: Health;
  clock?: () => number;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly off: () => void;

  constructor(o: MetricsOptions) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    const clock = o.clock ?? Date.now;
    // Each engine counts its own candles, and switching books switches engines: what each has
    // added so far is remembered, so the counter only goes up.
    const added = new WeakMap<object, Map<string, number>>();
    new client.Counter({
      name: 'bosun_candles_total',
      help: 'Closed candles taken, per series',
      labelNames: ['series'],
      registers,
      collect() {
        const engine = o.trading.engine;
        let mine = added.get(engine);
        if (!mine) added.set(engine, (mine = new Map()));
        for (const [series, n] of engine.processed) {
          const more = n - (mine.get(series) ?? 0);
          if (more > 0) this.inc({ series }, more);
          mine.set(series, n);
        }
      },
    });
    const latency = new client.Histogram({
      name: 'bosun_signal_latency_seconds',
      help: "From a candle's close to its signal, on a live feed",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const orders = new client.Counter({
      name: 'bosun_orders_total',
      help: 'Live orders by outcome',
      labelNames: ['outcome'],
      registers,
    });
    const errors = new client.Counter({
      name: 'bosun_errors_total',
      help: 'Troubles by kind: feed, stream, journal, exchange, strategy, order',
      labelNames: ['kind'],
      registers,
    });
    new client.Counter({
      name: 'bosun_chat_notices_total',
      help: 'Chat notices queued, and messages sent, failed or dropped (a chat that fell behind)',
      labelNames: ['what'],
      registers,
      collect() {
        this.reset();
        for (const [what, n] of Object.entries(o.notifier.counts)) this.inc({ what }, n);
      },
    });
    new client.Gauge({
      name: 'bosun_chat_notices_waiting',
      help: 'Chat notices not sent yet',
      registers,
      collect() {
        this.set(o.notifier.waiting());
      },
    });
    new client.Gauge({
      name: 'bosun_open_positions',
      help: 'Open positions of the book trading now, per quote currency',
      labelNames: ['quote'],
      registers,
      collect() {
        this.reset();
        for (const quote of o.trading.engine.quotes()) this.set({ quote }, count(o.trading, quote));
      },
    });
    new client.Gauge({
      name: 'bosun_equity',
      help: 'Equity (cash and open positions at their marks) of the book trading now, per quote currency',
      labelNames: ['quote'],
      registers,
      collect() {
        this.reset();
        const e = o.trading.engine;
        for (const quote of e.quotes()) this.set({ quote }, e.account(e.state, quote).equity);
      },
    });
    new client.Gauge({
      name: 'bosun_ready',
      help: 'The health check: 1 ok, 0.5 degraded, 0 failing',
      registers,
      collect() {
        const s = o.health.readiness().status;
        this.set(s === 'ok' ? 1 : s === 'degraded' ? 0.5 : 0);
      },
    });
    this.off = o.trading.on((e) => {
      const kind = troubleOf(e);
      if (kind) errors.inc({ kind });
      if (e.type === 'order') orders.inc({ outcome: e.what });
      // An alert's signal comes when the alert does, not from a candle's close.
      if (
        e.type === 'signal' &&
        !o.trading.engine.feed.accelerated &&
        !e.signal.note?.startsWith('alert from')
      ) {
        // Signals of the candle that just closed: one a candle late or more is a catch-up's.
        const tf = timeframeMs(e.signal.timeframe);
        const late = clock() - (e.signal.barTime + tf);
        if (late < tf) latency.observe(Math.max(0, late) / 1000);
      }
    });
  }

  /** The exposition text and its content type. */
  async text(): Promise<{ body: string; type: string }> {
    return { body: await this.registry.metrics(), type: this.registry.contentType };
  }

  stop(): void {
    this.off();
    this.registry.clear();
  }
}

function count(trading: Trading, quote: string): number {
  return Object.values(trading.engine.state.positions).filter((p) => p.quote === quote).length;
}

/** The kind of trouble an event reports, if it reports one. */
function troubleOf(e: EngineEvent): string | undefined {
  if (e.type === 'feed' && !e.up && !e.ended) return e.journal ? 'journal' : e.stream ? 'stream' : 'feed';
  if (e.type === 'exchange' && !e.up) return 'exchange';
  if (e.type === 'run' && e.what === 'paused') return 'strategy';
  if (e.type === 'order' && (e.what === 'rejected' || e.what === 'unknown')) return 'order';
  return undefined;
}
