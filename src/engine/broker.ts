/**
 * The broker port: what the engine asks of whoever carries out its decisions, paper or live, without
 * ever asking which. Both brokers work on the state document inside the engine's store update (so
 * a decision and its record commit together); what needs the outside world (orders to an exchange)
 * goes out after the write, when the engine calls `flush`.
 *
 * Results say what happened, the same way for both:
 * - `filled`: done now, at the price given (paper);
 * - `ordered`: an order is recorded and goes out after the write; its fill comes later (live);
 * - `refused`: nothing was done, and why.
 */
import type { EntryFill, ExitFill, ExitReason, FillCosts, Side } from '../backtest/fills.js';
import type { Candle } from '../market/types.js';
import type { ExitRules } from '../strategy/define.js';
import type { OrderRecord, PositionRecord, State, StateStore, TradeRecord } from '../store/state.js';
import type { Emit } from './events.js';

/** What a broker gets from the engine: the journal it trades in, and where its own events go. */
export interface BrokerContext {
  store: StateStore;
  emit: Emit;
}

export interface EntryOrder {
  positionId: string;
  runId: string;
  signalId: string;
  symbol: string;
  side: Side;
  time: number;
  /** Reference price: the next candle's open, or the latest price for a decision between candles. */
  price: number;
  /** The exit rules the position gets (they travel with a live order until it fills). */
  rules: ExitRules;
  costs: FillCosts;
  /** Absolute stop and target from the signal (NaN: none). */
  signalStop: number;
  signalTarget: number;
  /** A person's take-profit ladder, nearest first, an equal share each (replaces signalTarget). */
  signalTargets?: readonly number[];
  /** Quantity for a fill price and stop (the risk manager's answer), or why none. */
  size(price: number, stop: number): { quantity: number } | { refused: string };
}

/** Close what is left of a position: a signal or time exit, a person's /close, a panic. */
export interface ExitOrder {
  time: number;
  /** The price a close fills at where bosun fills it (the next open, the latest price). */
  price: number;
  reason: ExitReason;
  costs: FillCosts;
  /** Close only this much (a person's /exit ID 50%); none: all that is left. */
  quantity?: number;
}

export type Refused = { kind: 'refused'; reason: string };
export type Ordered = { kind: 'ordered'; order: OrderRecord };
export type EntryResult = { kind: 'filled'; position: PositionRecord } | Ordered | Refused;
export type CloseResult =
  | { kind: 'filled'; fill: ExitFill; trade: TradeRecord }
  /** Part of the position closed; the rest stays open. */
  | { kind: 'part'; fill: ExitFill }
  | Ordered
  | Refused;

/** The prices of a closed candle a position meets. */
export type BarPrices = Pick<Candle, 'time' | 'open' | 'high' | 'low' | 'close'>;

/** A closed candle against a position: the exits it filled, and the trade when nothing is left. */
export interface BarResult {
  fills: ExitFill[];
  /** Adds that filled (paper; live adds are exchange orders, booked as they fill). */
  adds?: EntryFill[];
  trade?: TradeRecord;
}

export interface Broker {
  /** Connect and settle with the outside world (live: markets, then a reconciliation). */
  start(ctx: BrokerContext): Promise<void>;
  /** Stop sending; resolves when the work in hand is done. */
  stop(): Promise<void>;
  /** Send what the last state write recorded (paper: nothing to send). */
  flush(): void;
  /** Resolves when the orders recorded so far have gone out and their outcomes are booked. */
  idle(): Promise<void>;
  /** Compare the books with the account outside and settle the differences (paper: none). */
  reconcile(): Promise<void>;
  /** Withdraw the orders still working (not the stops that guard positions); how many. */
  cancelWorking(): Promise<number>;

  /** Quote currencies the account has beyond those in the state (the configured paper balances). */
  quotes(): string[];
  /** Cash a quote currency started with (the setting, or the exchange's at the first sync). */
  initialBalance(s: Readonly<State>, quote: string): number;
  /** Cash of a quote currency now. */
  cash(s: Readonly<State>, quote: string): number;
  /** Whether a run has an entry working (so it must not get another). */
  busy(s: Readonly<State>, runId: string): boolean;
  /** Whether a close fills at the price bosun gives it; false: at the exchange's. */
  readonly closesAtGivenPrice: boolean;

  enter(s: State, order: EntryOrder): EntryResult;
  close(s: State, position: PositionRecord, exit: ExitOrder): CloseResult;
  /**
   * A position's stop moved (/adjust): live, a stop resting on the exchange is placed again at the
   * new price (the old one is cancelled before the new one goes out); paper has nothing to do.
   */
  moved(s: State, position: PositionRecord): void;
  /**
   * What prices between closes would do to a position: `act` (an exit or a sell, a target, the
   * trailing stop moved: worth a state change), `none` (nothing: they count as met), or `wait` (it
   * cannot act on the position now, a sell in flight: they are met again later).
   */
  reach(position: PositionRecord, prices: BarPrices, costs: FillCosts): 'act' | 'none' | 'wait';
  /**
   * Prices against an open position (gaps, stop before targets, trailing stop, mark): a closed candle
   * (`closes`: one more bar held), or, between closes, the stretch of the forming candle the stream
   * showed (its fills stamped with `prices.time`).
   */
  applyCandle(
    s: State,
    position: PositionRecord,
    prices: BarPrices,
    costs: FillCosts,
    closes: boolean,
  ): BarResult;
}
