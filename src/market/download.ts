/**
 * Downloading candles from any ccxt exchange, with pagination, the exchange's rate limiter, retries
 * with exponential backoff on network errors, and a disk cache so a range is never fetched twice.
 *
 * The cache lives under `DATA_DIR/cache/ohlcv/EXCHANGE/SYMBOL/TIMEFRAME/`: candles in one CSV per
 * month (per year for 4h and above) and `coverage.json`, the time ranges already asked of the
 * exchange, including ranges where it had no candles (before a listing, during downtime). Only closed
 * candles are stored. Every file is written to a temporary name and renamed, so a crash leaves either
 * the old file or the new one.
 *
 * Timeframes the exchange does not offer (37m, 148m, ...) are built by resampling the largest offered
 * timeframe that divides them.
 *
 * The exchange itself comes from ./exchange.ts (ccxt loads there, lazily).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exchange } from 'ccxt';
import { AppError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';
import { getExchange, type RetryOptions, withRetry } from './exchange.js';
import { parseCandlesCsv } from './load.js';
import { cacheRules, rulesOfMarket } from './rules.js';
import { closedOnly, resample } from './resample.js';
import { HOUR, isoTime, timeframeMs } from './timeframe.js';
import { allocCandles, type Candles, concatCandles, sliceCandles } from './types.js';

export interface DownloadRequest {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** Inclusive start, epoch ms. */
  from: number;
  /** Exclusive end, epoch ms (clamped to the last closed candle). */
  to: number;
}

export interface DownloadOptions extends RetryOptions {
  dataDir: string;
  /** Replace the exchange's API host (a proxy, or a local emulator in tests). */
  apiUrl?: string;
  /** Candles per request (default: the exchange's maximum, 1000 when unknown). */
  pageSize?: number;
  /** The time now, for deciding which candles have closed (default Date.now()). */
  now?: number;
  /** Use this ccxt instance instead of creating one (shares its rate limiter). */
  exchangeInstance?: Exchange;
  onProgress?: (fetchedUntil: number) => void;
}

export interface DownloadResult {
  candles: Candles;
  /** Candles fetched from the exchange in this call (0 when all came from the cache). */
  fetched: number;
  /** Requests made to the exchange for candles. */
  requests: number;
  /** The timeframe that was downloaded (differs from the asked one when resampled). */
  sourceTimeframe: string;
}

type Range = [number, number];

/** Candles for the request, from the cache where it has them and from the exchange for the rest. */
export async function downloadCandles(req: DownloadRequest, opts: DownloadOptions): Promise<DownloadResult> {
  const targetMs = timeframeMs(req.timeframe);
  if (!(req.to > req.from))
    throw new AppError(
      'BAD_INPUT',
      `the range ${isoTime(req.from)} .. ${isoTime(req.to)} is empty; --to must be after --from`,
    );
  const ex = opts.exchangeInstance ?? (await getExchange(req.exchange, opts.apiUrl));
  await withRetry(() => ex.loadMarkets(), opts, 'loading markets', ex);
  if (!ex.markets?.[req.symbol]) {
    throw new AppError(
      'BAD_INPUT',
      `symbol ${req.symbol} is not listed on ${req.exchange}; allowed: a market like BTC/USDT`,
    );
  }
  // The market's trading rules go beside its candles, so a backtest on them offline knows them too.
  cacheRules(opts.dataDir, ex.id, {
    [req.symbol]: rulesOfMarket(ex.markets[req.symbol]!, ex.precisionMode ?? 0, `${ex.id} markets`),
  });
  const sourceTf = sourceTimeframe(ex, req.timeframe, targetMs);
  const sourceMs = timeframeMs(sourceTf);
  // Widen to whole target candles so resampled candles are complete.
  const from = Math.floor(req.from / targetMs) * targetMs;
  const now = opts.now ?? Date.now();
  const lastClosedEnd = Math.floor(now / sourceMs) * sourceMs;
  const to = Math.min(Math.ceil(req.to / targetMs) * targetMs, lastClosedEnd);
  if (!(to > from))
    throw new AppError(
      'BAD_INPUT',
      `no closed ${req.timeframe} candles between ${isoTime(req.from)} and ${isoTime(req.to)} yet`,
    );

  const cache = new OhlcvCache(opts.dataDir, ex.id, req.symbol, sourceTf, sourceMs);
  let fetched = 0;
  let requests = 0;
  for (const [a, b] of cache.missing([from, to])) {
    const rows = await fetchRange(ex, req.symbol, sourceTf, sourceMs, a, b, opts, () => requests++);
    fetched += rows.length;
    cache.store(rows, [a, b]);
    opts.logger?.debug(
      {
        exchange: ex.id,
        symbol: req.symbol,
        timeframe: sourceTf,
        from: isoTime(a),
        to: isoTime(b),
        candles: rows.length,
      },
      'fetched',
    );
  }
  const source = cache.read(from, to);
  const candles = sourceMs === targetMs ? source : closedOnly(resample(source, sourceMs, targetMs));
  return { candles, fetched, requests, sourceTimeframe: sourceTf };
}

