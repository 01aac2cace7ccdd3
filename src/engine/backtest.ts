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
import { type Breakdown, byKey } from '../backtest/breakdown.js';
import { computeMetrics } from '../backtest/metrics.js';
import { type BacktestResult, checkSignals, informativeSeries, sliceSignals } from '../backtest/run.js';
import type { RulesReport, Simulation, Trade } from '../backtest/types.js';
import type { Config } from '../config.js';
import { AppError, badInput, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MarketData } from '../market/provider.js';
import { closedOnly, resample } from '../market/resample.js';
import { quoteOf } from '../market/symbol.js';
import { BELOW_MINIMUM, type MarketRules } from '../market/rules.js';
import { timeframeMs, timeframeName } from '../market/timeframe.js';
import { allocCandles, type Candles, candleAt, indexAtOrAfter, sliceCandles } from '../market/types.js';
import { emptySignals, type Signals, type Strategy } from '../strategy/define.js';
import {
  memoryState,
  type RunRecord,
  type State,
  type TradeRecord,
  type WorkingSet,
} from '../store/state.js';
import { Accounts } from './account.js';
import { type EngineSettings, type RegimeGate, type Runtime, settingsCosts } from './context.js';
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
  /** The maker fee (take-profits), when it differs from the taker fee `fee`. */
  maker?: number;
  slippageBps: number;
  timeframeMs: number;
  /** Trade from this time on; earlier candles only warm the strategy up. */
  tradeFrom?: number;
  /** Candles the engine keeps per series (default 5000, the engine's). */
  bufferBars?: number;
  /** The exchange's rules of the market (one market; a portfolio gives them per market). */
  marketRules?: MarketRules | null;
  onProgress?: (done: number) => void;
}

/** One market of a backtest under the engine rules: its candles, and one run of the strategy on them. */
export interface Market {
  symbol: string;
  candles: Candles;
  /** The exchange's rules for the market (amount step, minimums, price tick), when known; null: off. */
  rules?: MarketRules | null;
}

/** A backtest under the engine rules of one market (see the module comment). */
export async function engineBacktest(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  candles: Candles,
  o: EngineRulesOptions,
): Promise<{ result: BacktestResult; rules: RulesReport }> {
  const market: Market = {
    symbol: o.symbol,
    candles,
    ...(o.marketRules !== undefined ? { rules: o.marketRules } : {}),
  };
  const { result, rules } = await portfolioBacktest(strategy, rawParams, [market], o);
  return { result, rules };
}

export async function portfolioBacktest(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  markets: readonly Market[],
  o: Omit<EngineRulesOptions, 'symbol' | 'marketRules'>,
): Promise<RunsBacktest> {
  return runsBacktest(
    markets.map((m) => ({ strategy, params: rawParams, symbol: m.symbol })),
    markets,
    o,
  );
}

/** One run of a backtest under the engine rules: a strategy with its parameters on one market. */
export interface BacktestRun {
  strategy: Strategy;
  params: Readonly<Record<string, unknown>>;
  symbol: string;
}

export interface RunsBacktest {
  result: BacktestResult;
  rules: RulesReport;
  /** The trades with their markets and runs, for breakdowns. */
  records: TradeRecord[];
  /** With more than one strategy: the trades by run (`ema-cross BTC/USDT`), in the order given. */
  byRun?: Breakdown[];
}

/**
 * Runs on one account under the engine rules, as the engine trades them (the runs of a replay, say:
 * several strategies on one market, or on several): each market's candles stepped in time order, the
 * runs of one market in one step as the engine steps a series, so the cross-run limits (open
 * positions, exposure, the daily loss limit, the kill-switch) bind as they would in the engine. The
 * equity curve is the account's; with more than one market the result's candles are an
 * equal-weight basket of them (buy-and-hold holds the basket). `records` are the trades with their
 * markets, for a breakdown by market.
 */
