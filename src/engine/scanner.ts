/**
 * The momentum scanner: ranks the listed markets by momentum strength, with the reasons, and keeps a
 * snapshot of each (its last candles, indicator values, the order-book top of the leaders and the
 * correlation with the reference market) in the journal for later analysis.
 */
import type { Exchange } from 'ccxt';
import type { Config } from '../config.js';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MarketData } from '../market/provider.js';
import type { Candles } from '../market/types.js';
import type { SnapshotRecord, WorkingSet } from '../store/state.js';
import { MAX_SCORE, momentumReasons, momentumSeries } from '../strategy/momentum.js';
import type { PairlistFilters, PairlistResult } from './pairlist.js';

export interface ScanRow {
  symbol: string;
  /** Momentum score, -10..10, and its strength |score| / 10. */
  score: number;
  strength: number;
  side: 'long' | 'short' | 'none';
  reasons: string[];
  last: number;
  /** Correlation of 1-bar returns with the regime's reference market (BTC) over the last 100 bars. */
  correlation: number | null;
}

export interface ScanResult {
  at: number;
  timeframe: string;
  rows: ScanRow[];
  /** Markets that could not be scanned, with why. */
  skipped: Array<{ symbol: string; reason: string }>;
  /** Where the market list came from. */
  source: string;
}

export type Snapshot = SnapshotRecord;

const SCAN_BARS = 300;
const SNAPSHOT_CANDLES = 50;
const num = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : x);

/** Pearson correlation of 1-bar returns over the last `n` common bars (matched by time). */
export function returnCorrelation(a: Candles, b: Candles, n = 100): number | null {
  const byTime = new Map<number, number>();
  for (let i = 1; i < b.length; i++) byTime.set(b.time[i]!, b.close[i]! / b.close[i - 1]! - 1);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = a.length - 1; i >= 1 && xs.length < n; i--) {
    const y = byTime.get(a.time[i]!);
    if (y === undefined) continue;
    xs.push(a.close[i]! / a.close[i - 1]! - 1);
    ys.push(y);
  }
  if (xs.length < 10) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

/** What /regime shows: the state in force with the reading it came from, or why it is unknown. */

export interface ScannerOptions {
  config: Readonly<Config>;
  market: MarketData;
  store: WorkingSet;
  logger: Logger;
  /** The clock the markets are read at (the engine's). */
  now: () => number;
  /** A replay is played: no order books (today's book says nothing of the replay's time). */
  replay: boolean;
  /** The listed markets, and the filters in force. */
  pairlist(): Promise<PairlistResult & { source: string }>;
  filters(): PairlistFilters;
  /** Candles a decision rests on, closed by the engine's clock. */
  candles(symbol: string, timeframe: string, bars: number, signal?: AbortSignal): Promise<Candles>;
}

export class Scanner {
  constructor(private readonly o: ScannerOptions) {}

  // --- the scanner ---

