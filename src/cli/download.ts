/** `bosun download`: fetch candles into the cache (and optionally a file), report what came and the gaps. */
import { writeFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { badInput } from '../errors.js';
import type { Logger } from '../logger.js';
import { isoTime } from '../market/timeframe.js';
import { parseCommandArgs } from './args.js';
import { CANDLE_SOURCE_OPTIONS, loadCandleSource } from './candles.js';

export const DOWNLOAD_USAGE =
  'Usage: npm run download -- [--exchange ID] --symbol SYM --timeframe TF --from DATE [--to DATE] [--out FILE.csv]';

// Every candle-source option but --data: downloading reads from an exchange.
const { data: _data, ...EXCHANGE_OPTIONS } = CANDLE_SOURCE_OPTIONS;
const OPTIONS = {
  ...EXCHANGE_OPTIONS,
  out: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

export async function downloadCommand(argv: string[], config: Config, logger: Logger): Promise<number> {
  const { values: v } = parseCommandArgs('download', argv, OPTIONS);
  if (!v.symbol || !v.timeframe || !v.from)
    throw badInput('download: --symbol, --timeframe and --from are required (see --help)');
  const loaded = await loadCandleSource({ ...v, exchange: v.exchange ?? config.exchange.id }, config, logger);
  const c = loaded.candles;
  console.log(
    `${loaded.source}: ${c.length.toLocaleString('en-US')} candles, ${isoTime(c.time[0]!)} .. ${isoTime(c.time[c.length - 1]!)}; ${loaded.gaps}`,
  );
  if (v.out) {
    const lines = ['timestamp,open,high,low,close,volume'];
    for (let i = 0; i < c.length; i++)
      lines.push(`${c.time[i]},${c.open[i]},${c.high[i]},${c.low[i]},${c.close[i]},${c.volume[i]}`);
    writeFileSync(v.out, `${lines.join('\n')}\n`);
    console.log(`Wrote ${v.out}`);
  }
  return 0;
}
