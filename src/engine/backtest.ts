/**
 * A backtest under the engine's rules (`--rules engine`): what a run would have done. The candles go
 * through the engine's own per-candle step (`stepSeries`: the same fills, the risk manager and its
 * sizing, the strategy's risk limits, cooldowns, the daily loss limit, the drawdown kill-switch),
 * on a paper account kept in memory, with auto approval; the regime gate reads the regime from the
 * candles themselves through the market watch, at each REGIME_TIMEFRAME close, as a replay does.
 * So a replay of the same candles with auto approval makes exactly these trades.
 *
 * The strategy is evaluated as the engine evaluates it: on the last `bufferBars` candles at each
 * bar (computed once over all candles when they are fewer, which gives the same values since no
 * strategy looks ahead).
 */
import type { FillCosts } from '../backtest/fills.js';
import { computeMetrics } from '../backtest/metrics.js';
import { type BacktestResult, checkSignals, informativeSeries, sliceSignals } from '../backtest/run.js';
import type { RulesReport, Simulation, Trade } from '../backtest/types.js';
import type { Config } from '../config.js';
import { AppError, badInput, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MarketData } from '../market/provider.js';
import { closedOnly, resample } from '../market/resample.js';
import { quoteOf } from '../market/symbol.js';
import { timeframeMs, timeframeName } from '../market/timeframe.js';
import { type Candles, candleAt, indexAtOrAfter, sliceCandles } from '../market/types.js';
import type { Signals, Strategy } from '../strategy/define.js';
import { memoryState, type RunRecord, type State, type WorkingSet } from '../store/state.js';
import { Accounts } from './account.js';
import type { EngineSettings, RegimeGate, Runtime } from './context.js';
import type { EngineEvent } from './events.js';
import { TimeSlice } from './feed.js';
import { MarketWatch } from './market-watch.js';
import { PaperBroker } from './paper.js';
import { describeRisk, parseRiskSettings } from './risk.js';
import { runtimeOf } from './runs.js';
import { type SeriesContext, stepSeries } from './step.js';

export interface EngineRulesOptions {
  /** The configuration whose risk, regime and time zone settings the engine trades with. */
  config: Readonly<Config>;
  /** The risk settings in force, when they differ from the configured ones (`/risk` changes). */
  risk?: Readonly<Record<string, unknown>>;
  logger: Logger;
  symbol: string;
  capital: number;
  fee: number;
  slippageBps: number;
  timeframeMs: number;
  /** Trade from this time on; earlier candles only warm the strategy up. */
  tradeFrom?: number;
  /** Candles the engine keeps per series (default 5000, the engine's). */
  bufferBars?: number;
  onProgress?: (done: number) => void;
}

const RUN_ID = 'R1';

