/** `bosun chart`: a market chart (candles, volume, overlays, oscillators) from a file or an exchange. */
import { join } from 'node:path';
import type { Config } from '../config.js';
import { badInput } from '../errors.js';
import type { Logger } from '../logger.js';
import { timeframeMs, timeframeName } from '../market/timeframe.js';
import { numberOption, parseCommandArgs } from './args.js';
import { CANDLE_SOURCE_OPTIONS, loadCandleSource } from './candles.js';
import { renderChartFile, STYLE_OPTIONS, styleFromArgs } from './charts.js';

export const CHART_USAGE = `Usage: npm run chart -- (--data FILE | [--exchange ID] --symbol SYM --timeframe TF [--from DATE])
  [--timeframe TF] [--bars N] [--indicators ema20,ema50,bb,vwap,rsi,macd] [--out FILE.png]
  [--theme dark|light] [--width PX] [--height PX]`;

const OPTIONS = {
  ...CANDLE_SOURCE_OPTIONS,
  bars: { type: 'string' },
  indicators: { type: 'string' },
  out: { type: 'string' },
  ...STYLE_OPTIONS,
  verbose: { type: 'boolean' },
} as const;

export async function chartCommand(argv: string[], config: Config, logger: Logger): Promise<number> {
  const { values: v } = parseCommandArgs('chart', argv, OPTIONS);
  const { marketChart, parseIndicators, chartStyle, INDICATOR_WARMUP } = await import('../charts/index.js');
  const indicators = parseIndicators(v.indicators ?? '');
  const bars = numberOption('bars', v.bars, 10, 100_000) ?? 120;
  const style = styleFromArgs(v);
  let from = v.from;
  if (v.data === undefined && from === undefined) {
    // From an exchange with no start given: just enough recent history.
    if (!v.timeframe) throw badInput('chart: --timeframe is required with --exchange/--symbol');
    from = String(Date.now() - (bars + INDICATOR_WARMUP + 1) * timeframeMs(v.timeframe));
  }
  const loaded = await loadCandleSource(
    { ...v, ...(from !== undefined ? { from } : {}) },
    config,
    logger,
    INDICATOR_WARMUP,
  );
  const timeframe = timeframeName(loaded.timeframeMs);
  const symbol =
    v.symbol ??
    loaded.source
      .split('/')
      .pop()!
      .replace(/\.(csv|json)$/i, '');
  const doc = marketChart(
    {
      symbol,
      timeframe,
      candles: loaded.candles,
      bars: Math.round(bars),
      indicators,
      ...(v.data === undefined ? { source: v.exchange ?? config.exchange.id } : {}),
    },
    chartStyle(config, style),
  );
  const out =
    v.out ?? join(config.dataDir, 'out', `chart-${symbol.replace(/[^A-Za-z0-9.-]+/g, '-')}-${timeframe}.png`);
  await renderChartFile(doc, out, config);
  console.log(
    `Wrote chart ${out} (${symbol} ${timeframe}, last ${Math.min(Math.round(bars), loaded.candles.length)} bars)`,
  );
  return 0;
}