  /** Rank the listed markets by momentum strength on `timeframe`, with the reasons; keep snapshots. */
  async scan(timeframe = this.o.config.scanner.timeframe, signal?: AbortSignal): Promise<ScanResult> {
    const list = await this.o.pairlist();
    const until = this.o.now();
    const ref = this.o.config.regime.symbol;
    const load = (symbol: string) => this.o.candles(symbol, timeframe, SCAN_BARS, signal);
    const reference = await load(ref).catch(() => undefined);
    const rows: ScanRow[] = [];
    const skipped: ScanResult['skipped'] = [];
    const snaps: Snapshot[] = [];
    const f = this.o.filters();
    for (const pair of list.pairs) {
      if (signal?.aborted) throw new AppError('INTERNAL', 'stopped');
      let c: Candles;
      try {
        c = pair.symbol === ref && reference ? reference : await load(pair.symbol);
      } catch (err) {
        skipped.push({ symbol: pair.symbol, reason: toAppError(err).message });
        continue;
      }
      if (c.length < Math.max(f.minHistory, 60)) {
        skipped.push({
          symbol: pair.symbol,
          reason: `${c.length} candles of history, below ${Math.max(f.minHistory, 60)}`,
        });
        continue;
      }
      const m = momentumSeries(c);
      const t = c.length - 1;
      const score = m.score[t]!;
      if (Number.isNaN(score)) {
        skipped.push({ symbol: pair.symbol, reason: 'indicators not formed' });
        continue;
      }
      const correlation =
        reference && pair.symbol !== ref ? returnCorrelation(c, reference) : pair.symbol === ref ? 1 : null;
      rows.push({
        symbol: pair.symbol,
        score,
        strength: Math.abs(score) / MAX_SCORE,
        side: score >= 5 ? 'long' : score <= -5 ? 'short' : 'none',
        reasons: momentumReasons(m, c, t),
        last: c.close[t]!,
        correlation: correlation === null ? null : +correlation.toFixed(3),
      });
      const candles: Snapshot['candles'] = [];
      for (let i = Math.max(0, c.length - SNAPSHOT_CANDLES); i < c.length; i++)
        candles.push([c.time[i]!, c.open[i]!, c.high[i]!, c.low[i]!, c.close[i]!, c.volume[i]!]);
      snaps.push({
        at: until,
        symbol: pair.symbol,
        timeframe,
        candles,
        indicators: {
          score,
          rsi: num(m.rsi[t]),
          macdHistogram: num(m.macdHistogram[t]),
          roc1: num(m.roc1[t]),
          roc5: num(m.roc5[t]),
          roc15: num(m.roc15[t]),
          adx: num(m.adx[t]),
          obv: num(m.obv[t]),
          vwap: num(m.vwap[t]),
          bbUpper: num(m.bbUpper[t]),
          bbLower: num(m.bbLower[t]),
          atrPct: num(m.atrPct[t]),
        },
        orderBook: null,
        correlationBtc: correlation === null ? null : correlation,
      });
    }
    rows.sort((a, b) => b.strength - a.strength || b.score - a.score || (a.symbol < b.symbol ? -1 : 1));
    await this.orderBookTops(
      snaps,
      rows.slice(0, 5).map((r) => r.symbol),
    );
    await this.keepSnapshots(snaps);
    return { at: until, timeframe, rows, skipped, source: list.source };
  }

  /**
   * Order-book tops for the leading markets only (one call each), when an exchange is reachable;
   * none on a replay (today's book says nothing of the replay's time).
   */
  private async orderBookTops(snaps: Snapshot[], symbols: string[]): Promise<void> {
    if (this.o.replay) return;
    let ex: Exchange | undefined;
    try {
      ex = await this.o.market.exchange();
    } catch {
      return;
    }
    if (!ex) return;
    for (const symbol of symbols) {
      try {
        const book = await ex.fetchOrderBook(symbol, 5);
        const [bid, bidSize] = (book.bids[0] ?? []) as number[];
        const [ask, askSize] = (book.asks[0] ?? []) as number[];
        const snap = snaps.find((s) => s.symbol === symbol);
        if (snap && bid !== undefined && ask !== undefined)
          snap.orderBook = { bid, bidSize: bidSize ?? 0, ask, askSize: askSize ?? 0 };
      } catch (err) {
        this.o.logger.debug(
          { symbol, error: toAppError(err).message },
          'order book unavailable for a snapshot',
        );
      }
    }
  }

  /** Into the journal, with the scan; a failed write is logged and the scan still answers. */
  private async keepSnapshots(add: Snapshot[]): Promise<void> {
    if (add.length === 0) return;
    try {
      await this.o.store.update((s) => {
        s.log.snapshots.push(...add);
      });
    } catch (err) {
      this.o.logger.warn({ error: toAppError(err).message }, 'snapshots not written');
    }
  }
}
