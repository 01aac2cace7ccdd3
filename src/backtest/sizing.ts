/**
 * Position sizing: all-in, a fixed fraction of equity, or a fixed risk per trade from what a
 * stop-out loses. Shared by the backtester and the engine's risk manager.
 */
import { badInput } from '../errors.js';
import { marketPrice } from './fills.js';

export type Sizing =
  { mode: 'all-in' } | { mode: 'fraction'; fraction: number } | { mode: 'risk'; risk: number };

/**
 * Quantity to trade at `price` (the fill price, slipped already). `equity` is the account value now;
 * the quantity never needs more than the equity (fees included): all-in is
 * quantity = equity / (price x (1 + fee)).
 *
 * Risk sizing makes a stop-out lose exactly `risk` of equity, costs included: per unit, the distance
 * from the fill to the stop's fill (a market order, slipped by `slippage` against the trader), plus
 * the fee on the entry and on the exit at that price. A gap through the stop fills beyond it and
 * loses more; nothing can size for that.
 *
 * Returns 0 when no trade should be made (no stop for risk sizing, stop on the wrong side).
 */
export function positionSize(
  sizing: Sizing,
  equity: number,
  price: number,
  fee: number,
  stop: number,
  slippage = 0,
): number {
  if (!(equity > 0) || !(price > 0)) return 0;
  const allIn = equity / (price * (1 + fee));
  switch (sizing.mode) {
    case 'all-in':
      return allIn;
    case 'fraction':
      return allIn * sizing.fraction;
    case 'risk': {
      const loss = stopLossPerUnit(price, stop, fee, slippage);
      if (!(loss > 0)) return 0;
      return Math.min(allIn, (equity * sizing.risk) / loss);
    }
  }
}

/**
 * What one unit entered at `price` loses when stopped out at `stop` (a long when the stop is below
 * the price, a short when above): the price move to the slipped stop fill, and both fees. 0 for no
 * stop (NaN) or a stop at the price.
 */
export function stopLossPerUnit(price: number, stop: number, fee: number, slippage = 0): number {
  const side = stop < price ? 1 : -1;
  if (!(Math.abs(price - stop) > 0)) return 0;
  const exit = marketPrice(stop, side === -1, slippage);
  return side * (price - exit) + fee * (price + exit);
}

/** Parse `all-in`, `fraction:0.25` or `risk:0.01` (CLI and chat). */
export function parseSizing(text: string): Sizing {
  if (text === 'all-in') return { mode: 'all-in' };
  const m = /^(fraction|risk):([0-9.]+)$/.exec(text);
  const value = m ? Number(m[2]) : Number.NaN;
  if (m?.[1] === 'fraction' && value > 0 && value <= 1) return { mode: 'fraction', fraction: value };
  if (m?.[1] === 'risk' && value > 0 && value <= 0.2) return { mode: 'risk', risk: value };
  throw badInput(
    `sizing "${text}" is not valid; allowed: all-in, fraction:F with F in (0, 1], or risk:R with R in (0, 0.2]`,
  );
}

export function describeSizing(s: Sizing): string {
  if (s.mode === 'all-in') return 'all-in';
  if (s.mode === 'fraction') return `${+(s.fraction * 100).toFixed(4)}% of equity`;
  return `${+(s.risk * 100).toFixed(4)}% risk per trade`;
}
