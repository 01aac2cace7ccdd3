import { basename } from 'node:path';

/**
 * A market symbol's parts, in ccxt's unified notation: `BASE/QUOTE`, with `:SETTLE` for derivatives
 * (`BTC/USDT:USDT`). The one place that reads them.
 */

/** `BTC/USDT` -> `BTC`. */
export function baseOf(symbol: string): string {
  return symbol.split('/')[0]!;
}

/** `BTC/USDT` -> `USDT`, `BTC/USDT:USDT` -> `USDT`; a symbol without a slash is its own quote. */
export function quoteOf(symbol: string): string {
  return (symbol.split('/')[1] ?? symbol).split(':')[0]!;
}

/** The market a candle file holds, from its name (`binance_BTC-USDT_1h.csv` -> `BTC/USDT`). */
/** The exchange a candle file names (`binance_BTC-USDT_1h.csv` -> binance), if it follows the pattern. */
export function exchangeFromFileName(file: string): string | undefined {
  return /^([a-z0-9-]+)_[A-Z0-9]+-[A-Z0-9]+_/.exec(basename(file))?.[1];
}

export function symbolFromFileName(file: string): string | undefined {
  const m = /^[a-z0-9-]+_([A-Z0-9]+)-([A-Z0-9]+)_/.exec(basename(file));
  return m ? `${m[1]}/${m[2]}` : undefined;
}
