/**
 * Performance metrics from a simulation. Conventions (also in the README):
 * - returns are fractions (0.12 = +12%); money is in the quote currency;
 * - per-bar returns come from equity at consecutive closes, the first against the starting capital;
 * - Sharpe = mean / sample standard deviation of per-bar returns x sqrt(bars per year);
 *   Sortino uses the downside deviation sqrt(sum(min(r, 0)^2) / N); risk-free rate 0;
 * - a year is 365.25 days; CAGR spans from the first bar's open to the last bar's close;
 * - Calmar = CAGR / max drawdown;
 * - a trade with a net result of exactly 0 is neither a win nor a loss: the win rate is wins over
 *   wins and losses; expectancy is the average net result of every trade.
 */
import { YEAR } from '../market/timeframe.js';
import type { Candles } from '../market/types.js';
import type { Metrics, Simulation } from './types.js';

export function computeMetrics(
  candles: Candles,
  sim: Simulation,
  capital: number,
  timeframeMs: number,
): Metrics {
  const n = candles.length;
  const { equity, trades } = sim;
  const startTime = candles.time[0]!;
  const endTime = candles.time[n - 1]! + timeframeMs;
  const finalEquity = equity[n - 1]!;

  // Per-bar returns, drawdown and its longest duration, in one pass.
  let sum = 0;
  let sumSq = 0;
  let downSq = 0;
  let prev = capital;
  let peak = capital;
  let peakTime = startTime;
  let maxDrawdown = 0;
  let maxUnderwater = 0;
  let exposed = 0;
  for (let i = 0; i < n; i++) {
    const e = equity[i]!;
    const r = prev > 0 ? e / prev - 1 : 0;
    sum += r;
    sumSq += r * r;
    if (r < 0) downSq += r * r;
    prev = e;
    const barClose = candles.time[i]! + timeframeMs;
    if (e >= peak) {
      peak = e;
      peakTime = barClose;
    } else {
      const dd = 1 - e / peak;
      if (dd > maxDrawdown) maxDrawdown = dd;
      if (barClose - peakTime > maxUnderwater) maxUnderwater = barClose - peakTime;
    }
    exposed += sim.inMarket[i]!;
  }
  const mean = sum / n;
  const variance = n > 1 ? (sumSq - n * mean * mean) / (n - 1) : 0;
  const std = Math.sqrt(Math.max(0, variance));
  const downside = Math.sqrt(downSq / n);
  const perYear = Math.sqrt(YEAR / timeframeMs);

  const years = (endTime - startTime) / YEAR;
  const growth = finalEquity / capital;
  const cagr = growth <= 0 ? -1 : growth ** (1 / years) - 1;

  let wins = 0;
  let losses = 0;
  let grossProfit = 0;
  let grossLoss = 0;
  let totalFees = 0;
  let best = 0;
  let worst = 0;
  for (const t of trades) {
    // A trade that made exactly nothing is neither a win nor a loss.
    if (t.pnl > 0) {
      wins++;
      grossProfit += t.pnl;
    } else if (t.pnl < 0) {
      losses++;
      grossLoss -= t.pnl;
    }
    totalFees += t.fees;
    if (t.pnl > best) best = t.pnl;
    if (t.pnl < worst) worst = t.pnl;
  }
  const count = trades.length;

  return {
    startTime,
    endTime,
    bars: n,
    initialCapital: capital,
    finalEquity,
    totalReturn: growth - 1,
    cagr,
    trades: count,
    wins,
    losses,
    winRate: wins + losses > 0 ? wins / (wins + losses) : 0,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    expectancy: count > 0 ? (grossProfit - grossLoss) / count : 0,
    avgWin: wins > 0 ? grossProfit / wins : 0,
    avgLoss: losses > 0 ? -grossLoss / losses : 0,
    bestTrade: best,
    worstTrade: worst,
    totalFees,
    maxDrawdown,
    maxDrawdownDurationMs: maxUnderwater,
    sharpe: std > 0 ? (mean / std) * perYear : 0,
    sortino: downside > 0 ? (mean / downside) * perYear : null,
    calmar: maxDrawdown > 0 ? cagr / maxDrawdown : null,
    exposure: exposed / n,
    buyAndHoldReturn: candles.close[n - 1]! / candles.close[0]! - 1,
  };
}
