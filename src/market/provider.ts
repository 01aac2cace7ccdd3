/**
 * Candles for chat commands and the engine: from the exchange through ccxt (with the disk cache, so
 * a range is fetched once), or from the samples bundled with bosun when the exchange cannot be
 * reached or `MARKET_DATA=samples`. Every answer says where its candles came from.
 *
 * A sample is old data. It may answer a person who asked for a backtest or a chart (the answer says
 * so), but a decision (`decision: true`: the regime, the scanner) takes one only when it reaches the
 * time asked for (a replay's clock inside its span) or `MARKET_DATA=samples` chose the samples;
 * never in place of now.
 */
import { readdirSync } from 'node:fs';
import type { Exchange } from 'ccxt';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SAMPLES_DIR } from '../paths.js';
import { loadCandlesFile } from './load.js';
import { knownRules, type MarketRules } from './rules.js';
import { closedOnly, resample } from './resample.js';
import { isoTime, spanName, timeframeMs, timeframeName } from './timeframe.js';
import { type Candles, indexAtOrAfter, sliceCandles } from './types.js';

export interface CandleRequest {
  symbol: string;
  timeframe: string;
  /** How far back from the end (now, or the sample's last candle), in ms. */
  period: number;
  /** Candles up to this time only (epoch ms; default: now, or the sample's end). */
  until?: number;
  /** Extra bars wanted before the period, so indicators are warm when it starts. */
  warmupBars?: number;
  signal?: AbortSignal;
  /** 0..1 while downloading. */
  onProgress?: (fraction: number) => void;
  /**
   * The candles feed a decision (regime, scanner): no bundled sample that ends before `until` (now,
   * off a replay), unless MARKET_DATA=samples; else a NETWORK error saying there is no market data.
   */
  decision?: boolean;
}

export interface CandleAnswer {
  candles: Candles;
  timeframeMs: number;
  /** The first bar of the period proper (bars before it are warm-up). */
  from: number;
  /** Where the candles came from, for a person: "binance (cache)", "bundled sample ...". */
  source: string;
  /** Set when the answer is not what was asked for in full (offline fallback, short history). */
  note?: string;
  /** The market's exchange rules, when known (a sample: the rules bundled with it). */
  rules?: MarketRules;
}

export interface Sample {
  file: string;
  exchange: string;
  symbol: string;
  timeframeMs: number;
}

/** How long the exchange counts as unreachable after a network failure, in `auto` mode. */
const OFFLINE_MS = 5 * 60_000;

export class MarketData {
  private offlineUntil = 0;
  private readonly loaded = new Map<string, Candles>();
  private sampleList: Sample[] | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly samplesDir = SAMPLES_DIR,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The bundled samples, from their file names (`exchange_BASE-QUOTE_tf[_rest].csv`). They ship with
   * bosun, so the directory is read once (completion asks on every keystroke).
   */
  samples(): Sample[] {
    this.sampleList ??= this.readSamples();
    return this.sampleList;
  }

  private readSamples(): Sample[] {
    const out: Sample[] = [];
    for (const file of readdirSync(this.samplesDir).sort()) {
      const m = /^([a-z0-9-]+)_([A-Z0-9]+)-([A-Z0-9]+)_(\d+[mhdw])(?:_.*)?\.csv$/.exec(file);
      if (!m) continue;
      out.push({
        file: join(this.samplesDir, file),
        exchange: m[1]!,
        symbol: `${m[2]}/${m[3]}`,
        timeframeMs: timeframeMs(m[4]!),
      });
    }
    return out;
  }

  /**
   * The exchange's ccxt client for markets, tickers and order books, or undefined when the
   * configuration keeps bosun on the bundled samples. For a decision it is asked again even while a
   * recent failure marked it offline: a decision waits for the exchange, it never takes a sample.
   */
  async exchange(decision = false): Promise<Exchange | undefined> {
    if (this.config.marketData === 'samples') return undefined;
    if (this.config.marketData === 'auto' && !decision && this.now() < this.offlineUntil) return undefined;
    const { getExchange } = await import('./exchange.js');
    return getExchange(this.config.exchange.id, this.config.exchange.apiUrl);
  }