/** The timeframe to download: the asked one when offered, else the largest offered one dividing it. */
function sourceTimeframe(ex: Exchange, tf: string, targetMs: number): string {
  const offered = Object.keys(ex.timeframes ?? {});
  if (offered.length === 0 || offered.includes(tf)) return tf;
  let best: string | undefined;
  let bestMs = 0;
  for (const name of offered) {
    let ms: number;
    try {
      ms = timeframeMs(name);
    } catch {
      continue; // months ("1M") and other calendar units cannot be resampled evenly
    }
    if (targetMs % ms === 0 && ms > bestMs) {
      best = name;
      bestMs = ms;
    }
  }
  if (!best)
    throw new AppError(
      'BAD_INPUT',
      `${ex.id} offers no timeframe that ${tf} can be built from; offered: ${offered.join(', ')}`,
    );
  return best;
}

async function fetchRange(
  ex: Exchange,
  symbol: string,
  tf: string,
  tfMs: number,
  from: number,
  to: number,
  opts: DownloadOptions,
  countRequest: () => void,
): Promise<number[][]> {
  const limit = opts.pageSize ?? 1000;
  const rows: number[][] = [];
  let since = from;
  while (since < to) {
    countRequest();
    const page = (await withRetry(
      () => ex.fetchOHLCV(symbol, tf, since, limit),
      opts,
      `fetching ${symbol} ${tf} candles`,
      ex,
    )) as number[][];
    let last = -1;
    for (const r of page) {
      const t = r[0]!;
      if (t >= since && t < to && t > last) {
        rows.push(r.slice(0, 6));
        last = t;
      }
    }
    if (page.length === 0 || last < 0) {
      // Nothing at or after `since` in this page: skip ahead if the exchange's data starts later.
      const first = page.length > 0 ? page[0]![0]! : Number.NaN;
      if (!(first > since) || first >= to) break;
      since = first;
      continue;
    }
    since = last + tfMs;
    opts.onProgress?.(since);
  }
  return rows;
}

/** The way out offered when the cache cannot be written (it lives under DATA_DIR). */
const CACHE_WAY_OUT = { elsewhere: 'set DATA_DIR to a writable directory' };

/** The on-disk cache of one exchange/symbol/timeframe. */
class OhlcvCache {
  private readonly dir: string;
  private readonly chunkByYear: boolean;

  constructor(
    dataDir: string,
    exchange: string,
    symbol: string,
    private readonly tf: string,
    private readonly tfMs: number,
  ) {
    this.dir = join(dataDir, 'cache', 'ohlcv', exchange, symbol.replace(/[/:]/g, '-'), tf);
    this.chunkByYear = tfMs >= 4 * HOUR;
  }