export async function runsBacktest(
  specs: readonly BacktestRun[],
  markets: readonly Market[],
  o: Omit<EngineRulesOptions, 'symbol' | 'marketRules'>,
): Promise<RunsBacktest> {
  const tfMs = o.timeframeMs;
  if (markets.length === 0 || specs.length === 0) throw badInput('no market to backtest');
  if (!(o.capital > 0)) throw badInput(`capital is ${o.capital}; allowed: a positive amount`);
  const quote = quoteOf(markets[0]!.symbol);
  const other = markets.find((m) => quoteOf(m.symbol) !== quote);
  if (other)
    throw badInput(
      `${other.symbol} is quoted in ${quoteOf(other.symbol)} and ${markets[0]!.symbol} in ${quote}; one account trades one quote currency: give markets of one quote`,
    );
  if (new Set(markets.map((m) => m.symbol)).size < markets.length)
    throw badInput(`${markets.map((m) => m.symbol).join(', ')}: each market once`);
  const labelOf = (r: BacktestRun) => `${r.strategy.name} ${r.symbol}`;
  const twice = specs.find((r, k) => specs.findIndex((x) => labelOf(x) === labelOf(r)) !== k);
  if (twice) throw badInput(`${labelOf(twice)} is given twice; give each strategy once on a market`);
  const settings: EngineSettings = {
    paperBalance: { [quote]: o.capital },
    fee: o.fee,
    ...(o.maker !== undefined ? { makerFee: o.maker } : {}),
    slippageBps: o.slippageBps,
    approvalTimeoutMs: o.config.engine.approvalTimeout,
    risk: o.risk ?? o.config.risk ?? {},
    timezone: o.config.timezone,
    reportTime: o.config.engine.reportTime,
  };
  const risk = parseRiskSettings({ ...settings.risk });
  const bars = o.bufferBars ?? 5000;
  // One series per market: where its trading starts, and its next candle.
  const series = markets.map((m) => {
    const n = m.candles.length;
    if (n < 2) throw badInput(`the data of ${m.symbol} has ${n} candle(s); a backtest needs at least 2`);
    const start = o.tradeFrom === undefined ? 0 : indexAtOrAfter(m.candles.time, o.tradeFrom);
    if (n - start < 2) throw badInput('fewer than 2 candles remain after the start time; widen the range');
    return { market: m, start, next: start };
  });
  const runs = specs.map((spec, k) => {
    const se = series.find((x) => x.market.symbol === spec.symbol);
    if (!se) throw badInput(`${labelOf(spec)} has no candles; give them for ${spec.symbol}`);
    const { strategy } = spec;
    const rt: Runtime = runtimeOf(strategy, spec.params, tfMs, risk);
    const warmup = strategy.warmup(rt.params);
    const n = se.market.candles.length;
    if (n <= warmup)
      throw badInput(
        `the data${markets.length > 1 ? ` of ${spec.symbol}` : ''} has ${n} candles; ${strategy.name} with these parameters needs more than ${warmup} (its warm-up)`,
      );
    return {
      spec,
      series: se,
      id: `R${k + 1}`,
      rt,
      signalsAt: signalSource(strategy, rt, se.market.candles, tfMs, bars),
    };
  });
  // The account's time line: every candle time of every market, from its start.
  const times = [
    ...new Set(series.flatMap((se) => Array.from(se.market.candles.time.subarray(se.start)))),
  ].sort((a, b) => a - b);

  let clock = times[0]!;
  const book = memoryState(clock);
  // The working records are this function's alone: it changes them directly, as a store update would.
  const s = book.data as State;
  const broker = new PaperBroker(settings.paperBalance);
  const costs = settingsCosts(settings);
  const wall = () => clock;
  const watch = regimeWatch(o, markets, () => clock, book);
  const regimeGate: RegimeGate | undefined = watch
    ? (side, confidence) => watch.watch.gate(side, confidence)
    : undefined;
  const base = { broker, settings, wall, logger: o.logger, store: book, feed: { now: wall } };
  const accounts = new Accounts(base);
  const ctx: SeriesContext = {
    broker,
    costs,
    marketRules: (symbol) => markets.find((m) => m.symbol === symbol)?.rules ?? undefined,
    wall,
    settings,
    regimeGate,
    risk: () => accounts.risk(),
    runtimes: new Map(runs.map((r) => [r.id, r.rt])),
    account: accounts.account.bind(accounts),
    accounts,
  };
  const timeframe = timeframeName(tfMs);
  for (const r of runs)
    s.runs[r.id] = {
      id: r.id,
      strategy: r.spec.strategy.name,
      symbol: r.spec.symbol,
      timeframe,
      params: r.rt.params,
      approve: 'auto',
      state: 'active',
      createdAt: clock,
      createdBy: 'backtest',
      realizedPnl: 0,
      trades: 0,
    } satisfies RunRecord;
  s.engine.nextId = runs.length + 1;

  const equity = new Float64Array(times.length);
  const inMarket = new Uint8Array(times.length);
  const slice = new TimeSlice();
  const events: EngineEvent[] = [];
  const refusedBy = new Map<string, number>();
  let signalCount = 0;
  for (let j = 0; j < times.length; j++) {
    const time = times[j]!;
    clock = time + tfMs;
    // The regime first, as the replay's clock tells the market watch before the engine sees the candle.
    if (watch) await watch.watch.clock(clock).catch(() => undefined);
    for (const se of series) {
      const i = se.next;
      const c = se.market.candles;
      if (i >= c.length || c.time[i] !== time) continue;
      se.next++;
      // The runs of this market in one step, as the engine steps a series with every run on it.
      let t = i;
      const stepped = runs
        .filter((r) => r.series === se)
        .map((r) => {
          const live = s.runs[r.id]!;
          let result: Signals | AppError | undefined;
          if (live.state === 'active') {
            try {
              ({ signals: result, t } = r.signalsAt(i));
            } catch (err) {
              result = toAppError(err);
            }
          }
          return { run: live, rt: r.rt, result };
        });
      stepSeries(
        s,
        ctx,
        {
          symbol: se.market.symbol,
          timeframe,
          tfMs,
          candle: candleAt(c, i),
          t,
          runs: stepped,
          catchUp: false,
          source: 'backtest',
        },
        events,
      );
      tally(events, refusedBy);
      signalCount += events.filter((e) => e.type === 'signal').length;
      events.length = 0;
    }
    equity[j] = s.log.equity[s.log.equity.length - 1]!.equity;
    inMarket[j] = Object.keys(s.positions).length > 0 ? 1 : 0;
    // History the backtest does not keep (a replay journals it).
    s.log.candles.length = 0;
    s.log.equity.length = 0;
    s.log.decisions.length = 0;
    if (slice.over) {
      o.onProgress?.(j / times.length);
      await slice.next();
    }
  }
  // Positions still open at the end close at their market's last close, as in the plain backtest.
  for (const open of Object.values(s.positions)) {
    const c = markets.find((m) => m.symbol === open.symbol)!.candles;
    const last = c.length - 1;
    broker.close(s, open, { time: c.time[last]!, price: c.close[last]!, reason: 'end', costs });
  }
  equity[times.length - 1] = accounts.equity(s, quote);
  o.onProgress?.(1);

  // The journal's trade records, as the backtester's trades (the same fields, from the same toTrade).
  const records = [...s.log.trades];
  const strategies = [...new Set(specs.map((r) => r.strategy.name))];
  const strategyOf = new Map(runs.map((r) => [r.id, r.spec.strategy.name]));
  // A portfolio's trades keep their market (and run's strategy); one run's are the plain backtester's.
  const trades = records.map(({ id: _id, runId, symbol, quote: _q, ...t }) => ({
    ...(markets.length > 1 ? { symbol } : {}),
    ...(strategies.length > 1 ? { strategy: strategyOf.get(runId)! } : {}),
    ...t,
  })) as Trade[];
  const simulation: Simulation = {
    trades,
    equity,
    inMarket,
    skippedEntries: [...refusedBy.values()].reduce((a, b) => a + b, 0),
    belowMinimum: [...refusedBy].reduce((a, [kind, n]) => a + (kind.startsWith(BELOW_MINIMUM) ? n : 0), 0),
  };
  const oneMarket = series.length === 1 ? series[0]! : undefined;
  const oneRun = runs.length === 1 ? runs[0]! : undefined;
  const tradedCandles = oneMarket
    ? oneMarket.start === 0
      ? oneMarket.market.candles
      : sliceCandles(oneMarket.market.candles, oneMarket.start)
    : basket(
        series.map((se) => sliceCandles(se.market.candles, se.start)),
        times,
      );
  const first = runs[0]!;
  const full = oneRun
    ? oneRun.spec.strategy.signals(oneRun.series.market.candles, oneRun.rt.params, {
        timeframeMs: tfMs,
        informative: informativeSeries(oneRun.spec.strategy, oneRun.series.market.candles, tfMs),
      })
    : undefined;
  const result: BacktestResult = {
    strategy: strategies.join(' + '),
    params: strategies.length === 1 ? first.rt.params : {},
    timeframe,
    timeframeMs: tfMs,
    capital: o.capital,
    fee: o.fee,
    ...(o.maker !== undefined ? { maker: o.maker } : {}),
    slippageBps: o.slippageBps,
    ...(oneMarket?.market.rules !== undefined ? { market: oneMarket.market.rules } : {}),
    ...(oneMarket
      ? {}
      : {
          portfolio: markets.map((m) => ({
            symbol: m.symbol,
            ...(m.rules !== undefined ? { rules: m.rules } : {}),
          })),
          marketCandles: new Map(
            series.map((se) => [se.market.symbol, sliceCandles(se.market.candles, se.start)]),
          ),
        }),
    ...(strategies.length > 1 ? { runs: runs.map((r) => labelOf(r.spec)) } : {}),
    entry: { type: 'market' },
    sizing:
      risk.sizing === 'risk'
        ? { mode: 'risk', risk: risk.riskPerTrade }
        : { mode: 'fraction', fraction: risk.fraction },
    direction: first.spec.strategy.direction ?? 'long',
    exits: first.rt.rules,
    candles: tradedCandles,
    // A basket, or several runs, have no signals of their own: each run had its own.
    signals: full
      ? oneRun!.series.start === 0
        ? full
        : sliceSignals(full, oneRun!.series.start)
      : emptySignals(times.length),
    plot: oneRun ? (oneRun.spec.strategy.plot?.(oneRun.rt.params) ?? {}) : {},
    simulation,
    metrics: computeMetrics(tradedCandles, simulation, o.capital, tfMs),
  };
  const labels = new Map(runs.map((r) => [r.id, labelOf(r.spec)]));
  return {
    result,
    records,
    ...(strategies.length > 1
      ? {
          byRun: byKey(
            runs.map((r) => labelOf(r.spec)),
            records.map((r) => ({ ...r, key: labels.get(r.runId)! })),
          ),
        }
      : {}),
    rules: {
      refused: [...refusedBy].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
      signals: signalCount,
      regime: watch ? `${watch.note}; ${watch.watch.history().length} change(s)` : 'off (REGIME_GATE=off)',
      risk: describeRisk(risk),
    },
  };
}

