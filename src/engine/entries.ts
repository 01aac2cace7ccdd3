/**
 * Entries: an entry signal at a close becomes a signal record, priced and sized by the risk manager
 * and the market regime, then queued for the next open (auto) or put to people (manual); an approved
 * signal becomes a position, or an order, through the broker.
 */
import { entryAmount, initialStop, offsetPrice, planEntry, type Side } from '../backtest/fills.js';
import type { Candle } from '../market/types.js';
import { roundToStep } from '../market/rules.js';
import { quoteOf } from '../market/symbol.js';
import type { AddLevel, ExitRules, Signals } from '../strategy/define.js';
import {
  markSignal,
  type PositionRecord,
  type RunRecord,
  type SignalRecord,
  type State,
} from '../store/state.js';
import type { Accounts } from './account.js';
import type { BarPrices } from './broker.js';
import { clone, costsFor, type EngineContext, num, type Runtime } from './context.js';
import type { EngineEvent } from './events.js';
import { positionOf } from './positions.js';
import { evaluate, withStrategyRisk } from './risk.js';
import { expireSignal, skipSignal } from './run-state.js';

/** What entries need of the engine: the broker and costs, the clocks, the risk rules and the account. */
export type EntryContext = Pick<
  EngineContext,
  'broker' | 'costs' | 'marketRules' | 'wall' | 'settings' | 'regimeGate' | 'risk' | 'runtimes'
> & {
  account: Accounts['account'];
  /**
   * The part of a closed candle an open position has not met yet: what the stream did not show it
   * between closes (none: the whole candle).
   */
  unmet?: (pos: PositionRecord, candle: Candle) => BarPrices;
};

/**
 * Decided signals kept in memory besides those still in play (all of them are in the journal): the
 * working set stays small, so a step's commit costs the same however long bosun has run.
 */
const RECENT_SIGNALS = 200;

/**
 * The take-profit prices of an entry at `price`: a person's ladder, else the signal's own target,
 * else the rules' levels.
 */
export function targetsOf(
  rules: ExitRules,
  side: Side,
  price: number,
  signalTarget: number,
  ladder?: readonly number[],
): number[] {
  if (ladder?.length) return [...ladder];
  if (!Number.isNaN(signalTarget)) return [signalTarget];
  return (rules.takeProfit ?? []).map((l) => offsetPrice(price, side * l.at));
}

/**
 * The rules a signal's position gets: its run's, with a person's trailing stop, and a signal's own
 * adds (a pasted entry zone's levels) in place of the run's.
 */
export function rulesFor(
  rt: Pick<Runtime, 'rules'>,
  sig: { manual?: { trail?: number | undefined } | undefined; adds?: AddLevel[] | undefined },
): ExitRules {
  const trail = sig.manual?.trail;
  const rules = sig.adds?.length ? { ...rt.rules, adds: sig.adds } : rt.rules;
  return trail ? { ...rules, trailing: { activation: 0, offset: trail } } : rules;
}

/** What a person asked for with a trade by hand (see `SignalRecord.manual`), and their targets. */
export interface ManualAsk {
  by: string;
  quantity?: number | undefined;
  targets?: readonly number[] | undefined;
  trail?: number | undefined;
  adds?: AddLevel[] | undefined;
  source?: string | undefined;
}

export interface EntrySignal {
  run: RunRecord;
  rt: Runtime;
  candle: Candle;
  signals: Signals;
  /** The candle's index in the signals. */
  t: number;
  side: Side;
  indicators: Record<string, number | null>;
  /** The candle closed while bosun was not running: recorded, never traded. */
  catchUp: boolean;
  /** A trade by hand: it always waits for its Confirm, whatever the run's approval. */
  manual?: ManualAsk;
}