  private coverage(): Range[] {
    try {
      const data = JSON.parse(readFileSync(join(this.dir, 'coverage.json'), 'utf8')) as { covered?: Range[] };
      return Array.isArray(data.covered) ? data.covered : [];
    } catch {
      return [];
    }
  }

  /** Parts of `range` not yet asked of the exchange. */
  missing(range: Range): Range[] {
    let gaps: Range[] = [range];
    for (const [a, b] of this.coverage()) {
      gaps = gaps.flatMap(([x, y]): Range[] => {
        if (b <= x || a >= y) return [[x, y]];
        const parts: Range[] = [];
        if (a > x) parts.push([x, a]);
        if (b < y) parts.push([b, y]);
        return parts;
      });
    }
    return gaps.filter(([x, y]) => y - x >= this.tfMs);
  }

  /** Merge fetched rows into the chunk files, then record the range as covered. */
  store(rows: number[][], range: Range): void {
    ensureDir(this.dir, CACHE_WAY_OUT);
    const byChunk = new Map<string, number[][]>();
    for (const r of rows) {
      const key = this.chunkKey(r[0]!);
      let list = byChunk.get(key);
      if (!list) byChunk.set(key, (list = []));
      list.push(r);
    }
    for (const [key, list] of byChunk) {
      const merged = new Map<number, number[]>();
      const existing = this.readChunk(key);
      if (existing)
        for (let i = 0; i < existing.length; i++)
          merged.set(existing.time[i]!, [
            existing.time[i]!,
            existing.open[i]!,
            existing.high[i]!,
            existing.low[i]!,
            existing.close[i]!,
            existing.volume[i]!,
          ]);
      for (const r of list) merged.set(r[0]!, r);
      const sorted = [...merged.values()].sort((x, y) => x[0]! - y[0]!);
      writeFileAtomic(
        join(this.dir, `${key}.csv`),
        `timestamp,open,high,low,close,volume\n${sorted.map((r) => r.join(',')).join('\n')}\n`,
        CACHE_WAY_OUT,
      );
    }
    const covered = mergeRanges([...this.coverage(), range]);
    writeFileAtomic(
      join(this.dir, 'coverage.json'),
      `${JSON.stringify({ timeframe: this.tf, covered }, null, 1)}\n`,
      CACHE_WAY_OUT,
    );
  }

  /** Cached candles with from <= time < to. */
  read(from: number, to: number): Candles {
    const parts: Candles[] = [];
    for (let key = this.chunkKey(from); ; key = this.nextChunk(key)) {
      const c = this.readChunk(key);
      if (c) {
        let s = 0;
        while (s < c.length && c.time[s]! < from) s++;
        let e = s;
        while (e < c.length && c.time[e]! < to) e++;
        if (e > s) parts.push(sliceCandles(c, s, e));
      }
      if (this.chunkStart(this.nextChunk(key)) >= to) break;
    }
    return parts.length > 0 ? concatCandles(parts) : allocCandles(0);
  }

  private readChunk(key: string): Candles | undefined {
    const path = join(this.dir, `${key}.csv`);
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return undefined;
    }
    return parseCandlesCsv(buf, path);
  }

  private chunkKey(t: number): string {
    const d = new Date(t);
    return this.chunkByYear
      ? `${d.getUTCFullYear()}`
      : `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  }

  private chunkStart(key: string): number {
    const [y, m] = key.split('-').map(Number) as [number, number | undefined];
    return Date.UTC(y, (m ?? 1) - 1, 1);
  }

  private nextChunk(key: string): string {
    const start = this.chunkStart(key);
    const d = new Date(start);
    return this.chunkKey(
      this.chunkByYear
        ? Date.UTC(d.getUTCFullYear() + 1, 0, 1)
        : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
    );
  }
}

function mergeRanges(ranges: Range[]): Range[] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
