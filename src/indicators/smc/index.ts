/**
 * Smart Money Concepts (ICT) indicators: swings, market structure (BOS/CHOCH), fair value gaps, order
 * blocks, liquidity pools, previous period levels, sessions and retracements. Arrays in, arrays out.
 *
 * Each concept comes in two forms:
 * - the reference form (`swingHighsLows`, `bosChoch`, `fvg`, `orderBlocks`, `liquidity`,
 *   `previousHighLow`, `sessions`, `retracements`) reproduces the open-source `smartmoneyconcepts`
 *   library row for row (test/indicators/smc-parity.test.ts). It marks events at the bar they refer to,
 *   often before they could be known (a swing is confirmed `length` bars later), so it is for charts and
 *   studies only;
 * - the live form (`swingsLive`, `bosChochLive`, `fvgLive`, `orderBlocksLive`, `liquidityLive`,
 *   `previousPeriodLevels`, `retracementsLive`) gives each event at the bar whose close makes it known.
 *   Only the live form may feed a strategy.
 *
 * @example
 * const swings = swingsLive(candles, 5);
 * const structure = bosChochLive(candles, swings); // [{ at, kind: 'bos', dir: 1, level, ... }, ...]
 */
export type { Ohlc } from './scan.js';
export { swingHighsLows, swingsLive, type LiveSwings, type Swings } from './swings.js';
export { bosChoch, bosChochLive, type Structure, type StructureEvent } from './structure.js';
export { fvg, fvgLive, type FairValueGaps, type GapEvent } from './fvg.js';
export { orderBlocks, orderBlocksLive, type OrderBlockEvent, type OrderBlocks } from './order-blocks.js';
export { liquidity, liquidityLive, type Liquidity, type LiquidityEvent } from './liquidity.js';
export {
  checkPeriod,
  PERIODS,
  previousHighLow,
  previousPeriodLevels,
  SESSIONS,
  sessions,
  type PeriodName,
  type PreviousHighLow,
  type SessionName,
  type Sessions,
  type SessionWindow,
} from './periods.js';
export { retracements, retracementsLive, type Retracements } from './retracements.js';
