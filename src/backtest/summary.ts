/**
 * A backtest result as labelled, formatted rows and as the JSON document `--json` writes. Plain data:
 * the CLI prints the rows as a table, chat adapters render them their own way.
 */
import { DAY, isoTime, spanName, timeframeName } from '../market/timeframe.js';
import type { BacktestResult } from './run.js';
import { buyAndHold, byExitReason, byMonth, excursions } from './breakdown.js';
import { describeRules, type MarketRules } from '../market/rules.js';
import { describeSizing } from './sizing.js';
import type { EntryOrders, Metrics, RulesReport, Simulation } from './types.js';

export interface CandleInfo {
  count: number;
  timeframe: string;
  start: number;
  end: number;
  source: string;
  symbol?: string;
}

/** What a result ran on, from the result itself plus where the candles came from. */
export function candleInfo(r: BacktestResult, source: string, symbol?: string): CandleInfo {
  const m = r.metrics;
  return {
    count: m.bars,
    timeframe: r.timeframe,
    start: m.startTime,
    end: m.endTime,
    source,
    ...(symbol ? { symbol } : {}),
  };
}

/** A signed percentage, `+12.34%`. */
export const pct = (v: number, digits = 2) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(digits)}%`;
const money = (v: number) =>
  v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** A ratio to two decimals, `n/a` when undefined. */
export const ratio = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2));

export function formatDuration(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours < 48) return `${+hours.toFixed(1)}h`;
  const days = hours / 24;
  return days < 365 ? `${+days.toFixed(1)}d` : `${+(days / 365.25).toFixed(2)}y`;
}

/**
 * Annualised figures (CAGR, Sharpe, Sortino, Calmar) from fewer days than this say more about the
 * annualising than about the strategy (three good weeks make a CAGR of thousands of percent): they
 * are flagged, not shown.
 */
export const MIN_ANNUALISED_DAYS = 30;

/** Why a result's annualised figures are not shown, or undefined when its span is long enough. */
export function tooShortToAnnualise(m: Pick<Metrics, 'startTime' | 'endTime'>): string | undefined {
  const span = m.endTime - m.startTime;
  if (span >= MIN_ANNUALISED_DAYS * DAY) return undefined;
  return `${formatDuration(span)} of data; annualised figures need ${MIN_ANNUALISED_DAYS} days`;
}

const day = (ms: number) => isoTime(ms).slice(0, 10);

/**
 * When the candles cover less than was asked (a short sample, a new listing): which span every
 * figure is over. `asked` is a start and end (the CLI's --from/--to), or a period ending where the
 * data ends (chat's `1y`). A bar's worth of difference is no shortfall.
 */
export function coverageNote(
  asked: { from?: number; to?: number; period?: number },
  m: Pick<Metrics, 'startTime' | 'endTime'>,
  timeframeMs: number,
): string | undefined {
  const wantFrom = asked.from ?? (asked.period === undefined ? undefined : m.endTime - asked.period);
  const lateStart = wantFrom !== undefined && m.startTime - wantFrom > timeframeMs;
  const earlyEnd = asked.to !== undefined && asked.to - m.endTime > timeframeMs;
  if (!lateStart && !earlyEnd) return undefined;
  const want =
    asked.from !== undefined
      ? `${day(asked.from)} .. ${asked.to !== undefined ? day(asked.to) : 'the end of the data'}`
      : spanName(asked.period!);
  return `Asked for ${want}; the data covers ${formatDuration(m.endTime - m.startTime)} (${day(m.startTime)} .. ${day(m.endTime)}): every figure is over that span.`;
}

/** Buy-and-hold's return, and with the candles at hand its drawdown and Sharpe, measured as the strategy's. */
function buyAndHoldText(r: Summarised, short: boolean): string {
  const b = 'candles' in r ? benchmarkOf(r as BacktestResult) : r.benchmark;
  if (!b) return pct(r.metrics.buyAndHoldReturn);
  return `${pct(b.totalReturn)} (max drawdown ${pct(-b.maxDrawdown)}, Sharpe ${short ? 'n/a' : b.sharpe.toFixed(2)})`;
}

/** The refusals in one line: `12 of 30 entry signals: regime RISK_OFF (9); cooldown after a loss (3)`. */
export function refusedText(rules: RulesReport, most = 3): string {
  const total = rules.refused.reduce((a, r) => a + r.count, 0);
  if (total === 0) return `none of ${rules.signals} entry signals`;
  const top = rules.refused.slice(0, most).map((r) => `${r.reason} (${r.count})`);
  const rest = rules.refused.length - top.length;
  return `${total} of ${rules.signals} entry signals: ${top.join('; ')}${rest > 0 ? `; ${rest} other reason(s)` : ''}`;
}

/** `rules`: the engine's rules ran it (`--rules engine`), and what they did. */
/** What became of the entries besides the trades. */
export type EntryTally = Pick<Simulation, 'skippedEntries' | 'belowMinimum' | 'beyondStop' | 'entryOrders'>;

/** What a summary reads of a result (a kept backtest has it too). */
export type Summarised = Pick<
  BacktestResult,
  'strategy' | 'params' | 'capital' | 'fee' | 'slippageBps' | 'sizing' | 'direction' | 'metrics'
> & {
  maker?: number | undefined;
  market?: MarketRules | null | undefined;
  portfolio?: BacktestResult['portfolio'] | undefined;
  runs?: string[] | undefined;
  entry?: EntryOrders | undefined;
  /** A kept backtest's tally (a result has its simulation). */
  entries?: EntryTally | undefined;
  /** A kept backtest's buy-and-hold figures (a result has its candles). */
  benchmark?: Benchmark | undefined;
};

export type Benchmark = ReturnType<typeof buyAndHold>;

const percent = (v: number) => `${+(v * 100).toFixed(4)}%`;

/** The fees in words: `0.1%`, or `0.1% (maker 0.02%)` when the maker fee differs. */
export function feeText(r: Pick<Summarised, 'fee' | 'maker'>): string {
  return r.maker !== undefined && r.maker !== r.fee
    ? `${percent(r.fee)} (maker ${percent(r.maker)})`
    : percent(r.fee);
}

/** How entries were made, in words: `limit 0.2% better than the close, 3 bars, then market`. */
export function entryText(e: EntryOrders): string {
  if (e.type === 'market') return 'market at the next open';
  const where = e.type === 'limit' ? 'better than' : 'past';
  const tail = e.type === 'limit' && e.fallback === 'market' ? ', then market' : '';
  return `${e.type} ${percent(e.offset)} ${where} the close, ${e.expiryBars} bar${e.expiryBars === 1 ? '' : 's'}${tail}`;
}

/** The same in a table cell: `limit 0.2%, 3 bars, +market`. */
export function entryCell(e: EntryOrders | undefined): string {
  if (!e || e.type === 'market') return 'market';
  return `${e.type} ${percent(e.offset)}, ${e.expiryBars} bars${e.type === 'limit' && e.fallback === 'market' ? ', +market' : ''}`;
}

/** Which exchange rules the fills obeyed: one market's, or which of a portfolio's markets had them. */
function exchangeRow(r: Summarised, info: CandleInfo): Array<[string, string]> {
  // A backtest kept before fills knew the exchange's rules did not record them.
  if (!('simulation' in r) && r.entry === undefined)
    return [['Exchange', 'not recorded (kept before exchange rules)']];
  if (r.portfolio) {
    if (r.portfolio.every((p) => p.rules === null)) return [['Exchange', describeRules('', null)]];
    const known = r.portfolio.filter((p) => p.rules);
    const unknown = r.portfolio.filter((p) => !p.rules).map((p) => p.symbol);
    const sources = [...new Set(known.map((p) => p.rules!.source))].join('; ');
    const parts = [
      known.length > 0 ? `rules of ${known.map((p) => p.symbol).join(', ')} (${sources})` : '',
      unknown.length > 0 ? `none known for ${unknown.join(', ')} (fills not rounded)` : '',
    ];
    return [['Exchange', parts.filter(Boolean).join('; ')]];
  }
  return info.symbol ? [['Exchange', describeRules(info.symbol, r.market)]] : [];
}

/** The Entries row of a plain backtest, when there is more to say than "market, none skipped". */
function entriesRow(r: Summarised): Array<[string, string]> {
  const tally = 'simulation' in r ? (r as BacktestResult).simulation : r.entries;
  const entry = r.entry ?? { type: 'market' };
  if (!tally || (entry.type === 'market' && tally.skippedEntries === 0)) return [];
  const parts = entry.type === 'market' ? [] : [entryText(entry)];
  const o = tally.entryOrders;
  if (o)
    parts.push(
      `${o.placed} placed, ${o.expired} expired, ${o.withdrawn} withdrawn${o.working ? `, ${o.working} working at the end` : ''}`,
    );
  if (tally.skippedEntries > 0) {
    const why = [
      tally.belowMinimum > 0 ? `${tally.belowMinimum} under the exchange's minimums` : '',
      tally.beyondStop ? `${tally.beyondStop} priced beyond the signal's stop` : '',
    ].filter(Boolean);
    parts.push(`${tally.skippedEntries} skipped${why.length > 0 ? ` (${why.join(', ')})` : ''}`);
  }
  return [['Entries', parts.join('; ')]];
}

