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
