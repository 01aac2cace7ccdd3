/**
 * Retention: the history kinds a setting allows to prune (`RETENTION_<KIND>=90d`; the default is
 * `keep`), pruned a day of rows at a time so no delete holds the journal (or the event loop) for
 * long. Each day's delete commits together with its row in `prunes`, so whatever was pruned is
 * recorded, even when a prune is cut short; every prune is logged and shown by `/status`: nothing
 * is ever dropped silently. Trades, fills and settings changes are never pruned.
 *
 * Age is measured on the clock the rows were written by: the engine's (a replay's time) for what
 * the engine records, the wall clock for notifications. Candles are the market data of the whole
 * journal, shared by every instance on it: their retention prunes them for all.
 */
import type { PrunableKind } from '../config.js';
import type { Logger } from '../logger.js';
import type { StateStore } from './state.js';

const DAY = 86_400_000;

/** The time column of each prunable kind, and whose clock wrote it. */
const TIME: Record<PrunableKind, { column: 'time' | 'at'; clock: 'engine' | 'wall' }> = {
  decisions: { column: 'time', clock: 'engine' },
  equity: { column: 'time', clock: 'engine' },
  notifications: { column: 'time', clock: 'wall' },
  regime_changes: { column: 'at', clock: 'engine' },
  snapshots: { column: 'at', clock: 'engine' },
  candles: { column: 'time', clock: 'engine' },
};

export interface PruneResult {
  kind: PrunableKind;
  rows: number;
  before: number;
}

export interface Clocks {
  /** The engine's clock (a replay's time, or now). */
  engine: number;
  /** The wall clock. */
  wall: number;
}

/** Prune what the retention settings say from `store`'s book (candles: from the whole journal). */
export async function pruneHistory(
  store: StateStore,
  retention: Readonly<Record<PrunableKind, 'keep' | number>>,
  clocks: Clocks,
  logger?: Logger,
): Promise<PruneResult[]> {
  const out: PruneResult[] = [];
  for (const [kind, keep] of Object.entries(retention) as Array<[PrunableKind, 'keep' | number]>) {
    if (keep === 'keep') continue;
    const before = clocks[TIME[kind].clock] - keep * DAY;
    const rows = await pruneKind(store, kind, before, clocks.wall);
    if (rows === 0) continue;
    logger?.info(
      { kind, rows, before: new Date(before).toISOString(), book: store.book },
      `retention: ${rows} ${kind} row(s) older than ${keep} days pruned`,
    );
    out.push({ kind, rows, before });
  }
  return out;
}

/**
 * Delete rows older than `before`, one day of them per transaction (with its record in `prunes`),
 * yielding between. Returns how many.
 */
async function pruneKind(store: StateStore, kind: PrunableKind, before: number, at: number): Promise<number> {
  const db = store.journal.db;
  const scoped = kind !== 'candles';
  // Kysely cannot type a table chosen at run time; the columns used exist on every prunable table.
  const table = kind as 'decisions';
  const col = TIME[kind].column as 'time';
  type Where = { where(column: string, op: string, value: string): Where };
  const inScope = <Q>(q: Q): Q =>
    scoped
      ? ((q as unknown as Where)
          .where('instance', '=', store.instance)
          .where('book', '=', store.book) as unknown as Q)
      : q;
  let removed = 0;
  for (;;) {
    const first = await inScope(db.selectFrom(table).select(col).where(col, '<', before))
      .orderBy(col, 'asc')
      .limit(1)
      .executeTakeFirst();
    if (!first) return removed;
    const until = Math.min(before, Number(first[col]) + DAY);
    // Counted first (rows that old no longer change), so the delete and its record are one commit.
    const counted = await inScope(db.selectFrom(table).where(col, '<', until))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    const rows = Number(counted?.n ?? 0);
    await store.writeQueries([
      inScope(db.deleteFrom(table).where(col, '<', until)).compile(),
      db
        .insertInto('prunes')
        .values({ instance: store.instance, book: store.book, at, kind, rows, before: until })
        .compile(),
    ]);
    removed += rows;
    await new Promise((r) => setImmediate(r));
  }
}

/** The last prune of each kind (its day-by-day records summed), for `/status`. */
export async function lastPrunes(
  store: StateStore,
): Promise<Array<{ kind: string; at: number; rows: number; before: number }>> {
  const rows = await store.journal.db
    .selectFrom('prunes')
    .select(['kind', 'at', 'rows', 'before', 'seq'])
    .where('instance', '=', store.instance)
    .where('book', '=', store.book)
    .orderBy('seq', 'desc')
    .limit(500)
    .execute();
  const last = new Map<string, { kind: string; at: number; rows: number; before: number }>();
  for (const r of rows) {
    const seen = last.get(r.kind);
    if (!seen) last.set(r.kind, { kind: r.kind, at: r.at, rows: Number(r.rows), before: r.before });
    else if (seen.at === r.at) {
      seen.rows += Number(r.rows);
      seen.before = Math.max(seen.before, r.before);
    }
  }
  return [...last.values()];
}
