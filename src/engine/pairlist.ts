/**
 * Market filters (the pairlist): from the exchange's markets and one batched tickers call, keep the
 * spot markets that trade against an allowed quote currency with enough 24h quote volume, a tight
 * enough spread, a 24h range below the volatility limit, enough candle history, and that are not
 * denied; the most liquid `max` of them, by quote volume. Each market left out says why.
 */
import type { PairlistConfig } from '../config.js';
import { badInput } from '../errors.js';

export interface PairlistFilters {
  quotes: string[];
  minVolume: number;
  maxSpread: number;
  maxVolatility: number;
  minHistory: number;
  deny: string[];
  max: number;
}

/** What the filters need of a market and its ticker (ccxt's unified shapes, narrowed). */
export interface MarketInfo {
  symbol: string;
  quote: string;
  active?: boolean | undefined;
  spot?: boolean | undefined;
}
export interface TickerInfo {
  symbol: string;
  bid?: number | undefined;
  ask?: number | undefined;
  high?: number | undefined;
  low?: number | undefined;
  last?: number | undefined;
  quoteVolume?: number | undefined;
}

export interface Pair {
  symbol: string;
  quoteVolume: number;
  spread: number;
  volatility: number;
  last: number;
}

export interface PairlistResult {
  pairs: Pair[];
  dropped: Array<{ symbol: string; reason: string }>;
  /** Engine-clock time of the tickers call. */
  at: number;
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);

export function filtersFrom(c: PairlistConfig): PairlistFilters {
  return {
    quotes: list(c.quotes),
    minVolume: c.minVolume,
    maxSpread: c.maxSpread,
    maxVolatility: c.maxVolatility,
    minHistory: c.minHistory,
    deny: list(c.deny),
    max: c.max,
  };
}

/** What each filter means and allows, for `/pairlist` and its error lines. */
export const FILTER_HELP: Record<keyof PairlistFilters, string> = {
  quotes: 'quote currencies, comma-separated, e.g. USDT,USDC',
  minVolume: 'least 24h quote volume, 0 or more',
  maxSpread: 'largest spread as a share of the mid price, 0 to 1, or a percentage (0.005 = 0.5%)',
  maxVolatility: 'largest 24h (high - low) / low, 0 to 10, or a percentage (0.25 = 25%)',
  minHistory: 'least candles of history, a whole number 0 to 100000',
  deny: 'markets never traded, comma-separated, e.g. LUNA/USDT',
  max: 'most markets kept, a whole number 1 to 500',
};

/** One admin change (`/pairlist minVolume 5000000`), checked, applied to a copy. */
export function setFilter(f: PairlistFilters, key: string, value: string): PairlistFilters {
  const help = FILTER_HELP[key as keyof PairlistFilters];
  if (!help) throw badInput(`unknown filter "${key}"; allowed: ${Object.keys(FILTER_HELP).join(', ')}`);
  const k = key as keyof PairlistFilters;
  if (k === 'quotes' || k === 'deny') {
    const items = list(value === '-' ? '' : value);
    const shape = k === 'quotes' ? /^[A-Z0-9]+$/ : /^[A-Z0-9]+\/[A-Z0-9]+$/;
    const bad = items.find((i) => !shape.test(i));
    if (bad !== undefined || (k === 'quotes' && items.length === 0))
      throw badInput(`${key} "${value}" is not valid; allowed: ${help}`);
    return { ...f, [k]: items };
  }
  // Shares may be written as percentages: maxSpread=0.5% is 0.005.
  const share = (k === 'maxSpread' || k === 'maxVolatility') && /^\s*[\d.]+\s*%\s*$/.test(value);
  const n = share ? Number(value.trim().slice(0, -1)) / 100 : Number(value);
  const [lo, hi, int] = {
    minVolume: [0, 1e13, false],
    maxSpread: [0, 1, false],
    maxVolatility: [0, 10, false],
    minHistory: [0, 100_000, true],
    max: [1, 500, true],
  }[k] as [number, number, boolean];
  if (value.trim() === '' || !Number.isFinite(n) || n < lo || n > hi || (int && !Number.isInteger(n)))
    throw badInput(`${key} is "${value}"; allowed: ${help}`);
  return { ...f, [k]: n };
}

/**
 * Apply the filters. `history(symbol)` gives the candles known for a market (undefined: unknown,
 * which passes, so that a fresh bot does not drop everything before its first download).
 */
export function filterPairs(
  markets: readonly MarketInfo[],
  tickers: Readonly<Record<string, TickerInfo>>,
  f: PairlistFilters,
  at: number,
  history: (symbol: string) => number | undefined = () => undefined,
): PairlistResult {
  const pairs: Pair[] = [];
  const dropped: PairlistResult['dropped'] = [];
  const pct = (x: number) => `${+(x * 100).toFixed(3)}%`;
  for (const m of markets) {
    const drop = (reason: string) => dropped.push({ symbol: m.symbol, reason });
    if (m.spot === false || m.active === false) continue;
    if (!f.quotes.includes(m.quote.toUpperCase())) continue;
    if (f.deny.includes(m.symbol)) {
      drop('on the deny list');
      continue;
    }
    const t = tickers[m.symbol];
    const bid = t?.bid;
    const ask = t?.ask;
    const last = t?.last ?? (bid !== undefined && ask !== undefined ? (bid + ask) / 2 : undefined);
    if (!t || last === undefined || !(last > 0)) {
      drop('no ticker');
      continue;
    }
    const volume = t.quoteVolume ?? 0;
    if (volume < f.minVolume) {
      drop(
        `24h volume ${Math.round(volume).toLocaleString('en-US')} ${m.quote} below ${f.minVolume.toLocaleString('en-US')}`,
      );
      continue;
    }
    const spread =
      bid !== undefined && ask !== undefined && bid > 0
        ? (ask - bid) / ((ask + bid) / 2)
        : Number.POSITIVE_INFINITY;
    if (!(spread <= f.maxSpread)) {
      drop(Number.isFinite(spread) ? `spread ${pct(spread)} above ${pct(f.maxSpread)}` : 'no bid/ask');
      continue;
    }
    const volatility =
      t.high !== undefined && t.low !== undefined && t.low > 0 ? (t.high - t.low) / t.low : 0;
    if (volatility > f.maxVolatility) {
      drop(`24h range ${pct(volatility)} above ${pct(f.maxVolatility)}`);
      continue;
    }
    const bars = history(m.symbol);
    if (bars !== undefined && bars < f.minHistory) {
      drop(`${bars} candles of history, below ${f.minHistory}`);
      continue;
    }
    pairs.push({ symbol: m.symbol, quoteVolume: volume, spread, volatility, last });
  }
  pairs.sort((a, b) => b.quoteVolume - a.quoteVolume || (a.symbol < b.symbol ? -1 : 1));
  for (const p of pairs.splice(f.max))
    dropped.push({ symbol: p.symbol, reason: `beyond the top ${f.max} by volume` });
  return { pairs, dropped, at };
}

/** The exchange calls the pairlist needs: markets once, then all tickers in one request. */
export interface TickerSource {
  loadMarkets(): Promise<Record<string, MarketInfo>>;
  fetchTickers(): Promise<Record<string, TickerInfo>>;
}

export async function refreshPairlist(
  ex: TickerSource,
  f: PairlistFilters,
  at: number,
  history?: (symbol: string) => number | undefined,
): Promise<PairlistResult> {
  const markets = Object.values(await ex.loadMarkets());
  const tickers = await ex.fetchTickers();
  return filterPairs(markets, tickers, f, at, history);
}
