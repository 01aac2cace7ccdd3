/**
 * The journal's tables, as Kysely sees them. One schema serves SQLite and PostgreSQL; the
 * migrations in `migrations.ts` create it. Times are epoch milliseconds; prices and amounts are
 * doubles; records whose shape the engine owns are kept whole as JSON text in `data`, beside the
 * columns a query or an export needs.
 *
 * Every row bosun writes is tagged with its `instance` (one bosun process: several may share one
 * PostgreSQL database) and its `book` (`paper` or `live`: the two accounts never mix). Candles are
 * market data, the same for every instance, and are tagged with their source instead.
 *
 * Two kinds of table:
 * - **the working set** (`runs`, `signals`, `positions`, `orders`, `buttons`, `subscriptions`,
 *   `documents`): the engine's current records, loaded at start. A record that leaves the working
 *   set (a closed position, an old signal, a used button) keeps its row with `current = 0`.
 * - **the history** (everything else): rows appended as things happen, never changed, kept for as
 *   long as the retention setting for their kind says (by default, for ever).
 */
import type { Generated } from 'kysely';

/** The columns every row bosun writes carries. */
interface Scoped {
  instance: string;
  book: string;
}

/** A working-set record: its key, whether it is still in the working set, and the record as JSON. */
interface WorkingRow extends Scoped {
  id: string;
  current: number;
  updated_at: number;
  data: string;
}

export interface RunsTable extends WorkingRow {
  strategy: string;
  symbol: string;
  timeframe: string;
  state: string;
  created_at: number;
}

export interface SignalsTable extends WorkingRow {
  run_id: string;
  symbol: string;
  side: string;
  status: string;
  bar_time: number;
  created_at: number;
}

export interface PositionsTable extends WorkingRow {
  run_id: string;
  symbol: string;
  quote: string;
  side: number;
  entry_time: number;
}

export interface OrdersTable extends WorkingRow {
  run_id: string;
  position_id: string;
  symbol: string;
  purpose: string;
  status: string;
  created_at: number;
}

export interface ButtonsTable extends WorkingRow {
  command: string;
  chat: string;
  created_at: number;
  expires_at: number;
}

export type SubscriptionsTable = WorkingRow;

/** Records of which there is one per book: the engine's counters, balances, settings, regime, live. */
export interface DocumentsTable extends Scoped {
  key: string;
  updated_at: number;
  data: string;
}

export interface DecisionsTable extends Scoped {
  seq: Generated<number>;
  time: number;
  run_id: string;
  kind: string;
  detail: string;
  signal_id: string | null;
  /** The strategy's indicator values at the bar, JSON: `{ "ema12": 101.2, ... }`. */
  indicators: string;
}

export interface TradesTable extends Scoped {
  id: string;
  run_id: string;
  symbol: string;
  quote: string;
  side: string;
  entry_time: number;
  entry_price: number;
  exit_time: number;
  exit_price: number;
  quantity: number;
  pnl: number;
  return_pct: number;
  fees: number;
  exit_reason: string;
  bars: number;
  /** The exit fills, JSON (also rows of `fills`). */
  exits: string;
  /** With adds that filled: every entry fill, JSON (`0003_trade_entries`; null otherwise). */
  entries: string | null;
}

export interface FillsTable extends Scoped {
  seq: Generated<number>;
  position_id: string;
  run_id: string;
  symbol: string;
  quote: string;
  /** `entry`, `add` (an add of an entry ladder or DCA) or `exit`. */
  kind: string;
  /** 1 long, -1 short: the position's side. */
  side: number;
  time: number;
  price: number;
  quantity: number;
  fee: number;
  /** Realised PnL of an exit (0 for entries). */
  pnl: number;
  reason: string;
}

export interface EquityTable extends Scoped {
  quote: string;
  time: number;
  equity: number;
}

export interface NotificationsTable extends Scoped {
  seq: Generated<number>;
  time: number;
  chat: string;
  category: string;
  text: string;
}

export interface SettingsChangesTable extends Scoped {
  seq: Generated<number>;
  at: number;
  who: string;
  key: string;
  old_value: string | null;
  new_value: string | null;
}

export interface RegimeChangesTable extends Scoped {
  seq: Generated<number>;
  at: number;
  from_state: string | null;
  to_state: string;
  confidence: number;
  why: string;
}

export interface SnapshotsTable extends Scoped {
  seq: Generated<number>;
  at: number;
  symbol: string;
  timeframe: string;
  bid: number | null;
  bid_size: number | null;
  ask: number | null;
  ask_size: number | null;
  correlation_btc: number | null;
  indicators: string;
  /** The last candles, JSON `[[time, open, high, low, close, volume], ...]`. */
  candles: string;
}

export interface CandlesTable {
  /** Where the candle came from: the exchange id, or `replay` / `samples`. */
  source: string;
  symbol: string;
  timeframe: string;
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Pruning done by a retention setting: what, when and how much. Never silent. */
export interface PrunesTable extends Scoped {
  seq: Generated<number>;
  at: number;
  kind: string;
  rows: number;
  before: number;
}

/** A v0.1 state file taken into the journal, and where the original was kept. */
export interface ImportsTable extends Scoped {
  file: string;
  at: number;
  backup: string;
  detail: string;
}

/**
 * A backtest kept from the CLI or chat (not tied to a book): the figures to list and sort by, the
 * whole result as JSON, and the chart as it was sent.
 */
export interface BacktestsTable {
  instance: string;
  /** Short, for typing in chat: `B7K2Q`. */
  id: string;
  created_at: number;
  /** Who ran it: a chat caller's name, or `cli`. */
  by: string;
  strategy: string;
  symbol: string;
  timeframe: string;
  /** `plain` or `engine` (`--rules engine`). */
  rules: string;
  start_time: number;
  end_time: number;
  total_return: number;
  trades: number;
  /** JSON: parameters, settings, candle source, metrics, trades, the equity curve, the rules' report. */
  data: string;
  /** The chart PNG sent with it, if one was drawn. */
  chart: Uint8Array | null;
}

export interface Database {
  runs: RunsTable;
  signals: SignalsTable;
  positions: PositionsTable;
  orders: OrdersTable;
  buttons: ButtonsTable;
  subscriptions: SubscriptionsTable;
  documents: DocumentsTable;
  decisions: DecisionsTable;
  trades: TradesTable;
  fills: FillsTable;
  equity: EquityTable;
  notifications: NotificationsTable;
  settings_changes: SettingsChangesTable;
  regime_changes: RegimeChangesTable;
  snapshots: SnapshotsTable;
  candles: CandlesTable;
  prunes: PrunesTable;
  imports: ImportsTable;
  backtests: BacktestsTable;
}

/** The working-set tables, by the State collection each one keeps. */
export const WORKING_TABLES = {
  runs: 'runs',
  signals: 'signals',
  positions: 'positions',
  orders: 'orders',
  buttons: 'buttons',
  subscriptions: 'subscriptions',
} as const;

/** History kinds, as named by retention settings and `bosun export`. */
export const HISTORY_KINDS = [
  'decisions',
  'trades',
  'fills',
  'equity',
  'notifications',
  'settings_changes',
  'regime_changes',
  'snapshots',
  'candles',
] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];