export function summaryRows(r: Summarised, info: CandleInfo, rules?: RulesReport): Array<[string, string]> {
  const m = r.metrics;
  const short = tooShortToAnnualise(m);
  const params = Object.entries(r.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const markets = r.portfolio?.map((p) => p.symbol);
  const together = r.runs
    ? `${r.runs.join(', ')} on one account`
    : markets
      ? `${markets.join(', ')} on one account, a run of ${r.strategy} on each`
      : undefined;
  return [
    ...(together ? ([['Portfolio', together]] as Array<[string, string]>) : []),
    ['Strategy', `${r.strategy}${params ? ` (${params})` : ''}`],
    [
      'Data',
      // A portfolio's count is of its time line (every market's candle times together).
      `${info.symbol ? `${info.symbol} ` : ''}${info.timeframe}, ${info.count.toLocaleString('en-US')} ${markets ? 'bar times' : 'candles'}, ${isoTime(m.startTime)} .. ${isoTime(m.endTime)}`,
    ],
    [
      'Settings',
      `capital ${money(r.capital)}, fee ${feeText(r)}, slippage ${r.slippageBps} bps, ${rules ? 'the engine rules' : `${describeSizing(r.sizing)}, ${r.direction}`}`,
    ],
    ...exchangeRow(r, info),
    ...(rules ? [] : entriesRow(r)),
    ...(rules
      ? ([
          ['Rules', rules.risk],
          ['Regime', rules.regime],
          ['Refused', refusedText(rules)],
        ] as Array<[string, string]>)
      : []),
    ['Final equity', money(m.finalEquity)],
    ['Total return', pct(m.totalReturn)],
    [
      'Buy and hold',
      `${buyAndHoldText(r, short !== undefined)}${markets ? ' (an equal-weight basket)' : ''}`,
    ],
    ['CAGR', short ? `n/a (${short})` : pct(m.cagr)],
    [
      'Max drawdown',
      `${pct(-m.maxDrawdown)} (longest ${formatDuration(m.maxDrawdownDurationMs)} under water)`,
    ],
    ['Trades', `${m.trades} (${m.wins} won, ${m.losses} lost, win rate ${(m.winRate * 100).toFixed(1)}%)`],
    ['Profit factor', ratio(m.profitFactor)],
    [
      'Expectancy',
      `${money(m.expectancy)} per trade (avg win ${money(m.avgWin)}, avg loss ${money(m.avgLoss)})`,
    ],
    ['Sharpe / Sortino', short ? 'n/a (too short, see CAGR)' : `${ratio(m.sharpe)} / ${ratio(m.sortino)}`],
    ['Calmar', short ? 'n/a (too short, see CAGR)' : ratio(m.calmar)],
    ['Exposure', `${(m.exposure * 100).toFixed(1)}% of bars`],
    ['Fees paid', money(m.totalFees)],
  ];
}

/**
 * The equity at bar closes as `[time, equity]`, thinned to at most `points` (+1: the last close is
 * always there) by keeping every k-th bar.
 */
export function equityCurve(
  r: Pick<BacktestResult, 'candles' | 'simulation' | 'timeframeMs'>,
  points: number,
): Array<[number, number]> {
  const n = r.simulation.equity.length;
  const step = Math.max(1, Math.ceil(n / points));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < n; i += step) out.push([r.candles.time[i]! + r.timeframeMs, r.simulation.equity[i]!]);
  if ((n - 1) % step !== 0) out.push([r.candles.time[n - 1]! + r.timeframeMs, r.simulation.equity[n - 1]!]);
  return out;
}