/**
 * An equal-weight basket of markets on the account's time line: each market's close over its first
 * one, averaged over the markets that have started (a market without a candle at a time keeps its
 * last close), times 100. Open, high and low are the close: the basket is a line.
 */
function basket(markets: readonly Candles[], times: readonly number[]): Candles {
  const c = allocCandles(times.length);
  const next = markets.map(() => 0);
  const last = markets.map(() => Number.NaN);
  for (let j = 0; j < times.length; j++) {
    let sum = 0;
    let count = 0;
    markets.forEach((m, k) => {
      const i = next[k]!;
      if (i < m.length && m.time[i] === times[j]) {
        last[k] = m.close[i]! / m.close[0]!;
        next[k] = i + 1;
      }
      if (!Number.isNaN(last[k]!)) {
        sum += last[k]!;
        count++;
      }
    });
    const v = (sum / count) * 100;
    c.time[j] = times[j]!;
    c.open[j] = v;
    c.high[j] = v;
    c.low[j] = v;
    c.close[j] = v;
    c.volume[j] = 0;
  }
  return c;
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
    if (reason === undefined) continue;
    const kind = refusalKind(reason);
    into.set(kind, (into.get(kind) ?? 0) + 1);
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
  o: Pick<EngineRulesOptions, 'config' | 'logger' | 'timeframeMs'>,
  markets: readonly Market[],
  now: () => number,
  store: WorkingSet,
): { watch: MarketWatch; note: string } | undefined {
  const { regime } = o.config;
  if (regime.gate === 'off') return undefined;
  // The regime reads its own market when the backtest has it, else the first (which then stays unknown).
  const own = markets.find((m) => m.symbol === regime.symbol) ?? markets[0]!;
  const { candles } = own;
  const regimeMs = timeframeMs(regime.timeframe);
  const series =
    regimeMs % o.timeframeMs !== 0
      ? undefined
      : regimeMs === o.timeframeMs
        ? candles
        : closedOnly(resample(candles, o.timeframeMs, regimeMs));
  const history = (symbol: string, timeframe: string, bars: number): Promise<Candles> => {
    if (symbol !== own.symbol || timeframe !== regime.timeframe || !series)
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
    replay: { symbol: own.symbol, history },
  });
  const note =
    regime.symbol !== own.symbol
      ? `not read: it is measured on ${regime.symbol} and this backtest has ${markets.map((m) => m.symbol).join(', ')} only, so entries pass ungated (as on a replay of ${own.symbol})`
      : !series
        ? `not read: ${timeframeName(o.timeframeMs)} candles cannot make ${regime.timeframe} ones, so entries pass ungated (REGIME_TIMEFRAME is not a multiple of them)`
        : `read from these candles at each ${regime.timeframe} close, as a replay reads it (outside inputs are not replayed)`;
  return { watch, note };
}
