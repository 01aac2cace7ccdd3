/**
 * The shapes of the records bosun keeps, as zod schemas: what the engine holds in memory, what the
 * journal keeps as JSON beside its columns, and what a v0.1 state file (`bosun.json`, one JSON
 * document) held, which {@link LegacyStateSchema} reads for the import.
 */
import { z } from 'zod';
import type { CandlesTable } from './schema.js';

export const ButtonRecord = z.object({
  command: z.string(),
  args: z.array(z.string()),
  /** `platform:chatId` the button was sent to; a press from another chat is refused. */
  chat: z.string(),
  once: z.boolean(),
  createdAt: z.number(),
  expiresAt: z.number(),
  usedAt: z.number().optional(),
  usedBy: z.string().optional(),
});
export type ButtonRecord = z.infer<typeof ButtonRecord>;

/** NaN and the infinities do not survive JSON; these numbers carry them as null / strings. */
const Num = z.union([z.number(), z.null(), z.literal('inf')]);

export const ExitFillRecord = z.object({
  time: z.number(),
  price: z.number(),
  quantity: z.number(),
  fee: z.number(),
  pnl: z.number(),
  reason: z.enum(['signal', 'stop', 'trailing-stop', 'take-profit', 'time', 'end', 'manual']),
});

const EntryFillRecord = z.object({
  time: z.number(),
  price: z.number(),
  quantity: z.number(),
  fee: z.number(),
});

const AddLevelRecord = z.union([
  z.object({ at: z.number(), share: z.number() }),
  z.object({ price: z.number(), share: z.number() }),
]);

/** What a position's stop and targets follow after an add. */
const FollowRecord = z.object({
  stopLoss: z.number().optional(),
  takeProfit: z.array(z.object({ at: z.number(), close: z.number() })).optional(),
  trailing: z.object({ activation: z.number(), offset: z.number() }).optional(),
});

/**
 * A position's adds (an entry ladder, DCA; see `backtest/fills.ts` `Adds`): the resting levels, the
 * next to fill, the entry fills (the first, then each add), and what its stop and targets follow.
 */
const AddsRecord = z.object({
  prices: z.array(z.number()),
  amounts: z.array(z.number()),
  next: z.number(),
  fills: z.array(EntryFillRecord),
  rules: FollowRecord,
  stopPrice: Num,
  targetPrice: Num,
  targetPrices: z.array(z.number()).optional(),
});

export const RunRecord = z.object({
  id: z.string(),
  strategy: z.string(),
  symbol: z.string(),
  timeframe: z.string(),
  params: z.record(z.string(), z.unknown()),
  approve: z.enum(['auto', 'manual']),
  state: z.enum(['active', 'paused', 'stopped']),
  /** Why the run is paused or stopped. */
  reason: z.string().optional(),
  createdAt: z.number(),
  createdBy: z.string(),
  /** Open time of the last candle this run processed (engine clock). */
  lastBar: z.number().optional(),
  lastSignal: z.object({ id: z.string(), time: z.number(), side: z.string(), status: z.string() }).optional(),
  /** Orders decided at the last close, filled at the next candle's open. */
  pendingExit: z.string().optional(),
  pendingEntry: z.object({ signalId: z.string(), size: z.number() }).optional(),
  realizedPnl: z.number(),
  trades: z.number(),
});
export type RunRecord = z.infer<typeof RunRecord>;

