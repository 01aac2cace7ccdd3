/**
 * The fill model: how orders and exits fill against a bar. The backtester and the paper broker both
 * use these functions, so a paper position behaves exactly as the same position in a backtest.
 *
 * Rules, per bar, for an open position:
 * 1. Market orders decided at the previous close (entries, signal exits, time exits) fill at this
 *    bar's open, moved against the trader by the slippage.
 * 2. If the open is already beyond the stop (a gap), the whole position stops out at the open.
 *    If the open is already beyond one or more take-profit levels, those levels fill at the open.
 * 3. Within the bar, the stop is checked before the take-profit levels: when a bar's range touches
 *    both, the stop counts first (we cannot know the order inside a bar, so we assume the worse).
 *    Stop fills are market orders (slipped); take-profit fills are limit orders (at their price).
 * 4. After the bar, the trailing stop is moved using the bar's high (long) or low (short), so it
 *    applies from the next bar on; a bar never both raises the trailing stop and triggers it.
 * Fees are charged on the notional of every fill: quantity x price x fee, the maker fee for resting
 * orders (take-profits, limit entries) and the taker fee for the rest.
 *
 * Adds (`ExitRules.adds`: an entry ladder, DCA) are resting limit orders against the position:
 * 5. An add the open is at or beyond fills at the open; inside the bar, adds fill at their prices as the
 *    adverse extreme reaches them, before the stop is checked, as long as they lie inside the stop in
 *    force (a trailing stop raised over an add, or a stop a person moved, comes first). Each add fills
 *    at the maker fee and moves the average entry; a stop given as a distance, distance targets and
 *    the trailing stop's activation are worked out again from it.
 * 6. A bar that fills an add assumes the fall came first: its targets and trailing stop start with the
 *    next bar. The first exit (a target, a signal, a person's part) withdraws the adds not filled.
 *
 * With the market's exchange rules (`costs.market`), an entry's amount is a whole number of amount
 * steps and at least the minimum amount and order value (else no entry), the stop and the targets are
 * on the price tick, and each partial take-profit is a whole number of steps at or over the minimums
 * (a level too small to send is merged into the next one, and one that would leave a rest too small
 * to sell closes that rest too).
 */
import { fitAmount, type MarketRules, roundToStep } from '../market/rules.js';
import type { AddLevel, ExitRules } from '../strategy/define.js';

export type Side = 1 | -1;
/** Why an exit filled; `manual` is a person's /close (engine only). */
export type ExitReason = 'signal' | 'stop' | 'trailing-stop' | 'take-profit' | 'time' | 'end' | 'manual';

export interface FillCosts {
  /** Taker fee (market orders, stops) as a fraction of notional (0.001 = 0.1%). */
  fee: number;
  /** Maker fee (resting orders: take-profits, limit entries); the taker fee when absent. */
  maker?: number;
  /** Slippage on market fills as a fraction (bps / 10,000). */
  slippage: number;
  /** The market's exchange rules; none: amounts and prices are not rounded. */
  market?: MarketRules;
}

/** The fee rate of a fill: the maker fee for a resting order, else the taker fee. */
export function feeRate(costs: FillCosts, resting: boolean): number {
  return resting ? (costs.maker ?? costs.fee) : costs.fee;
}

export interface ExitFill {
  time: number;
  price: number;
  quantity: number;
  fee: number;
  /** Net result of this part: price move x quantity, less this fill's fee and its share of the entry fee. */
  pnl: number;
  reason: ExitReason;
}

/** An entry fill: a position's first, or an add. */
export interface EntryFill {
  time: number;
  price: number;
  quantity: number;
  fee: number;
}

/** What a position's stop and targets are worked out from again after an add. */
export type FollowRules = Pick<ExitRules, 'stopLoss' | 'takeProfit' | 'trailing'>;

/** A position's adds: the resting orders, what has filled, and what its stop and targets follow. */
export interface Adds {
  /** Limit prices, nearest first, and the amount each adds. */
  prices: number[];
  amounts: number[];
  /** The next add to fill; `prices.length` when none is left (all filled, or withdrawn at an exit). */
  next: number;
  /** The entry fills: the first, then each add. */
  fills: EntryFill[];
  rules: FollowRules;
  /** The signal's absolute stop (NaN: `rules.stopLoss` from the average). */
  stopPrice: number;
  /** The signal's absolute target (NaN: none), and an absolute ladder. */
  targetPrice: number;
  targetPrices?: number[];
}

