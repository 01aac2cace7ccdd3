/**
 * Honest short samples: a backtest says which span it ran on when the data covers less than was
 * asked, and does not annualise fewer than 30 days into a CAGR of thousands of percent.
 */
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { coverageNote, summaryRows, tooShortToAnnualise, candleInfo } from '../../src/backtest/summary.js';
import { DAY } from '../../src/market/timeframe.js';
import { allocCandles } from '../../src/market/types.js';
import { loadStrategy } from '../../src/strategy/registry.js';

const HOUR = 3_600_000;
const MARCH_1 = Date.UTC(2023, 2, 1);

/** `days` of hourly candles rising 1% a day, with a dip every 10 hours so the strategy trades. */
function rising(days: number) {
  const n = days * 24;
  const c = allocCandles(n);
  for (let i = 0; i < n; i++) {
    const price = 100 * 1.01 ** (i / 24) * (i % 10 < 5 ? 1 : 0.995);
    c.time[i] = MARCH_1 + i * HOUR;
    c.open[i] = price;
    c.high[i] = price * 1.002;
    c.low[i] = price * 0.998;
    c.close[i] = price;
    c.volume[i] = 1;
  }
  return c;
}

const row = (rows: Array<[string, string]>, label: string) => rows.find(([k]) => k === label)?.[1];

describe('annualised figures', () => {
  it('are flagged, not shown, under 30 days of data', () => {
    expect(tooShortToAnnualise({ startTime: MARCH_1, endTime: MARCH_1 + 12 * DAY })).toBe(
      '12d of data; annualised figures need 30 days',
    );
    expect(tooShortToAnnualise({ startTime: MARCH_1, endTime: MARCH_1 + 30 * DAY })).toBeUndefined();
  });

  it('leave the CAGR, Sharpe and Calmar rows as n/a on a 12-day backtest, and show them on 40 days', async () => {
    const strategy = await loadStrategy('ema-cross');
    const short = runBacktest(strategy, { fast: 3, slow: 8 }, rising(12), { timeframeMs: HOUR });
    const rows = summaryRows(short, candleInfo(short, 'test'));
    expect(row(rows, 'CAGR')).toBe('n/a (12d of data; annualised figures need 30 days)');
    expect(row(rows, 'Sharpe / Sortino')).toBe('n/a (too short, see CAGR)');
    expect(row(rows, 'Calmar')).toBe('n/a (too short, see CAGR)');
    // The figures of the span itself stay.
    expect(row(rows, 'Total return')).toMatch(/^[+-]\d+\.\d\d%$/);

    const long = runBacktest(strategy, { fast: 3, slow: 8 }, rising(40), { timeframeMs: HOUR });
    const longRows = summaryRows(long, candleInfo(long, 'test'));
    expect(row(longRows, 'CAGR')).toMatch(/^[+-][\d,]+\.\d\d%$/);
    expect(row(longRows, 'Sharpe / Sortino')).toMatch(/^-?\d+\.\d\d \/ -?\d+\.\d\d$/);
  });
});

describe('the span used', () => {
  // The data: 2023-03-01 00:00 to 2023-04-11 12:00, 41.5 days.
  const m = { startTime: MARCH_1, endTime: MARCH_1 + 41.5 * DAY };

  it('is said when a period asked for is longer than the data', () => {
    expect(coverageNote({ period: 365.25 * DAY }, m, HOUR)).toBe(
      'Asked for 1y; the data covers 41.5d (2023-03-01 .. 2023-04-11): every figure is over that span.',
    );
  });

  it('is said when the data starts later or ends earlier than --from and --to', () => {
    const from = Date.UTC(2023, 0, 1);
    const to = Date.UTC(2024, 0, 1);
    expect(coverageNote({ from, to }, m, HOUR)).toBe(
      'Asked for 2023-01-01 .. 2024-01-01; the data covers 41.5d (2023-03-01 .. 2023-04-11): every figure is over that span.',
    );
    expect(coverageNote({ from: MARCH_1, to }, m, HOUR)).toMatch(/^Asked for 2023-03-01 \.\. 2024-01-01;/);
  });

  it('is not said when the data covers what was asked, to within a bar', () => {
    expect(coverageNote({ period: 41.5 * DAY + HOUR }, m, HOUR)).toBeUndefined();
    expect(coverageNote({ from: MARCH_1 - HOUR, to: m.endTime + HOUR }, m, HOUR)).toBeUndefined();
    expect(coverageNote({}, m, HOUR)).toBeUndefined();
  });
});