export const SignalRecord = z.object({
  id: z.string(),
  runId: z.string(),
  symbol: z.string(),
  timeframe: z.string(),
  strategy: z.string(),
  side: z.enum(['long', 'short']),
  /** Open time of the bar whose close made the signal. */
  barTime: z.number(),
  createdAt: z.number(),
  price: z.number(),
  /** Absolute stop and target the strategy gave (null: none; the exit rules apply). */
  signalStop: z.number().nullable(),
  signalTarget: z.number().nullable(),
  /** Estimated stop and targets at the signal's price. */
  stop: z.number().nullable(),
  targets: z.array(z.number()),
  quantity: z.number(),
  risk: z.number(),
  rewardRisk: z.number().nullable(),
  /** `ordered`: sent to the exchange (live), waiting for the fill. */
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'refused', 'ordered', 'filled', 'skipped']),
  reason: z.string().optional(),
  /** Share of the proposed size taken (0.5 for "half size"). */
  size: z.number().optional(),
  decidedBy: z.string().optional(),
  decidedAt: z.number().optional(),
  /** Wall-clock expiry of a pending approval. */
  expiresAt: z.number().optional(),
  /** Where the signal was announced: `platform:chatId` and the message id, for later edits. */
  messages: z.array(z.object({ chat: z.string(), ref: z.string() })),
  indicators: z.record(z.string(), z.number().nullable()),
  /** The strategy's own words on why it signalled (for ict-confluence: which conditions held). */
  note: z.string().optional(),
  /** The regime the signal was sized in, e.g. "RISK_ON x0.8". */
  regime: z.string().optional(),
  /** Why half the size cannot be taken (under the exchange's minimums): no "Half size" button. */
  noHalf: z.string().optional(),
  /** Absolute take-profit ladder, nearest first, each level an equal share (replaces signalTarget). */
  signalTargets: z.array(z.number()).optional(),
  /**
   * Adds after the first fill (an entry ladder, DCA), as the position will place them: the run's
   * rules', or a signal's own absolute levels (a pasted entry zone), which replace them.
   */
  adds: z.array(AddLevelRecord).optional(),
  /**
   * A trade by hand (/buy, /sell, a followed pasted signal): who asked, the quantity asked for (none:
   * the risk manager's), a trailing stop's distance (fraction), and where it came from.
   */
  manual: z
    .object({
      by: z.string(),
      quantity: z.number().optional(),
      trail: z.number().optional(),
      source: z.string().optional(),
    })
    .optional(),
});
export type SignalRecord = z.infer<typeof SignalRecord>;

export const PositionRecord = z.object({
  id: z.string(),
  runId: z.string(),
  signalId: z.string(),
  symbol: z.string(),
  quote: z.string(),
  side: z.union([z.literal(1), z.literal(-1)]),
  entryIndex: z.number(),
  entryTime: z.number(),
  entryPrice: z.number(),
  initialQty: z.number(),
  qty: z.number(),
  entryFee: z.number(),
  stop: Num,
  targetPrices: z.array(z.number()),
  targetQty: z.array(Num),
  nextTarget: z.number(),
  trailActivation: Num,
  trailOffset: z.number(),
  best: z.number(),
  trailStop: Num,
  /** Live: the client id of the exchange-side stop order protecting it. */
  stopOrder: z.string().optional(),
  /** Live: an exit order is working (its reason). */
  closing: z.string().optional(),
  barsHeld: z.number(),
  /**
   * How far the stream has shown it its series' forming candle (open time, extremes so far, last
   * price), written with each change the stream makes between closes.
   */
  met: z.object({ time: z.number(), high: z.number(), low: z.number(), last: z.number() }).optional(),
  exits: z.array(ExitFillRecord),
  /** Adds after the first fill (an entry ladder, DCA); `entryPrice` is then the average entry. */
  adds: AddsRecord.optional(),
  /** Last close seen, for unrealised PnL. */
  mark: z.number(),
});
export type PositionRecord = z.infer<typeof PositionRecord>;

export const TradeRecord = z.object({
  id: z.string(),
  runId: z.string(),
  symbol: z.string(),
  quote: z.string(),
  side: z.enum(['long', 'short']),
  entryTime: z.number(),
  entryPrice: z.number(),
  exitTime: z.number(),
  exitPrice: z.number(),
  quantity: z.number(),
  pnl: z.number(),
  returnPct: z.number(),
  fees: z.number(),
  exitReason: z.string(),
  bars: z.number(),
  exits: z.array(ExitFillRecord),
  /** With adds that filled: every entry fill, the first then each add (`entryPrice` is their average). */
  entries: z.array(EntryFillRecord).optional(),
});
export type TradeRecord = z.infer<typeof TradeRecord>;