export interface Position {
  side: Side;
  entryIndex: number;
  entryTime: number;
  entryPrice: number;
  initialQty: number;
  /** Quantity still open. */
  qty: number;
  entryFee: number;
  /** Fixed stop price, NaN when none. */
  stop: number;
  /** Take-profit prices, nearest first, and the quantity each closes. */
  targetPrices: Float64Array;
  targetQty: Float64Array;
  nextTarget: number;
  /** Price at which the trailing stop activates (NaN: no trailing stop), and its offset. */
  trailActivation: number;
  trailOffset: number;
  /** Best price reached since entry (high for longs, low for shorts). */
  best: number;
  /** Current trailing stop, NaN until activated. */
  trailStop: number;
  /** Bars the position has been open at a close. */
  barsHeld: number;
  exits: ExitFill[];
  /** Adds after the first fill (an entry ladder, DCA); `entryPrice` is then the average entry. */
  adds?: Adds;
}

/** The price a market order gets at `price`, after slippage against the trader. */
export function marketPrice(price: number, buying: boolean, slippage: number): number {
  return buying ? price * (1 + slippage) : price * (1 - slippage);
}

export interface OpenArgs {
  side: Side;
  index: number;
  time: number;
  /** Fill price (already slipped). */
  price: number;
  quantity: number;
  rules: ExitRules;
  /** Absolute stop from the signal (overrides rules.stopLoss), NaN for none. */
  stopPrice?: number;
  /** Absolute target from the signal (replaces rules.takeProfit), NaN for none. */
  targetPrice?: number;
  /**
   * Absolute targets, nearest first, each closing an equal share (a person's or a pasted signal's
   * ladder): replace `targetPrice` and rules.takeProfit when given.
   */
  targetPrices?: readonly number[];
  costs: FillCosts;
  /** A resting (limit) entry order: the maker fee. */
  resting?: boolean;
  /**
   * With adds in the rules, `quantity` is the position's full size and the first fill takes what the
   * adds leave (`planAdds`); `base` is that first fill's amount when it is already known (live: what
   * the exchange filled).
   */
  base?: number;
}

/** `price` moved by a fraction: price + price x fraction (closer to the decimal result than price x (1 + f)). */
export function offsetPrice(price: number, fraction: number): number {
  return price + price * fraction;
}

/** Orders that bar t's signals make for the next open, as bit flags (no allocation in the hot loop). */
export const EXIT_ON_SIGNAL = 1;
export const EXIT_ON_TIME = 2;
export const ENTER_LONG = 4;
export const ENTER_SHORT = 8;

/**
 * The orders one bar's signals make, shared by the backtester and the engine. With a position open
 * (`side` 1 or -1): an exit signal, or an entry signal for the other side, closes it (and, when that
 * side is allowed, opens the other side at the same open); else a time exit once `barsHeld` reaches
 * `maxBars`. Flat: an entry (long wins when both fire). No pyramiding.
 */
export function nextOrders(
  side: 0 | Side,
  barsHeld: number,
  enterLong: number,
  exitLong: number,
  enterShort: number,
  exitShort: number,
  allowLong: boolean,
  allowShort: boolean,
  maxBars: number,
): number {
  const wantLong = allowLong && enterLong === 1;
  const wantShort = !wantLong && allowShort && enterShort === 1;
  if (side === 1) {
    if (exitLong === 1 || wantShort) return EXIT_ON_SIGNAL | (wantShort ? ENTER_SHORT : 0);
  } else if (side === -1) {
    if (exitShort === 1 || wantLong) return EXIT_ON_SIGNAL | (wantLong ? ENTER_LONG : 0);
  } else {
    return wantLong ? ENTER_LONG : wantShort ? ENTER_SHORT : 0;
  }
  return maxBars > 0 && barsHeld >= maxBars ? EXIT_ON_TIME : 0;
}

