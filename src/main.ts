/**
 * bosun's composition root: config -> logger -> market data -> engine -> chat adapters.
 *
 * With nothing configured it runs offline on its embedded defaults. Until the chat adapters land
 * (the chat issue), that is a demo: a backtest of the bundled BTC/USDT sample with the default
 * strategy, its summary, and its chart written under DATA_DIR/out/.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runBacktest } from './backtest/run.js';
import { candleInfo, summaryRows } from './backtest/summary.js';
import { backtestChart, chartStyle } from './charts/index.js';
import { printRows } from './cli/backtest.js';
import { renderChartFile } from './cli/charts.js';
import { loadConfig, secretValues } from './config.js';
import { toAppError } from './errors.js';
import { createLogger } from './logger.js';
import { describeGaps, findGaps } from './market/gaps.js';
import { loadCandlesFile } from './market/load.js';
import { inferTimeframeMs } from './market/timeframe.js';
import { loadStrategy } from './strategy/registry.js';

export async function main(): Promise<number> {
  const config = loadConfig();
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    secrets: secretValues(config),
  });
  logger.info(
    { mode: config.tradingMode, dataDir: config.dataDir },
    'bosun starting (offline demo: no chat configured)',
  );

  const strategy = await loadStrategy(config.demo.strategy);
  const candles = loadCandlesFile(config.demo.data);
  const tfMs = inferTimeframeMs(candles.time)!;
  const result = runBacktest(strategy, {}, candles, {
    capital: config.backtest.capital,
    fee: config.backtest.fee,
    slippageBps: config.backtest.slippageBps,
    timeframeMs: tfMs,
  });
  console.log(`bosun offline demo: backtest of ${config.demo.data}\n`);
  printRows(summaryRows(result, candleInfo(result, config.demo.data, 'BTC/USDT')));
  console.log(`${'Gaps'.padEnd(18)}${describeGaps(findGaps(candles.time, tfMs), tfMs)}`);
  const chartPath = join(config.dataDir, 'out', 'demo-backtest.png');
  try {
    await renderChartFile(
      backtestChart({ result, symbol: 'BTC/USDT' }, chartStyle(config)),
      chartPath,
      config,
    );
    console.log(`${'Chart'.padEnd(18)}${chartPath}`);
  } catch (err) {
    // The demo's numbers stand without the picture; say why it is missing.
    console.log(`${'Chart'.padEnd(18)}not drawn: ${toAppError(err).message}`);
  }
  console.log(
    '\nTry: npm run backtest -- --strategy rsi-reversion --data data/samples/binance_BTC-USDT_2h.csv',
  );
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      const e = toAppError(err);
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = e.isUserError ? 2 : 1;
    },
  );
}