/** An entry signal at this close: priced and sized by the risk manager, then queued or put to people. */
export function entrySignal(s: State, c: EntryContext, e: EntrySignal, events: EngineEvent[]): void {
  const { run, side, manual } = e;
  const { candle, signals, t } = e;
  // A person's trailing stop joins the run's exit rules for this entry.
  const rt = { ...e.rt, rules: rulesFor(e.rt, { manual, adds: manual?.adds }) };
  const signalStop = signals.stop?.[t] ?? Number.NaN;
  const signalTarget = signals.target?.[t] ?? Number.NaN;
  const ladder = manual?.targets;
  const costs = costsFor(c, run.symbol);
  const stop = initialStop(side, candle.close, rt.rules, signalStop, costs.market);
  // On the exchange's price tick, as the orders will be.
  const targets = targetsOf(rt.rules, side, candle.close, signalTarget, ladder).map((t) =>
    roundToStep(t, costs.market?.priceStep ?? 0),
  );
  // Sized as the fill will be: a market order at this close, slipped, with the stop it would get.
  const plan = planEntry(side, candle.close, rt.rules, costs, signalStop);
  const planTargets = targetsOf(rt.rules, side, plan.price, signalTarget, ladder);
  const account = c.account(s, quoteOf(run.symbol), run.symbol);
  const verdict = evaluate(withStrategyRisk(c.risk(), rt.strategy.risk), account, {
    side,
    price: plan.price,
    stop: plan.stop,
    target: planTargets[planTargets.length - 1] ?? Number.NaN,
    fee: c.costs.fee,
    slippage: c.costs.slippage,
    now: candle.time + rt.tfMs,
    ...(manual?.quantity !== undefined ? { quantity: manual.quantity } : {}),
    // A trade by hand is cut to the exposure limit and shown so (asked for, refused with the most).
    ...(manual ? { capExposure: true } : {}),
  });
  // A size asked for is taken as it is or refused, never cut down without a word.
  // It also risks no more over its stop than the risk per trade allows.
  const base = run.symbol.split('/')[0];
  const mostRisk = c.risk().riskPerTrade * account.equity;
  const overAsk =
    !verdict.ok || manual?.quantity === undefined
      ? undefined
      : verdict.quantity < manual.quantity * (1 - 1e-9)
        ? `${manual.quantity} ${base} is over the risk limits: at most ${+verdict.quantity.toPrecision(6)} now (/risk shows them)`
        : verdict.risk > mostRisk * (1 + 1e-9)
          ? `${manual.quantity} ${base} risks ${verdict.risk.toFixed(2)} ${quoteOf(run.symbol)} over its stop, more than the ${+(c.risk().riskPerTrade * 100).toFixed(2)}% per trade (${mostRisk.toFixed(2)}); allowed: at most ${+((manual.quantity * mostRisk) / verdict.risk).toPrecision(4)} ${base} with this stop, or a closer stop`
          : undefined;
  const id = `S${s.engine.nextId++}`;
  const confidence = signals.confidence?.[t];
  const regime = verdict.ok
    ? c.regimeGate?.(
        side === 1 ? 'long' : 'short',
        confidence === undefined || Number.isNaN(confidence) ? 1 : confidence,
      )
    : undefined;
  // The regime scales the size, and so the amount at risk with it (not a size a person asked for).
  if (verdict.ok && regime?.ok && manual?.quantity === undefined) {
    verdict.quantity *= regime.factor;
    verdict.risk *= regime.factor;
  }
  // The size people see is one the exchange takes: whole amount steps, at least its minimums.
  const amount = verdict.ok && regime?.ok !== false ? entryAmount(verdict.quantity, plan.price, costs) : 0;
  if (verdict.ok && typeof amount === 'number' && amount !== verdict.quantity && verdict.quantity > 0) {
    verdict.risk *= amount / verdict.quantity;
    verdict.quantity = amount;
  }
  const sized = verdict.ok && overAsk === undefined && regime?.ok !== false && typeof amount === 'number';
  const refused = !verdict.ok
    ? verdict.reason
    : overAsk !== undefined
      ? overAsk
      : regime && !regime.ok
        ? regime.reason
        : typeof amount === 'string'
          ? amount
          : e.catchUp
            ? 'stale: it came while bosun was not running'
            : undefined;
  const sig: SignalRecord = {
    id,
    runId: run.id,
    symbol: run.symbol,
    timeframe: run.timeframe,
    strategy: run.strategy,
    side: side === 1 ? 'long' : 'short',
    barTime: candle.time,
    createdAt: c.wall(),
    price: candle.close,
    signalStop: num(signalStop),
    signalTarget: num(signalTarget),
    stop: num(stop),
    targets,
    // A signal the risk rules or the regime refuse has no size.
    quantity: sized ? verdict.quantity : 0,
    risk: sized && !Number.isNaN(verdict.risk) ? verdict.risk : 0,
    rewardRisk: verdict.ok ? num(verdict.rewardRisk) : null,
    status: refused !== undefined ? 'refused' : run.approve === 'auto' && !manual ? 'approved' : 'pending',
    ...(refused !== undefined ? { reason: refused } : {}),
    messages: [],
    indicators: e.indicators,
    ...(signals.notes?.[t] ? { note: signals.notes[t] } : {}),
    ...(regime?.ok ? { regime: `${regime.state} x${+regime.factor.toFixed(3)}` } : {}),
    ...(ladder?.length ? { signalTargets: [...ladder] } : {}),
    ...(rt.rules.adds?.length ? { adds: rt.rules.adds.map((a) => ({ ...a })) } : {}),
    ...(manual
      ? {
          manual: {
            by: manual.by,
            ...(manual.quantity !== undefined ? { quantity: manual.quantity } : {}),
            ...trailField(manual),
            ...(manual.source ? { source: manual.source } : {}),
          },
        }
      : {}),
    ...(sized && typeof amount === 'number' && typeof entryAmount(amount / 2, plan.price, costs) === 'string'
      ? { noHalf: "half is under the exchange's minimums" }
      : {}),
  };
  if (refused === undefined && run.approve === 'auto' && !manual) {
    sig.decidedBy = 'auto';
    sig.size = 1;
    // The next open sizes again at its own price, like the backtest, times the regime's factor.
    run.pendingEntry = { signalId: id, size: regime?.ok ? regime.factor : 1 };
  }
  if (refused === undefined && (run.approve === 'manual' || manual)) {
    // A newer signal replaces one still waiting; a trade by hand replaces none (another person's
    // preview on the market stays theirs: the first confirmed takes the run's one position).
    if (!manual)
      for (const old of Object.values(s.signals))
        if (old.runId === run.id && old.status === 'pending')
          expireSignal(s, old, `replaced by ${id}`, c.wall(), events);
    sig.expiresAt = c.wall() + c.settings.approvalTimeoutMs;
  }
  s.signals[id] = sig;
  pruneSignals(s);
  run.lastSignal = { id, time: candle.time, side: sig.side, status: sig.status };
  s.log.decisions.push({
    time: candle.time,
    runId: run.id,
    kind: 'entry-signal',
    detail: refused ?? `${sig.side} ${sig.status}`,
    signalId: id,
    indicators: e.indicators,
  });
  events.push({ type: 'signal', signal: clone(sig), run: clone(run) });
}