  /** After a network failure in `auto` mode, treat the exchange as unreachable for a while. */
  markOffline(): void {
    if (this.config.marketData === 'auto') this.offlineUntil = this.now() + OFFLINE_MS;
  }

  /**
   * The exchange's rules of a market (amount step, minimums, price tick), when known: cached from the
   * exchange's markets, else bundled with the samples. Read from disk each time (a small file).
   */
  rules(symbol: string, exchange = this.config.exchange.id): MarketRules | undefined {
    return knownRules(exchange, symbol, { dataDir: this.config.dataDir, samplesDir: this.samplesDir });
  }

  /** Symbols with a bundled sample. */
  sampleSymbols(): string[] {
    return [...new Set(this.samples().map((s) => s.symbol))];
  }

  async candles(req: CandleRequest): Promise<CandleAnswer> {
    const tfMs = timeframeMs(req.timeframe);
    const mode = this.config.marketData;
    if (mode === 'samples') return this.fromSamples(req, tfMs, 'MARKET_DATA=samples');
    if (req.decision) return this.forDecision(req, tfMs);
    if (mode === 'auto' && this.now() < this.offlineUntil)
      return this.fromSamples(req, tfMs, `${this.config.exchange.id} unreachable`);
    try {
      return await this.fromExchange(req, tfMs, mode === 'auto' ? 1 : 5);
    } catch (err) {
      const e = toAppError(err);
      if (mode !== 'auto' || e.code !== 'NETWORK') throw e;
      this.offlineUntil = this.now() + OFFLINE_MS;
      this.logger.warn({ error: e.message }, 'exchange unreachable; using the bundled samples');
      return this.fromSamples(req, tfMs, `${this.config.exchange.id} unreachable`);
    }
  }

  /**
   * The exchange; while it is unreachable (MARKET_DATA=auto), a bundled sample only if it reaches the
   * time asked for (a replay's clock inside its span), never one that ended before: else one line
   * saying there is no market data yet. The exchange is asked again on every call.
   */
  private async forDecision(req: CandleRequest, tfMs: number): Promise<CandleAnswer> {
    const mode = this.config.marketData;
    const until = Math.min(this.now(), req.until ?? Number.POSITIVE_INFINITY);
    const why = `${this.config.exchange.id} unreachable`;
    /** A sample that reaches `until`, or undefined. */
    const covering = (): CandleAnswer | undefined => {
      let sample: CandleAnswer;
      try {
        sample = this.fromSamples(req, tfMs, why);
      } catch {
        return undefined;
      }
      const c = sample.candles;
      const end = c.length > 0 ? c.time[c.length - 1]! + tfMs : Number.NEGATIVE_INFINITY;
      return until - end < 2 * tfMs ? sample : undefined;
    };
    // A read of the past (a replay's clock) while the exchange was just found unreachable: a sample
    // of that time answers at once. A read of now always asks the exchange again.
    const past = this.now() - until >= 2 * tfMs;
    if (mode === 'auto' && past && this.now() < this.offlineUntil) {
      const sample = covering();
      if (sample) return sample;
    }
    try {
      return await this.fromExchange(req, tfMs, mode === 'auto' ? 1 : 5);
    } catch (err) {
      const e = toAppError(err);
      if (e.code !== 'NETWORK') throw e;
      this.markOffline();
      const sample = mode === 'auto' ? covering() : undefined;
      if (sample) return sample;
      throw new AppError('NETWORK', noMarketData(this.config.exchange.id, e.message), { cause: err });
    }
  }

