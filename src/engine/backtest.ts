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

/**
 * Several markets on one account under the engine rules: one run of the strategy per market, their
 * candles stepped in time order (at one time, in the order given), so the cross-run limits (open
 * positions, exposure, the daily loss limit, the kill-switch) bind as they would in the engine. The
 * equity curve is the account's; with more than one market the result's candles are an
 * equal-weight basket of them (buy-and-hold holds the basket). `records` are the trades with their
 * markets, for a breakdown by market.
 */
export async function portfolioBacktest(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  markets: readonly Market[],
  o: Omit<EngineRulesOptions, 'symbol' | 'marketRules'>,
): Promise<{ result: BacktestResult; rules: RulesReport; records: TradeRecord[] }> {
  const tfMs = o.timeframeMs;
  if (markets.length === 0) throw badInput('no market to backtest');
  if (!(o.capital > 0)) throw badInput(`capital is ${o.capital}; allowed: a positive amount`);
  const quote = quoteOf(markets[0]!.symbol);
  const other = markets.find((m) => quoteOf(m.symbol) !== quote);
  if (other)
    throw badInput(
      `${other.symbol} is quoted in ${quoteOf(other.symbol)} and ${markets[0]!.symbol} in ${quote}; one account trades one quote currency: give markets of one quote`,
    );
  if (new Set(markets.map((m) => m.symbol)).size < markets.length)
    throw badInput(`${markets.map((m) => m.symbol).join(', ')}: each market once`);
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
  const runs = markets.map((m, k) => {
    const n = m.candles.length;
    if (n < 2) throw badInput(`the data of ${m.symbol} has ${n} candle(s); a backtest needs at least 2`);
    const rt: Runtime = runtimeOf(strategy, rawParams, tfMs, risk);
    const warmup = strategy.warmup(rt.params);
    if (n <= warmup)
      throw badInput(
        `the data${markets.length > 1 ? ` of ${m.symbol}` : ''} has ${n} candles; ${strategy.name} with these parameters needs more than ${warmup} (its warm-up)`,
      );
    const start = o.tradeFrom === undefined ? 0 : indexAtOrAfter(m.candles.time, o.tradeFrom);
    if (n - start < 2) throw badInput('fewer than 2 candles remain after the start time; widen the range');
    return {
      market: m,
      id: `R${k + 1}`,
      rt,
      start,
      next: start,
      signalsAt: signalSource(strategy, rt, m.candles, tfMs, bars),
    };
  });
  // The account's time line: every candle time of every market, from its start.
  const times = [...new Set(runs.flatMap((r) => Array.from(r.market.candles.time.subarray(r.start))))].sort(
    (a, b) => a - b,
  );

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
      strategy: strategy.name,
      symbol: r.market.symbol,
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
    for (const r of runs) {
      const i = r.next;
      if (i >= r.market.candles.length || r.market.candles.time[i] !== time) continue;
      r.next++;
      const live = s.runs[r.id]!;
      let result: Signals | AppError | undefined;
      let t = i;
      if (live.state === 'active') {
        try {
          ({ signals: result, t } = r.signalsAt(i));
        } catch (err) {
          result = toAppError(err);
        }
      }
      stepSeries(
        s,
        ctx,
        {
          symbol: r.market.symbol,
          timeframe,
          tfMs,
          candle: candleAt(r.market.candles, i),
          t,
          runs: [{ run: live, rt: r.rt, result }],
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
    const c = runs.find((r) => r.market.symbol === open.symbol)!.market.candles;
    const last = c.length - 1;
    broker.close(s, open, { time: c.time[last]!, price: c.close[last]!, reason: 'end', costs });
  }
  equity[times.length - 1] = accounts.equity(s, quote);
  o.onProgress?.(1);

  // The journal's trade records, as the backtester's trades (the same fields, from the same toTrade).
  const records = [...s.log.trades];
  // A portfolio's trades keep their market; one market's are the plain backtester's, field for field.
  const trades = records.map(({ id: _id, runId: _r, symbol, quote: _q, ...t }) =>
    runs.length > 1 ? ({ symbol, ...t } as Trade) : (t as Trade),
  );
  const simulation: Simulation = {
    trades,
    equity,
    inMarket,
    skippedEntries: [...refusedBy.values()].reduce((a, b) => a + b, 0),
    belowMinimum: [...refusedBy].reduce((a, [kind, n]) => a + (kind.startsWith(BELOW_MINIMUM) ? n : 0), 0),
  };
  const one = runs.length === 1 ? runs[0]! : undefined;
  const tradedCandles = one
    ? one.start === 0
      ? one.market.candles
      : sliceCandles(one.market.candles, one.start)
    : basket(
        runs.map((r) => sliceCandles(r.market.candles, r.start)),
        times,
      );
  const full = one
    ? strategy.signals(one.market.candles, one.rt.params, {
        timeframeMs: tfMs,
        informative: informativeSeries(strategy, one.market.candles, tfMs),
      })
    : undefined;
  const result: BacktestResult = {
    strategy: strategy.name,
    params: runs[0]!.rt.params,
    timeframe,
    timeframeMs: tfMs,
    capital: o.capital,
    fee: o.fee,
    ...(o.maker !== undefined ? { maker: o.maker } : {}),
    slippageBps: o.slippageBps,
    ...(one?.market.rules !== undefined ? { market: one.market.rules } : {}),
    ...(one
      ? {}
      : {
          portfolio: runs.map(({ market: m }) => ({
            symbol: m.symbol,
            ...(m.rules !== undefined ? { rules: m.rules } : {}),
          })),
          marketCandles: new Map(runs.map((r) => [r.market.symbol, sliceCandles(r.market.candles, r.start)])),
        }),
    entry: { type: 'market' },
    sizing:
      risk.sizing === 'risk'
        ? { mode: 'risk', risk: risk.riskPerTrade }
        : { mode: 'fraction', fraction: risk.fraction },
    direction: strategy.direction ?? 'long',
    exits: runs[0]!.rt.rules,
    candles: tradedCandles,
    // A basket has no signals of its own: each market's run had its own.
    signals: full ? (one!.start === 0 ? full : sliceSignals(full, one!.start)) : emptySignals(times.length),
    plot: strategy.plot?.(runs[0]!.rt.params) ?? {},
    simulation,
    metrics: computeMetrics(tradedCandles, simulation, o.capital, tfMs),
  };
  return {
    result,
    records,
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
