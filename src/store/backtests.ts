/**
 * Kept backtests: every backtest run from the CLI or a chat, with its strategy, parameters, data
 * span, settings, metrics, trades, equity curve and chart, so it can be listed, shown again without
 * recomputing, and compared. They belong to the instance, not to a book (paper and live alike).
 */
import { randomInt } from 'node:crypto';
import type { CompiledQuery, Kysely } from 'kysely';
import type { Breakdown } from '../backtest/breakdown.js';
import type { BacktestResult } from '../backtest/run.js';
import {
  type Benchmark,
  benchmarkOf,
  type CandleInfo,
  type EntryTally,
  equityCurve,
} from '../backtest/summary.js';
import type { EntryOrders, Metrics, RulesReport, Trade } from '../backtest/types.js';
import type { MarketRules } from '../market/rules.js';
import { AppError } from '../errors.js';
import { openDatabase } from './database.js';
import type { Database } from './schema.js';

/** What is kept of a backtest, besides its chart. */
export interface KeptBacktest {
  id: string;
  createdAt: number;
  by: string;
  strategy: string;
  params: Record<string, unknown>;
  /** The candles it ran on (symbol, timeframe, span, where from). */
  candles: CandleInfo;
  settings: {
    capital: number;
    fee: number;
    maker?: number;
    slippageBps: number;
    sizing: unknown;
    direction: string;
    /** Kept since issue 21's exchange rules; older records have none. */
    market?: MarketRules | null;
    portfolio?: Array<{ symbol: string; rules?: MarketRules | null }>;
    runs?: string[];
    entry?: EntryOrders;
    entries?: EntryTally;
  };
  rules: 'plain' | 'engine';
  rulesReport?: RulesReport;
  /** A portfolio's trades by market, and several runs' by run. */
  byMarket?: Breakdown[];
  byRun?: Breakdown[];
  /** Buy-and-hold's return, drawdown and Sharpe over the same candles (kept since issue 21). */
  benchmark?: Benchmark;
  metrics: Metrics;
  trades: Trade[];
  /** Equity at bar closes, at most EQUITY_POINTS of them: `[time, equity]`. */
  equity: Array<[number, number]>;
}

/** One line of the list. */
export type BacktestListing = Pick<KeptBacktest, 'id' | 'createdAt' | 'by' | 'strategy' | 'rules'> & {
  symbol: string;
  timeframe: string;
  startTime: number;
  endTime: number;
  totalReturn: number;
  trades: number;
};

/** Points of a kept equity curve: enough for a chart a phone or a page shows. */
export const EQUITY_POINTS = 1000;
const ID_CHARS = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';

/** A short id to type in chat: B and five characters without look-alikes (0/O, 1/I). */
function newId(): string {
  let id = 'B';
  for (let i = 0; i < 5; i++) id += ID_CHARS[randomInt(ID_CHARS.length)];
  return id;
}

/** What to keep of a result: every figure and trade, the equity curve thinned to EQUITY_POINTS. */
export function keptOf(
  r: BacktestResult,
  info: CandleInfo,
  o: {
    by: string;
    now?: number;
    rules?: RulesReport | undefined;
    byMarket?: Breakdown[] | undefined;
    byRun?: Breakdown[] | undefined;
  },
): Omit<KeptBacktest, 'id'> {
  const equity = equityCurve(r, EQUITY_POINTS);
  return {
    createdAt: o.now ?? Date.now(),
    by: o.by,
    strategy: r.strategy,
    params: r.params,
    candles: info,
    settings: {
      capital: r.capital,
      fee: r.fee,
      ...(r.maker !== undefined ? { maker: r.maker } : {}),
      slippageBps: r.slippageBps,
      sizing: r.sizing,
      direction: r.direction,
      ...(r.market !== undefined ? { market: r.market } : {}),
      ...(r.portfolio ? { portfolio: r.portfolio } : {}),
      ...(r.runs ? { runs: r.runs } : {}),
      entry: r.entry,
      entries: {
        skippedEntries: r.simulation.skippedEntries,
        belowMinimum: r.simulation.belowMinimum,
        ...(r.simulation.beyondStop ? { beyondStop: r.simulation.beyondStop } : {}),
        ...(r.simulation.entryOrders ? { entryOrders: r.simulation.entryOrders } : {}),
      },
    },
    rules: o.rules ? 'engine' : 'plain',
    ...(o.rules ? { rulesReport: o.rules } : {}),
    ...(o.byMarket ? { byMarket: o.byMarket } : {}),
    ...(o.byRun ? { byRun: o.byRun } : {}),
    benchmark: benchmarkOf(r),
    metrics: r.metrics,
    trades: r.simulation.trades,
    equity,
  };
}

