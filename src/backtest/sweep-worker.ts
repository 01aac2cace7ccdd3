/** A sweep worker thread: receives the candles once, then runs one backtest per job message. */
import { parentPort, workerData } from 'node:worker_threads';
import { toAppError } from '../errors.js';
import { sliceCandles } from '../market/types.js';
import { parseParams } from '../strategy/params.js';
import { loadStrategy } from '../strategy/registry.js';
import { runBacktest } from './run.js';
import { candleInfo, resultJson } from './summary.js';
import { type WorkerInit, type WorkerJob, type WorkerReply, warmupStart } from './sweep.js';

const init = workerData as WorkerInit;
const strategy = await loadStrategy(init.strategy);
const { settings } = init;

parentPort!.on('message', (job: WorkerJob) => {
  let reply: WorkerReply;
  try {
    const candles = sliceCandles(
      init.candles,
      warmupStart(init.candles, job.tradeFrom, strategy.warmup(parseParams(strategy, job.params))),
      job.end,
    );
    const result = runBacktest(strategy, job.params, candles, {
      capital: settings.capital,
      fee: settings.fee,
      ...(settings.maker !== undefined ? { maker: settings.maker } : {}),
      slippageBps: settings.slippageBps,
      ...(settings.market ? { market: settings.market } : {}),
      ...(settings.entry ? { entry: settings.entry } : {}),
      ...(settings.sizing ? { sizing: settings.sizing } : {}),
      ...(settings.direction ? { direction: settings.direction } : {}),
      exits: settings.exits,
      timeframeMs: settings.timeframeMs,
      ...(job.tradeFrom !== undefined ? { tradeFrom: job.tradeFrom } : {}),
    });
    const json = resultJson(result, candleInfo(result, settings.source, settings.symbol));
    reply = { id: job.id, ok: true, params: json.params, metrics: json.metrics };
  } catch (err) {
    reply = { id: job.id, ok: false, error: toAppError(err).message };
  }
  parentPort!.postMessage(reply);
});