/**
 * A market entry at `open`: the slipped fill price and the stop it would get. `valid` is false when
 * the stop is on the wrong side of the fill (the market moved through it), and the entry must be skipped.
 */
export function planEntry(
  side: Side,
  open: number,
  rules: ExitRules,
  costs: FillCosts,
  signalStop: number,
): { price: number; stop: number; valid: boolean } {
  const price = marketPrice(open, side === 1, costs.slippage);
  const stop = initialStop(side, price, rules, signalStop, costs.market);
  return { price, stop, valid: Number.isNaN(stop) || side * (price - stop) > 0 };
}

/**
 * The amount an entry of `quantity` at `price` may have under the market's rules (`fitAmount`), or
 * why it cannot be made; `quantity` itself when the rules are unknown.
 */
export function entryAmount(quantity: number, price: number, costs: FillCosts): number | string {
  return fitAmount(quantity, price, costs.market);
}

/** Cash moved by opening a position (buying a long pays; selling a short receives), fee included. */
export function entryCash(p: Position): number {
  return -(p.side * p.initialQty * p.entryPrice + p.entryFee);
}

/** Cash moved by an add (buying more of a long pays; selling more of a short receives), fee included. */
export function addCash(side: Side, fill: EntryFill): number {
  return -(side * fill.quantity * fill.price + fill.fee);
}

/** Cash moved by an exit fill (selling a long receives; buying back a short pays), fee included. */
export function exitCash(side: Side, fill: ExitFill): number {
  return side * fill.quantity * fill.price - fill.fee;
}

/** The stop a position will get if entered at `price` (NaN for none), on the market's price tick. */
export function initialStop(
  side: Side,
  price: number,
  rules: ExitRules,
  stopPrice?: number,
  market?: MarketRules,
): number {
  const tick = market?.priceStep ?? 0;
  if (stopPrice !== undefined && !Number.isNaN(stopPrice)) return roundToStep(stopPrice, tick);
  if (rules.stopLoss !== undefined && rules.stopLoss > 0)
    return roundToStep(offsetPrice(price, -side * rules.stopLoss), tick);
  return Number.NaN;
}

/**
 * Take-profit levels as prices and the amount each closes. The level that completes 100 % closes
 * exactly what is left (Infinity), leaving no dust. Under exchange rules, prices sit on the tick and
 * amounts are whole steps; a level whose amount is under the minimums is merged into the next one.
 */
export function targetLevels(
  side: Side,
  price: number,
  quantity: number,
  rules: ExitRules,
  targetPrice: number | undefined,
  market: MarketRules | undefined,
  ladder?: readonly number[],
): { prices: Float64Array; amounts: Float64Array } {
  const tick = market?.priceStep ?? 0;
  if (!ladder?.length && targetPrice !== undefined && !Number.isNaN(targetPrice))
    return { prices: Float64Array.of(roundToStep(targetPrice, tick)), amounts: Float64Array.of(quantity) };
  const levels = ladder?.length
    ? ladder.map((at) => ({ at, close: 1 / ladder.length }))
    : (rules.takeProfit ?? []).map((l) => ({ at: offsetPrice(price, side * l.at), close: l.close }));
  const prices: number[] = [];
  const amounts: number[] = [];
  let closed = 0;
  let carry = 0;
  for (const lvl of levels) {
    const at = roundToStep(lvl.at, tick);
    closed += lvl.close;
    if (closed >= 1 - 1e-9) {
      prices.push(at);
      amounts.push(Number.POSITIVE_INFINITY);
      break;
    }
    const want = quantity * lvl.close + carry;
    const amount = market ? fitAmount(want, at, market) : want;
    if (typeof amount === 'string') {
      carry = want;
      continue;
    }
    prices.push(at);
    // A rest the exchange would refuse to sell (under its minimums) goes with this level.
    const rest = quantity - amounts.reduce((a, b) => a + b, 0) - amount;
    if (market && typeof fitAmount(rest, at, market) === 'string') {
      amounts.push(Number.POSITIVE_INFINITY);
      break;
    }
    carry = want - amount;
    amounts.push(amount);
  }
  return { prices: Float64Array.from(prices), amounts: Float64Array.from(amounts) };
}

