/** What the totals hide, worked by hand: MAE/MFE, results by exit reason and by month, buy-and-hold. */
import { describe, expect, it } from 'vitest';
import { buyAndHold, byExitReason, byMonth, excursions } from '../../src/backtest/breakdown.js';
import type { Trade } from '../../src/backtest/types.js';
import { allocCandles } from '../../src/market/types.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 31, 20);

/** Five hourly bars: highs and lows around 100, a dip to 95 in bar 2 and a top of 110 in bar 3. */
function candles() {
  const c = allocCandles(5);
  const bars = [
    [100, 101, 99, 100],
    [100, 104, 98, 103],
    [103, 103, 95, 96],
    [96, 110, 96, 108],
    [108, 109, 104, 105],
  ];
  bars.forEach(([o, h, l, cl], i) => {
    c.time[i] = T0 + i * H;
    c.open[i] = o!;
    c.high[i] = h!;
    c.low[i] = l!;
    c.close[i] = cl!;
    c.volume[i] = 1;
  });
  return c;
}

const trade = (t: Partial<Trade>): Trade => ({
  side: 'long',
  entryTime: T0,
  entryPrice: 100,
  exitTime: T0,
  exitPrice: 100,
  quantity: 1,
  pnl: 0,
  returnPct: 0,
  fees: 0,
  exitReason: 'signal',
  bars: 1,
  exits: [],
  ...t,
});

describe('a backtest broken down', () => {
  it('gives each trade the worst and best price it saw while open', () => {
    const c = { candles: candles() };
    // Long from bar 1 (at 100) to bar 3: low 95 (-5%), high 110 (+10%).
    const long = trade({ entryTime: T0 + H, exitTime: T0 + 3 * H, entryPrice: 100 });
    // Short from bar 2 (at 103) to bar 4: against it the high 110 (-6.80%), for it the low 95 (+7.77%).
    const short = trade({ side: 'short', entryTime: T0 + 2 * H, exitTime: T0 + 4 * H, entryPrice: 103 });
    const [l, s] = excursions(c, [long, short]);
    expect(l!.mae).toBeCloseTo(-0.05, 12);
    expect(l!.mfe).toBeCloseTo(0.1, 12);
    expect(s!.mae).toBeCloseTo(1 - 110 / 103, 12);
    expect(s!.mfe).toBeCloseTo(1 - 95 / 103, 12);
  });

  it('sums trades by exit reason (most first) and by the month they closed in', () => {
    const feb = Date.UTC(2024, 1, 1, 1);
    const trades = [
      trade({ exitReason: 'stop', pnl: -10, fees: 1, exitTime: T0 }),
      trade({ exitReason: 'take-profit', pnl: 25, fees: 1, exitTime: feb }),
      trade({ exitReason: 'stop', pnl: -5, fees: 1, exitTime: feb }),
      trade({ exitReason: 'signal', pnl: 0, fees: 1, exitTime: feb }),
    ];
    expect(byExitReason(trades)).toEqual([
      { key: 'stop', trades: 2, wins: 0, losses: 2, pnl: -15, fees: 2 },
      { key: 'signal', trades: 1, wins: 0, losses: 0, pnl: 0, fees: 1 },
      { key: 'take-profit', trades: 1, wins: 1, losses: 0, pnl: 25, fees: 1 },
    ]);
    expect(byMonth(trades)).toEqual([
      { key: '2024-01', trades: 1, wins: 0, losses: 1, pnl: -10, fees: 1 },
      { key: '2024-02', trades: 3, wins: 1, losses: 1, pnl: 20, fees: 3 },
    ]);
  });

  it('measures buy-and-hold like the strategy: return, drawdown from 103 to 96, Sharpe', () => {
    const b = buyAndHold({ candles: candles(), capital: 1000, timeframeMs: H });
    expect(b.totalReturn).toBeCloseTo(105 / 100 - 1, 12);
    expect(b.maxDrawdown).toBeCloseTo(1 - 96 / 103, 12);
    // Per-bar returns 0, +3%, 96/103-1, 108/96-1, 105/108-1; Sharpe = mean / sample sd x sqrt(bars a year).
    const r = [0, 0.03, 96 / 103 - 1, 108 / 96 - 1, 105 / 108 - 1];
    const mean = r.reduce((a, x) => a + x, 0) / 5;
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 4);
    expect(b.sharpe).toBeCloseTo((mean / sd) * Math.sqrt((365.25 * 24 * H) / H), 9);
  });
});
