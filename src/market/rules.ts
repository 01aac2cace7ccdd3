/**
 * An exchange's trading rules for one market: the amount step (lot size), the price tick, the
 * minimum amount and the minimum order value (notional). Simulated fills (backtests and the paper
 * broker) obey them, so a small account's backtest does not promise fills the exchange would refuse;
 * the live broker gets the same rules from ccxt itself.
 *
 * Where they come from, first found wins:
 * 1. the exchange's markets through ccxt (`rulesOfMarket`), cached beside the candles under
 *    `DATA_DIR/cache/markets/EXCHANGE.json` whenever candles are downloaded;
 * 2. the rules bundled with the samples, `data/samples/markets.json`.
 * A market with no known rules fills unrounded, and every summary says which applied.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Market } from 'ccxt';
import { z } from 'zod';
import { ensureDir, writeFileAtomic } from '../store/atomic.js';

export interface MarketRules {
  /** Amounts are whole multiples of this (base currency); 0: any amount. */
  amountStep: number;
  /** Prices of resting orders (limits, stops, targets) are whole multiples of this; 0: any price. */
  priceStep: number;
  /** Smallest amount an order may have (base currency); 0: none. */
  minAmount: number;
  /** Smallest order value, amount x price (quote currency); 0: none. */
  minNotional: number;
  /** Where the rules came from, for a person: `binance, 2026-11-30` (its markets that day), `binance, bundled`. */
  source: string;
}

const positive = z.number().finite().min(0);
const rulesSchema = z.object({
  amountStep: positive,
  priceStep: positive,
  minAmount: positive,
  minNotional: positive,
});
const fileSchema = z.object({
  exchange: z.string(),
  updatedAt: z.string().optional(),
  markets: z.record(z.string(), rulesSchema),
});
const bundledSchema = z.record(z.string(), z.record(z.string(), rulesSchema));

/** ccxt's precision modes (ccxt/js/src/base/functions/number.js). */
const DECIMAL_PLACES = 2;
const TICK_SIZE = 4;

/** A ccxt precision as a step: a tick size as is, a count of decimals as 10^-n; else none. */
function stepOf(precision: number | undefined, mode: number): number {
  if (precision === undefined || !(precision >= 0)) return 0;
  if (mode === TICK_SIZE) return precision;
  if (mode === DECIMAL_PLACES) return Number(`1e-${precision}`);
  return 0;
}

/** The rules of a ccxt market (after `loadMarkets`). */
export function rulesOfMarket(m: NonNullable<Market>, precisionMode: number, source: string): MarketRules {
  return {
    amountStep: stepOf(m.precision.amount, precisionMode),
    priceStep: stepOf(m.precision.price, precisionMode),
    minAmount: m.limits.amount?.min ?? 0,
    minNotional: m.limits.cost?.min ?? 0,
    source,
  };
}

/** Decimals of a step (0.00001 -> 5, 0.5 -> 1, 1e-8 -> 8), so results print as the exchange writes them. */
function decimalsOf(step: number): number {
  const [mantissa, exp] = step.toExponential().split('e') as [string, string];
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exp));
}

/**
 * `x` down to a whole number of steps (an amount is never rounded up: the account sized it as the
 * most it may buy). A hair under a step (float noise, 0.3 / 0.1 = 2.9999999999999996) counts as the step.
 */
export function floorToStep(x: number, step: number): number {
  if (!(step > 0)) return x;
  const n = Math.floor(x / step + 1e-9);
  return Number((n * step).toFixed(decimalsOf(step)));
}

/** `x` to the nearest whole number of steps (a resting order's price, as ccxt's priceToPrecision). */
export function roundToStep(x: number, step: number): number {
  if (!(step > 0) || !Number.isFinite(x)) return x;
  return Number((Math.round(x / step) * step).toFixed(decimalsOf(step)));
}

/** How a refusal under the exchange's minimums begins (counted apart in backtests). */
export const BELOW_MINIMUM = "below the exchange's minimum";