export function openPosition(a: OpenArgs): Position {
  const { side, price, rules } = a;
  const market = a.costs.market;
  const stopPrice = a.stopPrice ?? Number.NaN;
  const plan = rules.adds?.length ? planAdds(side, price, a.quantity, rules, stopPrice, market) : undefined;
  const quantity = a.base ?? plan?.base ?? a.quantity;
  const levels = targetLevels(side, price, quantity, rules, a.targetPrice, market, a.targetPrices);
  const entryFee = quantity * price * feeRate(a.costs, a.resting === true);
  return {
    side,
    entryIndex: a.index,
    entryTime: a.time,
    entryPrice: price,
    initialQty: quantity,
    qty: quantity,
    entryFee,
    stop: initialStop(side, price, rules, stopPrice, market),
    targetPrices: levels.prices,
    targetQty: levels.amounts,
    nextTarget: 0,
    trailActivation: rules.trailing ? offsetPrice(price, side * rules.trailing.activation) : Number.NaN,
    trailOffset: rules.trailing?.offset ?? 0,
    best: price,
    trailStop: Number.NaN,
    barsHeld: 0,
    exits: [],
    ...(plan?.prices.length
      ? {
          adds: {
            prices: plan.prices,
            amounts: plan.amounts,
            next: 0,
            fills: [{ time: a.time, price, quantity, fee: entryFee }],
            rules: {
              ...(rules.stopLoss !== undefined ? { stopLoss: rules.stopLoss } : {}),
              ...(rules.takeProfit ? { takeProfit: rules.takeProfit } : {}),
              ...(rules.trailing ? { trailing: rules.trailing } : {}),
            },
            stopPrice,
            targetPrice: a.targetPrice ?? Number.NaN,
            ...(a.targetPrices?.length ? { targetPrices: [...a.targetPrices] } : {}),
          },
        }
      : {}),
  };
}

/** The price of an add level for a first fill at `first`, on the price tick. */
function addPrice(side: Side, first: number, level: AddLevel, tick: number): number {
  return roundToStep('price' in level ? level.price : offsetPrice(first, -side * level.at), tick);
}

/**
 * How a position of `full` size is split between its first fill at `first` and its adds:
 * - a level the first fill is already at or beyond (an absolute level of a zone the price is in) is
 *   bought with the first fill, as is one too small to send under the exchange's rules;
 * - a level at or beyond the stop in force before it (the stop of the average so far) is not placed:
 *   the position stays that much smaller;
 * - the first fill takes the rest; should it fall under the exchange's minimums, the farthest adds
 *   join it until it does not.
 */
export function planAdds(
  side: Side,
  first: number,
  full: number,
  rules: ExitRules,
  stopPrice: number,
  market: MarketRules | undefined,
): { base: number; prices: number[]; amounts: number[]; dropped: number } {
  const tick = market?.priceStep ?? 0;
  const step = market?.amountStep ?? 0;
  const levels = (rules.adds ?? [])
    .map((l) => ({ price: addPrice(side, first, l, tick), share: l.share }))
    .sort((x, y) => side * (y.price - x.price));
  const prices: number[] = [];
  const amounts: number[] = [];
  let placed = 0;
  let dropped = 0;
  // The average so far, to find the stop in force before each add.
  let qty = full * (1 - levels.reduce((a, l) => a + l.share, 0));
  let cost = qty * first;
  for (const l of levels) {
    const want = full * l.share;
    const amount = market ? fitAmount(want, l.price, market) : want;
    const reached = side * (first - l.price) <= 0;
    if (reached || typeof amount === 'string') {
      qty += want;
      cost += want * first;
      continue;
    }
    const stop = initialStop(side, cost / qty, rules, stopPrice, market);
    if (!Number.isNaN(stop) && side * (l.price - stop) <= 0) {
      dropped += amount;
      continue;
    }
    prices.push(l.price);
    amounts.push(amount);
    placed += amount;
    qty += amount;
    cost += amount * l.price;
  }
  const baseOf = () => (step > 0 ? roundToStep(full - placed - dropped, step) : full - placed - dropped);
  // A first fill under the exchange's minimums takes the farthest adds until it is not.
  while (market && prices.length > 0 && typeof fitAmount(baseOf(), first, market) === 'string') {
    prices.pop();
    placed -= amounts.pop()!;
  }
  return { base: baseOf(), prices, amounts, dropped };
}