export class BacktestArchive {
  constructor(
    private readonly db: Kysely<Database>,
    /** Statements committed in one transaction (the journal's writer). */
    private readonly write: (queries: readonly CompiledQuery[]) => Promise<number[]>,
    private readonly instance: string,
  ) {}

  /** Keep a backtest (and its chart); its new id. */
  async keep(b: Omit<KeptBacktest, 'id'>, chart?: Uint8Array): Promise<string> {
    // Ids are random: on the rare clash with a kept one, another is drawn.
    for (let attempt = 0; ; attempt++) {
      const id = newId();
      if (attempt < 5 && (await this.exists(id))) continue;
      const { metrics, candles } = b;
      await this.write([
        this.db
          .insertInto('backtests')
          .values({
            instance: this.instance,
            id,
            created_at: b.createdAt,
            by: b.by,
            strategy: b.strategy,
            symbol: candles.symbol ?? '',
            timeframe: candles.timeframe,
            rules: b.rules,
            start_time: metrics.startTime,
            end_time: metrics.endTime,
            total_return: metrics.totalReturn,
            trades: metrics.trades,
            data: JSON.stringify({ ...b, id }),
            chart: chart ?? null,
          })
          .compile(),
      ]);
      return id;
    }
  }

  private async exists(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('backtests')
      .select('id')
      .where('instance', '=', this.instance)
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The newest first. */
  async list(limit = 20): Promise<BacktestListing[]> {
    const rows = await this.db
      .selectFrom('backtests')
      .select([
        'id',
        'created_at',
        'by',
        'strategy',
        'symbol',
        'timeframe',
        'rules',
        'start_time',
        'end_time',
        'total_return',
        'trades',
      ])
      .where('instance', '=', this.instance)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: Number(r.created_at),
      by: r.by,
      strategy: r.strategy,
      symbol: r.symbol,
      timeframe: r.timeframe,
      rules: r.rules as KeptBacktest['rules'],
      startTime: Number(r.start_time),
      endTime: Number(r.end_time),
      totalReturn: Number(r.total_return),
      trades: Number(r.trades),
    }));
  }

  /** How many are kept. */
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('backtests')
      .select((e) => e.fn.countAll<number>().as('n'))
      .where('instance', '=', this.instance)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** A kept backtest, or NOT_FOUND saying which ids there are. */
  async get(rawId: string): Promise<KeptBacktest & { chart?: Uint8Array }> {
    const id = rawId.toUpperCase();
    const row = await this.db
      .selectFrom('backtests')
      .select(['data', 'chart'])
      .where('instance', '=', this.instance)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) {
      const recent = (await this.list(5)).map((b) => b.id);
      throw new AppError(
        'NOT_FOUND',
        `no kept backtest ${rawId}; ${recent.length ? `the latest: ${recent.join(', ')}` : 'none is kept yet: each backtest run is kept'}`,
      );
    }
    const kept = JSON.parse(row.data) as KeptBacktest;
    return row.chart ? { ...kept, chart: new Uint8Array(row.chart) } : kept;
  }
}

/**
 * The archive of the journal in DATA_DIR (or at DATABASE_URL), for a process that keeps no book (the
 * CLI): opened, and brought up to date, without the lock a bot's book takes.
 */
export async function openArchive(o: {
  dataDir: string;
  url?: string | undefined;
  instance: string;
}): Promise<{ archive: BacktestArchive; where: string; close(): Promise<void> }> {
  const conn = await openDatabase({ dataDir: o.dataDir, url: o.url });
  return {
    archive: new BacktestArchive(conn.db, (q) => conn.write(q), o.instance),
    where: conn.where,
    close: () => conn.close(),
  };
}