export async function engineBacktest(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  candles: Candles,
  o: EngineRulesOptions,
): Promise<{ result: BacktestResult; rules: RulesReport }> {
  const tfMs = o.timeframeMs;
  const n = candles.length;
  if (n < 2) throw badInput(`the data has ${n} candle(s); a backtest needs at least 2`);
  if (!(o.capital > 0)) throw badInput(`capital is ${o.capital}; allowed: a positive amount`);
  const quote = quoteOf(o.symbol);
  const settings: EngineSettings = {
    paperBalance: { [quote]: o.capital },
    fee: o.fee,
    slippageBps: o.slippageBps,
    approvalTimeoutMs: o.config.engine.approvalTimeout,
    risk: o.risk ?? o.config.risk ?? {},
    timezone: o.config.timezone,
    reportTime: o.config.engine.reportTime,
  };
  const risk = parseRiskSettings({ ...settings.risk });
  const rt: Runtime = runtimeOf(strategy, rawParams, tfMs, risk);
  const warmup = strategy.warmup(rt.params);
  if (n <= warmup)
    throw badInput(
      `the data has ${n} candles; ${strategy.name} with these parameters needs more than ${warmup} (its warm-up)`,
    );
  const start = o.tradeFrom === undefined ? 0 : indexAtOrAfter(candles.time, o.tradeFrom);
  if (n - start < 2) throw badInput('fewer than 2 candles remain after the start time; widen the range');

  let clock = candles.time[start]!;
  const book = memoryState(clock);
  // The working records are this function's alone: it changes them directly, as a store update would.
  const s = book.data as State;
  const broker = new PaperBroker(settings.paperBalance);
  const costs: FillCosts = { fee: o.fee, slippage: o.slippageBps / 10_000 };
  const wall = () => clock;
  const watch = regimeWatch(o, candles, () => clock, book);
  const regimeGate: RegimeGate | undefined = watch
    ? (side, confidence) => watch.watch.gate(side, confidence)
    : undefined;
  const base = { broker, settings, wall, logger: o.logger, store: book, feed: { now: wall } };
  const accounts = new Accounts(base);
  const ctx: SeriesContext = {
    broker,
    costs,
    wall,
    settings,
    regimeGate,
    risk: () => accounts.risk(),
    runtimes: new Map([[RUN_ID, rt]]),
    account: accounts.account.bind(accounts),
    accounts,
  };
  const run: RunRecord = {
    id: RUN_ID,
    strategy: strategy.name,
    symbol: o.symbol,
    timeframe: timeframeName(tfMs),
    params: rt.params,
    approve: 'auto',
    state: 'active',
    createdAt: clock,
    createdBy: 'backtest',
    realizedPnl: 0,
    trades: 0,
  };
  s.runs[RUN_ID] = run;
  s.engine.nextId = 2;

  const bars = o.bufferBars ?? 5000;
  const signalsAt = signalSource(strategy, rt, candles, tfMs, bars);
  const traded = n - start;
  const equity = new Float64Array(traded);
  const inMarket = new Uint8Array(traded);
  const slice = new TimeSlice();
  const events: EngineEvent[] = [];
  const refusedBy = new Map<string, number>();
  let signalCount = 0;
  for (let i = start; i < n; i++) {
    const candle = candleAt(candles, i);
    clock = candle.time + tfMs;
    // The regime first, as the replay's clock tells the market watch before the engine sees the candle.
    if (watch) await watch.watch.clock(clock).catch(() => undefined);
    const live = s.runs[RUN_ID]!;
    let result: Signals | AppError | undefined;
    let t = i;
    if (live.state === 'active') {
      try {
        ({ signals: result, t } = signalsAt(i));
      } catch (err) {
        result = toAppError(err);
      }
    }
    stepSeries(
      s,
      ctx,
      {
        symbol: o.symbol,
        timeframe: run.timeframe,
        tfMs,
        candle,
        t,
        runs: [{ run: live, rt, result }],
        catchUp: false,
        source: 'backtest',
      },
      events,
    );
    tally(events, refusedBy);
    signalCount += events.filter((e) => e.type === 'signal').length;
    equity[i - start] = s.log.equity[s.log.equity.length - 1]!.equity;
    inMarket[i - start] = Object.keys(s.positions).length > 0 ? 1 : 0;
    // History the backtest does not keep (a replay journals it).
    s.log.candles.length = 0;
    s.log.equity.length = 0;
    s.log.decisions.length = 0;
    events.length = 0;
    if (slice.over) {
      o.onProgress?.((i - start) / traded);
      await slice.next();
    }
  }
  // A position still open at the end closes at the last close, as in the plain backtest.
  const open = Object.values(s.positions)[0];
  if (open) {
    const last = n - 1;
    const price = candles.close[last]!;
    broker.close(s, open, { time: candles.time[last]!, price, reason: 'end', costs });
    equity[traded - 1] = broker.cash(s, quote);
  }
  o.onProgress?.(1);

  // The journal's trade records, as the backtester's trades (the same fields, from the same toTrade).
  const trades = s.log.trades.map(({ id: _id, runId: _r, symbol: _s, quote: _q, ...t }) => t as Trade);
  const simulation: Simulation = {
    trades,
    equity,
    inMarket,
    skippedEntries: [...refusedBy.values()].reduce((a, b) => a + b, 0),
  };
  const tradedCandles = start === 0 ? candles : sliceCandles(candles, start);
  const full = strategy.signals(candles, rt.params, {
    timeframeMs: tfMs,
    informative: informativeSeries(strategy, candles, tfMs),
  });
  const result: BacktestResult = {
    strategy: strategy.name,
    params: rt.params,
    timeframe: timeframeName(tfMs),
    timeframeMs: tfMs,
    capital: o.capital,
    fee: o.fee,
    slippageBps: o.slippageBps,
    sizing:
      risk.sizing === 'risk'
        ? { mode: 'risk', risk: risk.riskPerTrade }
        : { mode: 'fraction', fraction: risk.fraction },
    direction: strategy.direction ?? 'long',
    exits: rt.rules,
    candles: tradedCandles,
    signals: start === 0 ? full : sliceSignals(full, start),
    plot: strategy.plot?.(rt.params) ?? {},
    simulation,
    metrics: computeMetrics(tradedCandles, simulation, o.capital, tfMs),
  };
  return {
    result,
    rules: {
      refused: [...refusedBy].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      signals: signalCount,
      regime: watch ? `${watch.note}; ${watch.watch.history().length} change(s)` : 'off (REGIME_GATE=off)',
      risk: describeRisk(risk),
    },
  };
}