/**
 * An add of `amount` at `price` (a resting order: the maker fee) into a position that has had no
 * exit: the average entry, the quantity and the entry fee move, and the stop, the targets and the
 * trailing stop's activation are worked out again from the new average.
 */
export function addTo(p: Position, time: number, price: number, amount: number, costs: FillCosts): EntryFill {
  const a = p.adds!;
  const fill: EntryFill = { time, price, quantity: amount, fee: amount * price * feeRate(costs, true) };
  const before = p.initialQty;
  const sum = before + amount;
  const qty = costs.market ? roundToStep(sum, costs.market.amountStep) : sum;
  p.entryPrice = (p.entryPrice * before + price * amount) / sum;
  p.initialQty = qty;
  p.qty = qty;
  p.entryFee += fill.fee;
  a.fills.push(fill);
  a.next++;
  restate(p, costs.market);
  return fill;
}

/** A position's stop, targets and trailing activation from its average entry (after an add or an adjustment). */
export function restate(p: Position, market: MarketRules | undefined): void {
  const a = p.adds!;
  const rules = a.rules;
  p.stop = initialStop(p.side, p.entryPrice, rules, a.stopPrice, market);
  const levels = targetLevels(p.side, p.entryPrice, p.qty, rules, a.targetPrice, market, a.targetPrices);
  p.targetPrices = levels.prices;
  p.targetQty = levels.amounts;
  p.nextTarget = 0;
  p.trailActivation = rules.trailing
    ? offsetPrice(p.entryPrice, p.side * rules.trailing.activation)
    : Number.NaN;
}

/**
 * Fill the adds `reach` is at or beyond: at `reach` itself (a gap at the open), else at their prices.
 * The price meets levels in order: an add at or beyond the stop in force (a trailing stop raised over
 * it, a stop a person moved) comes after the stop, so it is left to the stop check.
 */
function fillAdds(
  p: Position,
  time: number,
  reach: number,
  atOpen: boolean,
  costs: FillCosts,
  onAdd: ((fill: EntryFill) => void) | undefined,
): boolean {
  const a = p.adds!;
  let any = false;
  while (a.next < a.prices.length && p.side * (reach - a.prices[a.next]!) <= 0) {
    const stop = effectiveStop(p);
    if (!Number.isNaN(stop) && p.side * (a.prices[a.next]! - stop) <= 0) break;
    onAdd?.(addTo(p, time, atOpen ? reach : a.prices[a.next]!, a.amounts[a.next]!, costs));
    any = true;
  }
  return any;
}

/** The stop in force and the reason its fill would have. */
function stopInForce(p: Position): { stop: number; stopReason: ExitReason } {
  const stop = effectiveStop(p);
  return {
    stop,
    stopReason: !Number.isNaN(p.trailStop) && stop === p.trailStop ? 'trailing-stop' : 'stop',
  };
}

/** The stop that applies now: the tighter of the fixed and the trailing stop. */
export function effectiveStop(p: Pick<Position, 'side' | 'stop' | 'trailStop'>): number {
  if (Number.isNaN(p.trailStop)) return p.stop;
  if (Number.isNaN(p.stop)) return p.trailStop;
  return p.side === 1 ? Math.max(p.stop, p.trailStop) : Math.min(p.stop, p.trailStop);
}

/** Close `quantity` of the position at `price`; returns the fill. */
export function closePart(
  p: Position,
  time: number,
  price: number,
  quantity: number,
  reason: ExitReason,
  costs: FillCosts,
  resting = false,
): ExitFill {
  const q = Math.min(quantity, p.qty);
  const fee = q * price * feeRate(costs, resting);
  const entryFeeShare = p.entryFee * (q / p.initialQty);
  const fill: ExitFill = {
    time,
    price,
    quantity: q,
    fee,
    pnl: p.side * q * (price - p.entryPrice) - fee - entryFeeShare,
    reason,
  };
  // What is left, on the amount step (no float dust like 0.00010999999999999999).
  p.qty = costs.market ? roundToStep(p.qty - q, costs.market.amountStep) : p.qty - q;
  // The first exit withdraws the adds not filled.
  if (p.adds) p.adds.next = p.adds.prices.length;
  if (p.qty <= p.initialQty * 1e-12) p.qty = 0;
  p.exits.push(fill);
  return fill;
}

