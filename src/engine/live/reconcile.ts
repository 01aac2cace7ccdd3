/**
 * The account side of a reconciliation: the exchange's balances, open orders and holdings against
 * bosun's books, inside one state update. Balances are taken as the exchange has them; open orders
 * and holdings bosun did not make are reported once each, never adopted, cancelled or sold.
 */
import type { Market, Order } from 'ccxt';
import { baseOf, quoteOf } from '../../market/symbol.js';
import type { State } from '../../store/state.js';
import type { EngineEvent } from '../events.js';

/** Reported differences remembered (so each is said once), newest kept. */
const MAX_REPORTED = 500;

export interface AccountView {
  /** Total balance per currency, as the exchange reports it. */
  balance: Record<string, number>;
  /** Open orders on the exchange in the symbols bosun trades. */
  openOrders: Order[];
  /** The symbols of bosun's runs and positions. */
  symbols: string[];
  /** The account's quote currencies (cash is tracked in these). */
  quotes: readonly string[];
  markets: Record<string, Market>;
}

/** Report something found on the exchange once (the journal remembers what was said). */
export function reportOnce(s: State, key: string, detail: string, events: EngineEvent[]): void {
  if (s.live.reported.includes(key)) return;
  s.live.reported.push(key);
  if (s.live.reported.length > MAX_REPORTED) s.live.reported.splice(0, s.live.reported.length - MAX_REPORTED);
  events.push({ type: 'reconcile', detail });
}

export function compareAccount(s: State, a: AccountView, events: EngineEvent[]): void {
  const say = (key: string, detail: string) => reportOnce(s, key, detail, events);
  for (const q of new Set([...a.quotes, ...a.symbols.map(quoteOf), ...Object.keys(s.balances)])) {
    s.balances[q] = a.balance[q] ?? 0;
    s.live.initial[q] ??= s.balances[q];
  }
  for (const eo of a.openOrders)
    if (!eo.clientOrderId || !s.orders[eo.clientOrderId])
      say(
        `order:${eo.id}`,
        `order ${eo.id} (${eo.side} ${eo.amount} ${eo.symbol}) is open on the exchange but was not placed by bosun; left alone`,
      );
  for (const sym of a.symbols) {
    const base = baseOf(sym);
    const held = a.balance[base] ?? 0;
    const ours = Object.values(s.positions)
      .filter((p) => baseOf(p.symbol) === base)
      .reduce((sum, p) => sum + p.qty, 0);
    const m = a.markets[sym];
    // Below the market's smallest order, a difference is dust: it could not be traded anyway.
    const dust = Math.max(
      m?.limits.amount?.min ?? 0,
      (m?.limits.cost?.min ?? 0) / (lastPrice(s, sym) || Infinity),
    );
    const diff = held - ours;
    if (diff > dust * 1.0001)
      say(
        `hold:${base}:${held.toPrecision(8)}`,
        `the exchange holds ${held} ${base}, ${diff.toPrecision(6)} more than bosun's positions: not bosun's, left alone (neither adopted nor sold)`,
      );
    else if (diff < -Math.max(dust, ours * 1e-6))
      say(
        `short:${base}:${held.toPrecision(8)}`,
        `bosun's positions hold ${ours} ${base} but the exchange has ${held}: sold outside bosun? Check, then /close what is gone`,
      );
  }
}

function lastPrice(s: Readonly<State>, symbol: string): number {
  for (const p of Object.values(s.positions)) if (p.symbol === symbol) return p.mark;
  return 0;
}
