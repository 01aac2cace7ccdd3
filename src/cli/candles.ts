/** Where a command's candles come from: a file (--data) or an exchange download (--exchange ...). */
import type { Config } from '../config.js';
import { badInput } from '../errors.js';
import type { Logger } from '../logger.js';
import { describeGaps, findGaps } from '../market/gaps.js';
import { loadCandlesFile } from '../market/load.js';
import { closedOnly, resample } from '../market/resample.js';
import { exchangeFromFileName, symbolFromFileName } from '../market/symbol.js';
import { inferTimeframeMs, parseDate, timeframeMs, timeframeName } from '../market/timeframe.js';
import { type Candles, indexAtOrAfter, sliceCandles } from '../market/types.js';

/** The options that choose candles, shared by every command that loads them. */
export const CANDLE_SOURCE_OPTIONS = {
  data: { type: 'string' },
  exchange: { type: 'string' },
  symbol: { type: 'string' },
  timeframe: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
} as const;

export interface CandleSourceArgs {
  data?: string;
  exchange?: string;
  symbol?: string;
  timeframe?: string;
  from?: string;
  to?: string;
}

export interface LoadedCandles {
  candles: Candles;
  timeframeMs: number;
  source: string;
  symbol?: string;
  /** The exchange the candles are from: --exchange, the configured one, or the file's name. */
  exchange?: string;
  /** Start of the requested range, when one was given. */
  from?: number;
  gaps: string;
}

/**
 * Load candles for a command. `warmupBars` more bars are kept (or fetched) before --from so that
 * indicators are warm when trading starts.
 */
export async function loadCandleSource(
  args: CandleSourceArgs,
  config: Config,
  logger: Logger,
  warmupBars = 0,
): Promise<LoadedCandles> {
  const from = args.from !== undefined ? parseDate(args.from, '--from') : undefined;
  const to = args.to !== undefined ? parseDate(args.to, '--to') : undefined;
  if (from !== undefined && to !== undefined && to <= from) throw badInput('--to must be after --from');

  let candles: Candles;
  let tfMs: number;
  let source: string;
  if (args.data !== undefined) {
    if (args.exchange !== undefined) throw badInput('give either --data FILE or --exchange, not both');
    candles = loadCandlesFile(args.data);
    source = args.data;
    const dataMs = inferTimeframeMs(candles.time);
    if (dataMs === undefined) throw badInput(`${args.data}: has a single candle; at least 2 are needed`);
    tfMs = dataMs;
    if (args.timeframe !== undefined) {
      const wanted = timeframeMs(args.timeframe);
      if (wanted !== dataMs) {
        if (wanted < dataMs || wanted % dataMs !== 0) {
          throw badInput(
            `${args.data} holds ${timeframeName(dataMs)} candles, which cannot serve ${args.timeframe}; allowed: ${timeframeName(dataMs)} or a multiple of it`,
          );
        }
        candles = closedOnly(resample(candles, dataMs, wanted));
        tfMs = wanted;
      }
    }
    const startIdx = from === undefined ? 0 : Math.max(0, indexAtOrAfter(candles.time, from) - warmupBars);
    const endIdx = to === undefined ? candles.length : indexAtOrAfter(candles.time, to);
    candles = sliceCandles(candles, startIdx, endIdx);
    if (candles.length === 0) throw badInput(`${args.data} has no candles between --from and --to`);
  } else if (args.exchange !== undefined || args.symbol !== undefined) {
    if (!args.symbol || !args.timeframe || from === undefined) {
      throw badInput(
        'downloading needs --symbol, --timeframe and --from (and optionally --exchange and --to)',
      );
    }
    tfMs = timeframeMs(args.timeframe);
    const { downloadCandles } = await import('../market/download.js');
    const exchange = args.exchange ?? config.exchange.id;
    const result = await downloadCandles(
      {
        exchange,
        symbol: args.symbol,
        timeframe: args.timeframe,
        from: from - warmupBars * tfMs,
        to: to ?? Date.now(),
      },
      {
        dataDir: config.dataDir,
        logger,
        ...(config.exchange.apiUrl ? { apiUrl: config.exchange.apiUrl } : {}),
      },
    );
    candles = result.candles;
    source = `${exchange} ${args.symbol} ${args.timeframe}${result.fetched > 0 ? ` (${result.fetched} fetched)` : ' (from cache)'}`;
    if (candles.length === 0)
      throw badInput(`${exchange} has no ${args.symbol} ${args.timeframe} candles in that range`);
  } else {
    throw badInput(
      'no candles: give --data FILE, or --exchange ID --symbol SYMBOL --timeframe TF --from DATE',
    );
  }
  // The market: as given, or read from the file's name.
  const symbol = args.symbol ?? (args.data !== undefined ? symbolFromFileName(args.data) : undefined);
  const exchange =
    args.data !== undefined ? exchangeFromFileName(args.data) : (args.exchange ?? config.exchange.id);
  return {
    candles,
    timeframeMs: tfMs,
    source,
    ...(symbol ? { symbol } : {}),
    ...(exchange ? { exchange } : {}),
    ...(from !== undefined ? { from } : {}),
    gaps: describeGaps(findGaps(candles.time, tfMs), tfMs),
  };
}
