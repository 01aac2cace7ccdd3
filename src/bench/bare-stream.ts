/**
 * The streaming benches' baseline: a bare ccxt.pro client in the bench's process, subscribed to the
 * same kline streams as bosun, noting when ccxt hands over each kline the bench cares about.
 */
import type { Exchange } from 'ccxt';
import { rewriteApiUrls } from '../market/exchange.js';

/** A kline message's fields the benches read. */
export interface Kline {
  s: string;
  t: number;
  x: boolean;
  l: string;
}

/**
 * Watch `symbols`' 1m klines at `url`; `key` names a kline worth timing (undefined: not one). `seen`
 * holds, per key, when ccxt first read it (epoch ms, fractional).
 */
export async function bareKlines(
  url: string,
  symbols: readonly string[],
  key: (k: Kline) => string | undefined,
): Promise<{ seen: Map<string, number>; stop(): Promise<void> }> {
  const ccxt = (await import('ccxt')).default;
  const bare = new ccxt.pro.binance({ options: { fetchMarkets: { types: ['spot'] } } }) as Exchange;
  rewriteApiUrls(bare, url);
  await bare.loadHttpProxyAgent();
  const seen = new Map<string, number>();
  const internals = bare as unknown as { handleOHLCV: (c: unknown, m: unknown) => unknown };
  const handle = internals.handleOHLCV.bind(bare);
  internals.handleOHLCV = (client, message) => {
    const k = (message as { k?: Kline }).k;
    const name = k ? key(k) : undefined;
    if (name !== undefined && !seen.has(name)) seen.set(name, performance.timeOrigin + performance.now());
    return handle(client, message);
  };
  let watching = true;
  const loops = symbols.map(async (s) => {
    while (watching) await bare.watchOHLCV(s, '1m').catch(() => undefined);
  });
  return {
    seen,
    async stop() {
      watching = false;
      await bare.close().catch(() => undefined);
      await Promise.all(loops);
    },
  };
}
