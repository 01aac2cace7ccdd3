/**
 * Reading the journal: the questions reports, commands and exports ask of the history, each one an
 * indexed query whose cost follows what it returns, not how much is kept. Every query is scoped to
 * one instance and book.
 */
import type { Kysely } from 'kysely';
import type { SettingsChange, SnapshotRecord, TradeRecord } from './records.js';
import type { Database } from './schema.js';

export interface TradeQuery {
  quote?: string | undefined;
  runId?: string | undefined;
  /** Exit time at or after. */
  from?: number | undefined;
  /** Exit time before. */
  to?: number | undefined;
  /** The latest `limit` trades (still returned oldest first). */
  limit?: number | undefined;
}

export interface TradeCounts {
  trades: number;
  wins: number;
  losses: number;
  pnl: number;
}

export class Journal {
  constructor(
    readonly db: Kysely<Database>,
    readonly instance: string,
    readonly book: string,
  ) {}

  private scoped<T extends keyof Database>(table: T) {
    return this.db
      .selectFrom(table as keyof Database)
      .where('instance' as never, '=', this.instance as never)
      .where('book' as never, '=', this.book as never);
  }

  /** Whether a v0.1 file of this name was imported already. */
  async imported(file: string): Promise<boolean> {
    const row = await this.scoped('imports').select('file').where('file', '=', file).executeTakeFirst();
    return row !== undefined;
  }