/**
 * The amount of a partial close of `quantity` out of `held`, under the market's rules: whole amount
 * steps, at least its minimums, and leaving a rest that can still be sold; or why it cannot be made.
 */
export function partOf(held: number, quantity: number, price: number, costs: FillCosts): number | string {
  const part = fitAmount(quantity, price, costs.market);
  if (typeof part === 'string') return part;
  if (part >= held) return held;
  if (costs.market && typeof fitAmount(held - part, price, costs.market) === 'string')
    return `what would be left (${+(held - part).toPrecision(6)}) is under the exchange's minimums; close it all instead`;
  return part;
}

/** Close everything at a market price (slipped). */
export function closeAtMarket(
  p: Position,
  time: number,
  price: number,
  reason: ExitReason,
  costs: FillCosts,
): ExitFill {
  return closePart(p, time, marketPrice(price, p.side === -1, costs.slippage), p.qty, reason, costs);
}

/**
 * Apply one bar to an open position: adds and gaps at the open, then adds and the stop before targets
 * inside the bar, then move the trailing stop. Calls `onFill` for each exit fill and `onAdd` for each
 * add. Returns true when the position is closed.
 */
export function applyBar(
  p: Position,
  time: number,
  open: number,
  high: number,
  low: number,
  costs: FillCosts,
  onFill: (fill: ExitFill) => void,
  onAdd?: (fill: EntryFill) => void,
): boolean {
  const side = p.side;
  const sell = side === 1;
  const adverse = side === 1 ? low : high;
  // Adds the open is at or beyond fill there (a resting limit gets the better open).
  let added = p.adds !== undefined && fillAdds(p, time, open, true, costs, onAdd);
  let { stop, stopReason } = stopInForce(p);

  // Gap through the stop: out at the open.
  if (!Number.isNaN(stop) && side * (open - stop) <= 0) {
    onFill(closePart(p, time, marketPrice(open, !sell, costs.slippage), p.qty, stopReason, costs));
    return true;
  }
  // Gap through take-profit levels: they fill at the (better) open.
  while (p.nextTarget < p.targetPrices.length && side * (open - p.targetPrices[p.nextTarget]!) >= 0) {
    onFill(closePart(p, time, open, p.targetQty[p.nextTarget]!, 'take-profit', costs, true));
    p.nextTarget++;
    if (p.qty === 0) return true;
  }
  // Inside the bar: adds as the price comes to them, then the stop (of the new average).
  if (p.adds !== undefined && fillAdds(p, time, adverse, false, costs, onAdd)) {
    added = true;
    ({ stop, stopReason } = stopInForce(p));
  }
  if (!Number.isNaN(stop) && side * (adverse - stop) <= 0) {
    onFill(closePart(p, time, marketPrice(stop, !sell, costs.slippage), p.qty, stopReason, costs));
    return true;
  }
  // A bar that filled an add: the fall came first; targets and the trailing stop start next bar.
  if (added) return false;
  const favourable = side === 1 ? high : low;
  while (p.nextTarget < p.targetPrices.length && side * (favourable - p.targetPrices[p.nextTarget]!) >= 0) {
    onFill(
      closePart(
        p,
        time,
        p.targetPrices[p.nextTarget]!,
        p.targetQty[p.nextTarget]!,
        'take-profit',
        costs,
        true,
      ),
    );
    p.nextTarget++;
    if (p.qty === 0) return true;
  }
  // After the bar: move the trailing stop for the next bar.
  if (side * (favourable - p.best) > 0) p.best = favourable;
  if (!Number.isNaN(p.trailActivation) && side * (p.best - p.trailActivation) >= 0) {
    const trail = offsetPrice(p.best, -side * p.trailOffset);
    if (Number.isNaN(p.trailStop) || side * (trail - p.trailStop) > 0) p.trailStop = trail;
  }
  return false;
}