export const DecisionRecord = z.object({
  time: z.number(),
  runId: z.string(),
  kind: z.string(),
  detail: z.string(),
  signalId: z.string().optional(),
  indicators: z.record(z.string(), z.number().nullable()),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

export const EngineRecord = z.object({
  nextId: z.number(),
  /** Set while the drawdown kill-switch holds: no run may trade until an admin resumes. */
  killSwitch: z.object({ at: z.number(), reason: z.string() }).optional(),
  /** Highest account value seen per quote currency (for drawdown). */
  peak: z.record(z.string(), z.number()),
  /** Account value at the start of the current day per quote currency (daily loss limit). */
  day: z.object({ start: z.number(), equity: z.record(z.string(), z.number()) }).optional(),
  /** Replay position: open time of the last candle delivered. */
  replay: z.object({ file: z.string(), cursor: z.number() }).optional(),
  /** Engine-clock time of the last daily report sent. */
  lastReport: z.number().optional(),
  /**
   * What the risk manager needs from closed trades, kept as they close (the trades themselves are
   * in the journal): the last losing exit per symbol (cooldown) and the latest PnLs per quote.
   */
  recent: z
    .object({
      lastLoss: z.record(z.string(), z.number()),
      closedPnls: z.record(z.string(), z.array(z.number())),
    })
    .optional(),
});
export type EngineRecord = z.infer<typeof EngineRecord>;

/** A live order, recorded before it is sent; its client id (`id`) is what makes a retry safe. */
export const OrderRecord = z.object({
  /** The client order id sent to the exchange, derived from the signal or position. */
  id: z.string(),
  exchangeId: z.string().optional(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['market', 'limit', 'stop']),
  amount: z.number(),
  price: z.number().optional(),
  stopPrice: z.number().optional(),
  /** `add`: a resting limit order of a position's entry ladder. */
  purpose: z.enum(['entry', 'exit', 'stop', 'add']),
  /** Why an exit is made (the position's exit reason). */
  reason: z.string().optional(),
  positionId: z.string(),
  runId: z.string(),
  signalId: z.string().optional(),
  /**
   * An entry's exit rules (its strategy's, with the default stop): they travel with the order, so the
   * fill becomes a position with them whenever it comes, after a restart too. Absent on orders
   * recorded before the field existed: such a fill keeps the signal's own stop and target only.
   */
  rules: FollowRecord.extend({
    maxBars: z.number().optional(),
    adds: z.array(AddLevelRecord).optional(),
  }).optional(),
  /** An entry with adds: the position's full size, which the adds complete (the entry buys the first part). */
  full: z.number().optional(),
  /** An add: which level of its position's adds it is. */
  level: z.number().optional(),
  /** An add withdrawn while it rests on the exchange (why): the broker cancels it. */
  cancel: z.string().optional(),
  /**
   * `new`: recorded, not known to have reached the exchange; `open`: working there; `unknown`: sent,
   * outcome not learned yet (reconciliation looks it up by client id); the rest are final.
   */
  status: z.enum(['new', 'open', 'unknown', 'filled', 'cancelled', 'rejected']),
  /** Quantity filled and booked into the position so far, its average price and fees (quote). */
  filled: z.number(),
  average: z.number().optional(),
  fee: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** Limit entries: wall-clock time after which the rest is cancelled (then market or nothing). */
  deadline: z.number().optional(),
  /**
   * Wall-clock time of the last request that carried it, written before the request leaves. Absent:
   * never sent. A restart that finds it and no such order on the exchange waits out the resend grace
   * before sending it again, as the request may still be carried out.
   */
  sentAt: z.number().optional(),
  error: z.string().optional(),
  note: z.string().optional(),
});
export type OrderRecord = z.infer<typeof OrderRecord>;

const RegimeState = z.enum(['RISK_ON', 'RISK_OFF', 'CHOP', 'DECOUPLED']);

export const RegimeChangeRecord = z.object({
  at: z.number(),
  from: RegimeState.nullable(),
  to: RegimeState,
  confidence: z.number(),
  why: z.string(),
});
export type RegimeChangeRecord = z.infer<typeof RegimeChangeRecord>;

/** The market regime after hysteresis, and its recent changes (all of them are in the journal). */
export const RegimeRecord = z.object({
  state: RegimeState,
  since: z.number(),
  history: z.array(RegimeChangeRecord),
});
export type RegimeRecord = z.infer<typeof RegimeRecord>;

/** A chat that gets notifications (`platform:chatId`) and the categories it muted. */
export const SubscriptionRecord = z.object({ since: z.number(), muted: z.array(z.string()) });
export type SubscriptionRecord = z.infer<typeof SubscriptionRecord>;

export const SettingsRecord = z.object({
  risk: z.record(z.string(), z.unknown()).default({}),
  /** Admins' changes to the market filters, by filter name, as typed. */
  pairlist: z.record(z.string(), z.string()).default({}),
});
export type SettingsRecord = z.infer<typeof SettingsRecord>;

/** Live trading: who confirmed it; what reconciliation already reported (said once). */
export const LiveRecord = z.object({
  confirmedBy: z.string().optional(),
  confirmedAt: z.number().optional(),
  lastSync: z.number().optional(),
  /** Quote cash at the first sync, per currency: where "since start" counts from. */
  initial: z.record(z.string(), z.number()).default({}),
  reported: z.array(z.string()).default([]),
});
export type LiveRecord = z.infer<typeof LiveRecord>;

/**
 * A person's alert (/alert): a price, an indicator, a position's PnL or its nearness to its stop,
 * checked on closed candles and on the stream; told to the chat it was set in, once, or at each new
 * crossing with `repeat`.
 */
export const AlertRecord = z.object({
  id: z.string(),
  kind: z.enum(['price', 'indicator', 'pnl', 'near-stop']),
  /** The market (for a position's alert, its market). */
  symbol: z.string(),
  /** The candles it is checked on. */
  timeframe: z.string(),
  /** An indicator's name as typed (rsi14, ema20). */
  indicator: z.string().optional(),
  position: z.string().optional(),
  op: z.enum(['>', '<']),
  /** A price, an indicator value, a PnL fraction (0.05), or a distance to the stop (0.01). */
  level: z.number(),
  repeat: z.boolean(),
  /** `platform:chatId` it was set in, and by whom. */
  chat: z.string(),
  by: z.string(),
  createdAt: z.number(),
  /** Whether the condition held at the last check (a crossing is a change from false to true). */
  held: z.boolean().optional(),
  firedAt: z.number().optional(),
  fired: z.number().default(0),
  /** Off: fired (not repeating), or its position closed. */
  armed: z.boolean(),
  why: z.string().optional(),
});
export type AlertRecord = z.infer<typeof AlertRecord>;

/** What a person asks for with /alert: the alert before it has an id, a chat and a timeframe chosen. */
export type AlertAsk = Pick<AlertRecord, 'kind' | 'symbol' | 'op' | 'level' | 'repeat'> & {
  timeframe?: string;
  indicator?: string;
  position?: string;
};

/** Account value of one quote currency after a closed bar (engine clock). */
export interface EquityPoint {
  time: number;
  quote: string;
  equity: number;
}

/** A message the notifier delivered to a chat. */
export interface NotificationRecord {
  time: number;
  chat: string;
  category: string;
  text: string;
}

/** A settings change: when (wall clock), who (a person, or `config` for the start-up settings), what. */
export interface SettingsChange {
  at: number;
  who: string;
  key: string;
  old: string | null;
  new: string | null;
}

/** A scanner snapshot of one market: its last candles, indicators and the top of its order book. */
export interface SnapshotRecord {
  at: number;
  symbol: string;
  timeframe: string;
  candles: Array<[number, number, number, number, number, number]>;
  indicators: Record<string, number | null>;
  orderBook: { bid: number; bidSize: number; ask: number; askSize: number } | null;
  correlationBtc: number | null;
}

/** A closed candle of a series the engine follows (the collected market data), as the journal keeps it. */
export type CandleRow = CandlesTable;

/** A whole v0.1 state file, `bosun.json` (or `bosun-live.json`): what the import reads. */
export const LegacyStateSchema = z.looseObject({
  version: z.literal(1),
  install: z.object({
    id: z.string().min(8),
    /** Signs chat buttons (HMAC); never leaves this file. */
    secret: z.string().min(32),
    createdAt: z.number(),
  }),
  buttons: z.record(z.string(), ButtonRecord),
  engine: EngineRecord.default({ nextId: 1, peak: {} }),
  runs: z.record(z.string(), RunRecord).default({}),
  signals: z.record(z.string(), SignalRecord).default({}),
  positions: z.record(z.string(), PositionRecord).default({}),
  trades: z.array(TradeRecord).default([]),
  /** Paper cash per quote currency. */
  balances: z.record(z.string(), z.number()).default({}),
  /** Account value per quote currency over time (engine clock), one point per closed bar at most. */
  equity: z.array(z.object({ time: z.number(), quote: z.string(), equity: z.number() })).default([]),
  /** Chats that get notifications: `platform:chatId` -> muted categories. */
  subscriptions: z.record(z.string(), SubscriptionRecord).default({}),
  settings: SettingsRecord.default({ risk: {}, pairlist: {} }),
  /** The market regime after hysteresis, and its recent changes. */
  regime: RegimeRecord.optional(),
  decisions: z.array(DecisionRecord).default([]),
  /** Live orders by client id (paper trading has none). */
  orders: z.record(z.string(), OrderRecord).default({}),
  /** Live trading: who confirmed it; what reconciliation already reported (said once). */
  live: LiveRecord.default({ initial: {}, reported: [] }),
});
export type LegacyState = z.infer<typeof LegacyStateSchema>;