  /** Whether this book already has state (documents written by a bosun that ran on it). */
  async inUse(): Promise<boolean> {
    const row = await this.scoped('documents').select('key').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** This book's trades, narrowed by a query's quote, run and window of exit times. */
  private tradesOf(q: Omit<TradeQuery, 'limit'>) {
    let query = this.db
      .selectFrom('trades')
      .where('instance', '=', this.instance)
      .where('book', '=', this.book);
    if (q.quote !== undefined) query = query.where('quote', '=', q.quote);
    if (q.runId !== undefined) query = query.where('run_id', '=', q.runId);
    if (q.from !== undefined && Number.isFinite(q.from)) query = query.where('exit_time', '>=', q.from);
    if (q.to !== undefined && Number.isFinite(q.to)) query = query.where('exit_time', '<', q.to);
    return query;
  }

  /** Closed trades, oldest first. */
  async trades(q: TradeQuery = {}): Promise<TradeRecord[]> {
    let query = this.tradesOf(q).selectAll();
    if (q.limit !== undefined)
      query = query.orderBy('exit_time', 'desc').orderBy('id', 'desc').limit(q.limit);
    else query = query.orderBy('exit_time', 'asc').orderBy('id', 'asc');
    const rows = await query.execute();
    const trades = rows.map(toTrade);
    return q.limit !== undefined ? trades.reverse() : trades;
  }

  /** How many trades closed (in a window of exit times), won, lost, and their summed PnL. */
  async tradeCounts(q: Omit<TradeQuery, 'limit'> = {}): Promise<TradeCounts> {
    const row = await this.tradesOf(q)
      .select((eb) => [
        eb.fn.countAll<number>().as('trades'),
        eb.fn.sum<number>(eb.case().when('pnl', '>', 0).then(1).else(0).end()).as('wins'),
        eb.fn.sum<number>(eb.case().when('pnl', '<', 0).then(1).else(0).end()).as('losses'),
        eb.fn.sum<number>('pnl').as('pnl'),
      ])
      .executeTakeFirst();
    return {
      trades: Number(row?.trades ?? 0),
      wins: Number(row?.wins ?? 0),
      losses: Number(row?.losses ?? 0),
      pnl: Number(row?.pnl ?? 0),
    };
  }

  /** PnL realised by exit fills of `quote` in [from, to), closed trades and open positions alike. */
  async realized(quote: string, from: number, to: number): Promise<number> {
    let query = this.db
      .selectFrom('fills')
      .where('instance', '=', this.instance)
      .where('book', '=', this.book)
      .where('quote', '=', quote)
      .where('kind', '=', 'exit');
    if (Number.isFinite(from)) query = query.where('time', '>=', from);
    if (Number.isFinite(to)) query = query.where('time', '<', to);
    const row = await query.select((eb) => eb.fn.sum<number>('pnl').as('pnl')).executeTakeFirst();
    return Number(row?.pnl ?? 0);
  }

  /** The account value of `quote` at time t: the last point at or before t (undefined: none yet). */
  equityAt(quote: string, t: number): Promise<number | undefined> {
    return this.lastEquityIn(quote, Number.NEGATIVE_INFINITY, t);
  }

  /** The last equity point of `quote` with a time in (after, upTo]; `after` may be -Infinity. */
  async lastEquityIn(quote: string, after: number, upTo: number): Promise<number | undefined> {
    if (upTo === Number.NEGATIVE_INFINITY) return undefined;
    let query = this.db
      .selectFrom('equity')
      .select('equity')
      .where('instance', '=', this.instance)
      .where('book', '=', this.book)
      .where('quote', '=', quote)
      .where('time', '<=', upTo);
    if (Number.isFinite(after)) query = query.where('time', '>', after);
    const row = await query.orderBy('time', 'desc').limit(1).executeTakeFirst();
    return row?.equity;
  }

  /** Equity points of `quote` in [from, to], oldest first. */
  async equity(quote: string, from: number, to: number): Promise<Array<{ time: number; equity: number }>> {
    return this.db
      .selectFrom('equity')
      .select(['time', 'equity'])
      .where('instance', '=', this.instance)
      .where('book', '=', this.book)
      .where('quote', '=', quote)
      .where('time', '>=', from)
      .where('time', '<=', to)
      .orderBy('time', 'asc')
      .execute();
  }

  /** The latest settings changes of this instance (both books), newest first; `except` one author's. */
  async settingsHistory(
    limit: number,
    options: { key?: string; except?: string } = {},
  ): Promise<Array<SettingsChange & { book: string }>> {
    let q = this.db.selectFrom('settings_changes').selectAll().where('instance', '=', this.instance);
    if (options.key !== undefined) q = q.where('key', '=', options.key);
    if (options.except !== undefined) q = q.where('who', '!=', options.except);
    const rows = await q.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      at: r.at,
      who: r.who,
      key: r.key,
      old: r.old_value,
      new: r.new_value,
      book: r.book,
    }));
  }

  /** How many settings one author recorded, and when first (the first start's baseline). */
  async settingsBy(who: string): Promise<{ count: number; at?: number }> {
    const row = await this.db
      .selectFrom('settings_changes')
      .where('instance', '=', this.instance)
      .where('who', '=', who)
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min<number>('at').as('at')])
      .executeTakeFirst();
    const count = Number(row?.n ?? 0);
    return count > 0 ? { count, at: Number(row!.at) } : { count };
  }

  /** The value each settings key was last given (by anyone): what the start-up config is compared with. */
  async lastSettings(): Promise<Map<string, string | null>> {
    const rows = await this.db
      .selectFrom('settings_changes')
      .select(['key', 'new_value', 'seq'])
      .where('instance', '=', this.instance)
      .where('book', '=', this.book)
      .orderBy('seq', 'asc')
      .execute();
    const out = new Map<string, string | null>();
    for (const r of rows) out.set(r.key, r.new_value);
    return out;
  }

  /** The latest `limit` scanner snapshots, oldest first. */
  async snapshots(limit: number): Promise<SnapshotRecord[]> {
    const rows = await this.db
      .selectFrom('snapshots')
      .selectAll()
      .where('instance', '=', this.instance)
      .where('book', '=', this.book)
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.reverse().map((r) => ({
      at: r.at,
      symbol: r.symbol,
      timeframe: r.timeframe,
      candles: JSON.parse(r.candles) as SnapshotRecord['candles'],
      indicators: JSON.parse(r.indicators) as SnapshotRecord['indicators'],
      orderBook:
        r.bid === null || r.ask === null
          ? null
          : { bid: r.bid, bidSize: r.bid_size ?? 0, ask: r.ask, askSize: r.ask_size ?? 0 },
      correlationBtc: r.correlation_btc,
    }));
  }

  /** Rows kept of each history kind (for `/status`). */
  async count(
    table: 'decisions' | 'trades' | 'fills' | 'equity' | 'notifications' | 'snapshots',
  ): Promise<number> {
    const row = await this.scoped(table)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number((row as { n?: number } | undefined)?.n ?? 0);
  }
}

function toTrade(r: Database['trades']): TradeRecord {
  return {
    id: r.id,
    runId: r.run_id,
    symbol: r.symbol,
    quote: r.quote,
    side: r.side as TradeRecord['side'],
    entryTime: r.entry_time,
    entryPrice: r.entry_price,
    exitTime: r.exit_time,
    exitPrice: r.exit_price,
    quantity: r.quantity,
    pnl: r.pnl,
    returnPct: r.return_pct,
    fees: r.fees,
    exitReason: r.exit_reason,
    bars: r.bars,
    exits: JSON.parse(r.exits) as TradeRecord['exits'],
    ...(r.entries ? { entries: JSON.parse(r.entries) as NonNullable<TradeRecord['entries']> } : {}),
  };
}
