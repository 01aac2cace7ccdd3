/** Markets for portfolio tests: the BTC sample and a second market made from it that moves its own way. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCandlesFile } from '../../src/market/load.js';
import { type Candles, scaledCandles, sliceCandles } from '../../src/market/types.js';
import { SAMPLES } from './fixtures.js';

/** The last 1,500 2h candles of the BTC sample, and a second market that moves its own way. */
export function twoMarkets(): { btc: Candles; eth: Candles } {
  const all = loadCandlesFile(join(SAMPLES, 'binance_BTC-USDT_2h.csv'));
  const btc = sliceCandles(all, all.length - 1500, all.length);
  // A different path: 6% of BTC's price, swung by +-15% over about 250 bars.
  const eth = scaledCandles(btc, (i) => 0.06 * (1 + 0.15 * Math.sin(i / 40)));
  return { btc, eth };
}

/** Candles as a CSV file bosun loads: `timestamp,open,high,low,close,volume`. */
export function writeCandles(path: string, c: Candles): string {
  const lines = ['timestamp,open,high,low,close,volume'];
  for (let i = 0; i < c.length; i++)
    lines.push([c.time[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]].join(','));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}