function trailField(m: Pick<ManualAsk, 'trail'>): { trail?: number } {
  return m.trail !== undefined ? { trail: m.trail } : {};
}

function pruneSignals(s: State): void {
  const ids = Object.keys(s.signals);
  if (ids.length <= RECENT_SIGNALS) return;
  const inPlay = new Set<string>();
  for (const run of Object.values(s.runs)) if (run.pendingEntry) inPlay.add(run.pendingEntry.signalId);
  for (const o of Object.values(s.orders)) if (o.signalId) inPlay.add(o.signalId);
  for (const id of ids.slice(0, ids.length - RECENT_SIGNALS))
    if (s.signals[id]!.status !== 'pending' && !inPlay.has(id)) delete s.signals[id];
}

/**
 * Open the position for an approved signal at `price` (the next open, or the latest price). The
 * size is either the approved `quantity` (checked again by the risk rules), or the risk rules'
 * size at the fill price times `scale` (an auto-approved entry at the next open: the regime's
 * factor), which is the announced quantity when the open is the price the signal was sized at.
 * True when the broker filled or ordered it.
 */
export function fillEntry(
  s: State,
  c: EntryContext,
  run: RunRecord,
  sig: SignalRecord,
  at: { time: number; price: number },
  order: { scale: number } | { quantity: number },
  events: EngineEvent[],
): boolean {
  const rt = c.runtimes.get(run.id);
  if (!rt) {
    skipSignal(s, sig, 'its strategy is not loaded', events);
    return false;
  }
  if (positionOf(s, run.id) || c.broker.busy(s, run.id)) {
    skipSignal(s, sig, 'its run already holds a position', events);
    return false;
  }
  const side: Side = sig.side === 'long' ? 1 : -1;
  const signalTarget = sig.signalTarget ?? Number.NaN;
  const rules = rulesFor(rt, sig);
  const result = c.broker.enter(s, {
    positionId: `P${s.engine.nextId++}`,
    runId: run.id,
    signalId: sig.id,
    symbol: run.symbol,
    side,
    time: at.time,
    price: at.price,
    rules,
    costs: costsFor(c, run.symbol),
    signalStop: sig.signalStop ?? Number.NaN,
    signalTarget,
    ...(sig.signalTargets?.length ? { signalTargets: sig.signalTargets } : {}),
    size: (fillPrice, stop) => {
      const targets = targetsOf(rules, side, fillPrice, signalTarget, sig.signalTargets);
      const v = evaluate(
        withStrategyRisk(c.risk(), rt.strategy.risk),
        c.account(s, quoteOf(run.symbol), run.symbol),
        {
          side,
          price: fillPrice,
          stop,
          target: targets[targets.length - 1] ?? Number.NaN,
          fee: c.costs.fee,
          slippage: c.costs.slippage,
          now: at.time,
          ...('quantity' in order ? { quantity: order.quantity } : {}),
        },
      );
      if (!v.ok) return { refused: v.reason };
      return { quantity: 'quantity' in order ? v.quantity : v.quantity * order.scale };
    },
  });
  switch (result.kind) {
    case 'refused':
      skipSignal(s, sig, result.reason, events);
      return false;
    case 'ordered':
      // The order goes out after this write; its fill becomes the position.
      markSignal(s, sig, 'ordered');
      return true;
    case 'filled':
      markSignal(s, sig, 'filled');
      events.push({ type: 'entry', position: clone(result.position), signal: clone(sig) });
      return true;
  }
}
