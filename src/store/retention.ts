/**
 * Retention: the history kinds a setting allows to prune (`RETENTION_<KIND>=90d`; the default is
 * `keep`), pruned a day of rows at a time so no delete holds the journal (or the event loop) for
 * long. Every prune is logged, recorded in the journal's `prunes` table and shown by `/status`:
 * nothing is ever dropped silently. Trades, fills and settings changes are never pruned.
 */
import type { PrunableKind } from '../config.js';
import type { Logger } from '../logger.js';
import type { StateStore } from './state.js';

const DAY = 86_400_000;

/** The time column of each prunable kind. */
const TIME_COLUMN: Record<PrunableKind, 'time' | 'at'> = {
  decisions: 'time',
  equity: 'time',
  notifications: 'time',
  regime_changes: 'at',
  snapshots: 'at',
  candles: 'time',
};

export interface PruneResult {
  kind: PrunableKind;
  rows: number;
  before: number;
}

/**
 * Prune what the retention settings say: for each kind with a number of days, the rows of this
 * instance and book older than that (candles, shared market data, whatever their source).
 */
export async function pruneHistory(
  store: StateStore,
  retention: Readonly<Record<PrunableKind, 'keep' | number>>,
  now: number,
  logger?: Logger,
): Promise<PruneResult[]> {
  const db = store.journal.db;
  const out: PruneResult[] = [];
  for (const [kind, keep] of Object.entries(retention) as Array<[PrunableKind, 'keep' | number]>) {
    if (keep === 'keep') continue;
    const before = now - keep * DAY;
    const rows = await pruneKind(store, kind, before, kind === 'candles' ? undefined : store);
    if (rows === 0) continue;
    await store.writeQueries([
      db
        .insertInto('prunes')
        .values({ instance: store.instance, book: store.book, at: now, kind, rows, before })
        .compile(),
    ]);
    logger?.info(
      { kind, rows, before: new Date(before).toISOString() },
      `retention: ${rows} ${kind} row(s) older than ${keep} days pruned`,
    );
    out.push({ kind, rows, before });
  }
  return out;
}

/** Delete rows older than `before`, one day of them per statement, yielding between. */
async function pruneKind(
  store: StateStore,
  kind: PrunableKind,
  before: number,
  scope: { instance: string; book: string } | undefined,
): Promise<number> {
  const db = store.journal.db;
  const column = TIME_COLUMN[kind];
  // Kysely cannot type a table chosen at run time; the columns used exist on every prunable table.
  const table = kind as 'decisions';
  const col = column as 'time';
  type Where = { where(column: string, op: string, value: string): Where };
  const scoped = <Q>(q: Q): Q =>
    scope
      ? ((q as unknown as Where)
          .where('instance', '=', scope.instance)
          .where('book', '=', scope.book) as unknown as Q)
      : q;
  let removed = 0;
  for (;;) {
    const first = await scoped(db.selectFrom(table).select(col).where(col, '<', before))
      .orderBy(col, 'asc')
      .limit(1)
      .executeTakeFirst();
    if (!first) return removed;
    const until = Math.min(before, Number(first[col]) + DAY);
    // Through the store's writer: its commits and these deletes never wait on each other's lock.
    const [deleted = 0] = await store.writeQueries([
      scoped(db.deleteFrom(table).where(col, '<', until)).compile(),
    ]);
    removed += deleted;
    await new Promise((r) => setImmediate(r));
  }
}

/** The last prune of each kind, for `/status`. */
export async function lastPrunes(
  store: StateStore,
): Promise<Array<{ kind: string; at: number; rows: number; before: number }>> {
  const rows = await store.journal.db
    .selectFrom('prunes')
    .select(['kind', 'at', 'rows', 'before', 'seq'])
    .where('instance', '=', store.instance)
    .where('book', '=', store.book)
    .orderBy('seq', 'desc')
    .limit(50)
    .execute();
  const seen = new Set<string>();
  const out: Array<{ kind: string; at: number; rows: number; before: number }> = [];
  for (const r of rows) {
    if (seen.has(r.kind)) continue;
    seen.add(r.kind);
    out.push({ kind: r.kind, at: r.at, rows: Number(r.rows), before: r.before });
  }
  return out;
}