  private async fromExchange(req: CandleRequest, tfMs: number, retries: number): Promise<CandleAnswer> {
    const { downloadCandles } = await import('./download.js');
    const end = Math.min(this.now(), req.until ?? Number.POSITIVE_INFINITY);
    const start = end - req.period;
    const warmFrom = start - (req.warmupBars ?? 0) * tfMs;
    const result = await downloadCandles(
      {
        exchange: this.config.exchange.id,
        symbol: req.symbol,
        timeframe: req.timeframe,
        from: warmFrom,
        to: end,
      },
      {
        dataDir: this.config.dataDir,
        logger: this.logger,
        retries,
        backoffMs: 300,
        ...(this.config.exchange.apiUrl ? { apiUrl: this.config.exchange.apiUrl } : {}),
        ...(req.onProgress
          ? { onProgress: (t: number) => req.onProgress!(Math.min(1, (t - warmFrom) / (end - warmFrom))) }
          : {}),
      },
    );
    if (result.candles.length === 0)
      throw new AppError(
        'NOT_FOUND',
        `${this.config.exchange.id} has no ${req.symbol} ${req.timeframe} candles in the last ${spanName(req.period)}`,
      );
    const cached = result.fetched === 0 ? 'cache' : `${result.fetched} candles fetched`;
    const rules = this.rules(req.symbol);
    return {
      candles: result.candles,
      timeframeMs: tfMs,
      from: start,
      source: `${this.config.exchange.id} (${cached})`,
      ...(rules ? { rules } : {}),
    };
  }

  private fromSamples(req: CandleRequest, tfMs: number, why: string): CandleAnswer {
    const all = this.samples();
    const forSymbol = all.filter((s) => s.symbol === req.symbol.toUpperCase());
    if (forSymbol.length === 0) {
      throw new AppError(
        'NOT_FOUND',
        `${why}, and there is no bundled sample for ${req.symbol}; bundled: ${this.sampleSymbols().join(', ')}`,
      );
    }
    const usable = forSymbol.filter((s) => tfMs % s.timeframeMs === 0);
    if (usable.length === 0) {
      const tfs = [...new Set(forSymbol.map((s) => timeframeName(s.timeframeMs)))].join(', ');
      throw new AppError(
        'BAD_INPUT',
        `${why}; the bundled ${req.symbol} samples are ${tfs}, which cannot make ${req.timeframe}; allowed: a multiple of one of them`,
      );
    }
    // The coarsest sample that divides the timeframe covers the longest history for the fewest bars.
    usable.sort((a, b) => b.timeframeMs - a.timeframeMs);
    const sample = usable[0]!;
    let candles = this.loaded.get(sample.file);
    if (!candles) {
      candles = loadCandlesFile(sample.file);
      this.loaded.set(sample.file, candles);
    }
    if (tfMs !== sample.timeframeMs) candles = closedOnly(resample(candles, sample.timeframeMs, tfMs));
    // Only candles closed by `until`.
    if (req.until !== undefined)
      candles = sliceCandles(candles, 0, indexAtOrAfter(candles.time, req.until - tfMs + 1));
    if (candles.length === 0)
      throw new AppError(
        'NOT_FOUND',
        `the bundled ${req.symbol} sample has no whole ${req.timeframe} candles`,
      );
    const end = candles.time[candles.length - 1]! + tfMs;
    const start = Math.max(candles.time[0]!, end - req.period);
    const startIdx = indexAtOrAfter(candles.time, start);
    const sliced = sliceCandles(candles, Math.max(0, startIdx - (req.warmupBars ?? 0)), candles.length);
    const short =
      end - req.period < candles.time[0]!
        ? `; the sample starts ${isoTime(candles.time[0]!).slice(0, 10)}`
        : '';
    const rules = knownRules(sample.exchange, sample.symbol, { samplesDir: this.samplesDir });
    return {
      candles: sliced,
      timeframeMs: tfMs,
      from: candles.time[startIdx] ?? start,
      ...(rules ? { rules } : {}),
      source: `bundled sample ${sample.exchange} ${sample.symbol} ${timeframeName(sample.timeframeMs)}`,
      note: `${why}: bundled sample, ending ${isoTime(end).slice(0, 10)}${short}`,
    };
  }
}

/** Why a decision has no data: the exchange has not answered (the samples are not taken for now). */
export function noMarketData(exchange: string, error: string): string {
  const cause = error.split('\n')[0]!.split(' <')[0]!;
  return `no market data yet: ${exchange} unreachable (${cause.length > 120 ? `${cause.slice(0, 119)}…` : cause})`;
}