/** Entry signals the rules refused, and approved entries that were skipped, counted by kind. */
function tally(events: readonly EngineEvent[], into: Map<string, number>): void {
  for (const e of events) {
    const reason =
      e.type === 'signal' && e.signal.status === 'refused'
        ? e.signal.reason
        : e.type === 'entry-skipped'
          ? e.reason
          : undefined;
    if (reason !== undefined) into.set(refusalKind(reason), (into.get(refusalKind(reason)) ?? 0) + 1);
  }
}

/**
 * What a refusal was, without the numbers of the moment: `cooldown after a loss` for every
 * "cooldown after a loss: no entries on this symbol for 18 more minute(s)", so one rule is counted
 * once however many minutes were left.
 */
export function refusalKind(reason: string): string {
  const colon = reason.indexOf(':');
  return colon > 0 ? reason.slice(0, colon) : reason.replace(/\d+(\.\d+)?/g, 'N');
}

/**
 * The strategy's signals at bar `i`, as the engine computes them: over its last `bars` candles
 * (once over all of them when they are fewer: no strategy looks ahead, so the values are the same).
 */
function signalSource(strategy: Strategy, rt: Runtime, candles: Candles, tfMs: number, bars: number) {
  const evaluate = (view: Candles) => {
    const signals = strategy.signals(view, rt.params, {
      timeframeMs: tfMs,
      informative: informativeSeries(strategy, view, tfMs),
    });
    checkSignals(signals, view.length, strategy.name);
    return signals;
  };
  if (candles.length <= bars) {
    const all = evaluate(candles);
    return (i: number) => ({ signals: all, t: i });
  }
  return (i: number) => {
    const from = Math.max(0, i - bars + 1);
    return { signals: evaluate(sliceCandles(candles, from, i + 1)), t: i - from };
  };
}

/**
 * The market watch that reads the regime from the backtest's own candles, closed by its clock, as
 * it reads a replay's: undefined with REGIME_GATE=off. Where the candles cannot make the regime's
 * (another symbol, a coarser timeframe) it stays unknown and entries pass ungated, as on a replay.
 */
function regimeWatch(
  o: EngineRulesOptions,
  candles: Candles,
  now: () => number,
  store: WorkingSet,
): { watch: MarketWatch; note: string } | undefined {
  const { regime } = o.config;
  if (regime.gate === 'off') return undefined;
  const regimeMs = timeframeMs(regime.timeframe);
  const series =
    regimeMs % o.timeframeMs !== 0
      ? undefined
      : regimeMs === o.timeframeMs
        ? candles
        : closedOnly(resample(candles, o.timeframeMs, regimeMs));
  const history = (symbol: string, timeframe: string, bars: number): Promise<Candles> => {
    if (symbol !== o.symbol || timeframe !== regime.timeframe || !series)
      return Promise.reject(new AppError('NOT_FOUND', `no ${symbol} ${timeframe} candles in this backtest`));
    const end = indexAtOrAfter(series.time, now() - regimeMs + 1);
    return Promise.resolve(sliceCandles(series, Math.max(0, end - bars), end));
  };
  const watch = new MarketWatch({
    config: o.config,
    market: new MarketData(o.config as Config, o.logger),
    store,
    logger: o.logger,
    now,
    providers: [],
    replay: { symbol: o.symbol, history },
  });
  const note =
    regime.symbol !== o.symbol
      ? `not read: it is measured on ${regime.symbol} and this backtest has ${o.symbol} only, so entries pass ungated (as on a replay of ${o.symbol})`
      : !series
        ? `not read: ${timeframeName(o.timeframeMs)} candles cannot make ${regime.timeframe} ones, so entries pass ungated (REGIME_TIMEFRAME is finer)`
        : `read from these candles at each ${regime.timeframe} close, as a replay reads it (outside inputs are not replayed)`;
  return { watch, note };
}