/** `f` of a result, computed once per result however many times the summary, JSON and CSV ask. */
function oncePerResult<T>(f: (r: BacktestResult) => T): (r: BacktestResult) => T {
  const cache = new WeakMap<BacktestResult, T>();
  return (r) => {
    if (!cache.has(r)) cache.set(r, f(r));
    return cache.get(r)!;
  };
}

/** MAE and MFE of a result's trades. */
export const excursionsOf = oncePerResult((r) => excursions(r, r.simulation.trades));
/** Buy-and-hold over a result's candles, measured like it. */
export const benchmarkOf = oncePerResult(buyAndHold);

/** The `--json` document: times in epoch ms, money and ratios unrounded. */
export function resultJson(r: BacktestResult, info: CandleInfo, rules?: RulesReport) {
  return {
    strategy: r.strategy,
    rules: rules ? { mode: 'engine', ...rules } : { mode: 'plain' },
    params: r.params,
    candles: { ...info, timeframe: timeframeName(r.timeframeMs) },
    settings: {
      capital: r.capital,
      fee: r.fee,
      ...(r.maker !== undefined ? { maker: r.maker } : {}),
      slippageBps: r.slippageBps,
      sizing: r.sizing,
      direction: r.direction,
      exits: r.exits,
      entry: r.entry,
      exchangeRules: r.market ?? null,
    },
    entries: {
      skipped: r.simulation.skippedEntries,
      belowMinimum: r.simulation.belowMinimum,
      ...(r.simulation.entryOrders ? { orders: r.simulation.entryOrders } : {}),
    },
    metrics: r.metrics,
    /** Equity at bar closes, `[time, equity]`, at most 2,000 points. */
    equity: equityCurve(r, 2000),
    benchmark: { buyAndHold: benchmarkOf(r) },
    breakdowns: { exitReason: byExitReason(r.simulation.trades), month: byMonth(r.simulation.trades) },
    /** Set when the span is too short for CAGR, Sharpe, Sortino and Calmar to mean much. */
    ...(tooShortToAnnualise(r.metrics)
      ? { annualised: { reliable: false, why: tooShortToAnnualise(r.metrics) } }
      : {}),
    trades: r.simulation.trades.map((t, k) => ({
      ...(t.symbol !== undefined ? { symbol: t.symbol } : {}),
      side: t.side,
      entryTime: t.entryTime,
      entryPrice: t.entryPrice,
      exitTime: t.exitTime,
      exitPrice: t.exitPrice,
      quantity: t.quantity,
      pnl: t.pnl,
      exitReason: t.exitReason,
      fees: t.fees,
      bars: t.bars,
      ...excursionsOf(r)[k],
      exits: t.exits,
      ...(t.entries ? { entries: t.entries } : {}),
    })),
  };
}