/**
 * The amount an order of `quantity` at `price` may have under the rules: down to the step, then
 * checked against the minimum amount and the minimum order value. A string says why none may be sent.
 */
export function fitAmount(quantity: number, price: number, rules: MarketRules | undefined): number | string {
  if (!rules) return quantity;
  const amount = floorToStep(quantity, rules.amountStep);
  const min = Math.max(rules.minAmount, rules.amountStep);
  if (!(amount > 0) || amount < min)
    return `${BELOW_MINIMUM} amount: ${+quantity.toPrecision(6)} < ${min} (${rules.source})`;
  if (amount * price < rules.minNotional)
    return `${BELOW_MINIMUM} order value: ${+(amount * price).toPrecision(10)} < ${rules.minNotional} (${rules.source})`;
  return amount;
}

/**
 * The rules in a few words, for a summary line that a phone shows:
 * `0.00001 BTC steps, min 5 USDT, tick 0.01 (binance, bundled)`. `null`: turned off.
 */
export function describeRules(symbol: string, rules: MarketRules | null | undefined): string {
  if (rules === null) return 'off (--exchange-rules off): fills are not rounded';
  if (!rules) return `none known for ${symbol}: fills are not rounded`;
  const [base, quote] = symbol.split(/[/:]/);
  const parts = [
    rules.amountStep > 0 ? `${rules.amountStep} ${base} steps` : 'any amount',
    rules.minAmount > rules.amountStep ? `min ${rules.minAmount} ${base}` : '',
    rules.minNotional > 0 ? `min ${rules.minNotional} ${quote}` : '',
    rules.priceStep > 0 ? `tick ${rules.priceStep}` : '',
  ].filter(Boolean);
  return `${parts.join(', ')} (${rules.source})`;
}

/** The cache file of an exchange's rules under DATA_DIR. */
function cacheFile(dataDir: string, exchange: string): string {
  return join(dataDir, 'cache', 'markets', `${exchange}.json`);
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Keep the rules of `symbols` in the exchange's cache file (merged with what it has), so a backtest
 * on cached candles knows them offline. Written to a temporary name and renamed.
 */
export function cacheRules(dataDir: string, exchange: string, rules: Record<string, MarketRules>): void {
  const file = cacheFile(dataDir, exchange);
  const old = fileSchema.safeParse(readJson(file));
  const markets = { ...(old.success ? old.data.markets : {}) };
  for (const [symbol, r] of Object.entries(rules)) {
    const { source: _source, ...values } = r;
    markets[symbol] = values;
  }
  ensureDir(join(dataDir, 'cache', 'markets'), { elsewhere: 'set DATA_DIR to a writable directory' });
  const doc = { exchange, updatedAt: new Date().toISOString(), markets };
  writeFileAtomic(file, `${JSON.stringify(doc, null, 1)}\n`, {
    elsewhere: 'set DATA_DIR to a writable directory',
  });
}

/**
 * The known rules of a market on an exchange: from the cache under `dataDir`, else from the bundled
 * sample rules in `samplesDir`; undefined when neither has them. A damaged file counts as absent.
 */
export function knownRules(
  exchange: string,
  symbol: string,
  dirs: { dataDir?: string; samplesDir: string },
): MarketRules | undefined {
  if (dirs.dataDir !== undefined) {
    const cached = fileSchema.safeParse(readJson(cacheFile(dirs.dataDir, exchange)));
    const r = cached.success ? cached.data.markets[symbol] : undefined;
    if (r) {
      const day = cached.success ? cached.data.updatedAt?.slice(0, 10) : undefined;
      return { ...r, source: `${exchange}${day ? `, ${day}` : ''}` };
    }
  }
  const bundled = bundledSchema.safeParse(readJson(join(dirs.samplesDir, 'markets.json')));
  const r = bundled.success ? bundled.data[exchange]?.[symbol] : undefined;
  return r ? { ...r, source: `${exchange}, bundled` } : undefined;
}
