import { describe, expect, it } from 'vitest';
import * as ind from '../../src/indicators/index.js';
import { FIXTURES, readColumns } from '../helpers/fixtures.js';

const REFERENCES = [
  'talib_binance_BTC-USDT_2h_first5000.csv',
  'talib_binanceus_BTC-USDT_1m_2023-03_first5000.csv',
];

/** Asserts TA-Lib's warm-up (first non-NaN index) and every value within 1e-9 relative. */
function expectParity(actual: Float64Array, expected: Float64Array, name: string): void {
  expect(actual.length, `${name} length`).toBe(expected.length);
  expect(ind.firstValid(actual), `${name} first value index`).toBe(ind.firstValid(expected));
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Number.isNaN(e)) {
      expect(Number.isNaN(a), `${name}[${i}] should be NaN, got ${a}`).toBe(true);
      continue;
    }
    // Relative error, with an absolute floor for values at or near zero (OBV, MACD crossing 0).
    const err = Math.abs(a - e) / Math.max(Math.abs(e), 1e-6);
    if (err > worst) {
      worst = err;
      worstAt = i;
    }
  }
  expect(worst, `${name}: worst relative error ${worst} at row ${worstAt}`).toBeLessThanOrEqual(1e-9);
}

describe.each(REFERENCES)('TA-Lib parity on %s', (file) => {
  const ref = readColumns(`${FIXTURES}talib/${file}`);
  const { open, high, low, close, volume } = ref as Record<string, Float64Array>;
  void open;

  const cases: Array<[string, () => Float64Array]> = [
    ['sma_20', () => ind.sma(close!, 20)],
    ['ema_20', () => ind.ema(close!, 20)],
    ['rsi_14', () => ind.rsi(close!, 14)],
    ['macd_12_26_9', () => ind.macd(close!, 12, 26, 9).macd],
    ['macd_signal_12_26_9', () => ind.macd(close!, 12, 26, 9).signal],
    ['macd_hist_12_26_9', () => ind.macd(close!, 12, 26, 9).histogram],
    ['bb_upper_20_2', () => ind.bbands(close!, 20, 2).upper],
    ['bb_middle_20_2', () => ind.bbands(close!, 20, 2).middle],
    ['bb_lower_20_2', () => ind.bbands(close!, 20, 2).lower],
    ['atr_14', () => ind.atr(high!, low!, close!, 14)],
    ['adx_14', () => ind.adx(high!, low!, close!, 14)],
    ['obv', () => ind.obv(close!, volume!)],
    ['roc_10', () => ind.roc(close!, 10)],
    ['stoch_k_14_3_3', () => ind.stoch(high!, low!, close!, 14, 3, 3).k],
    ['stoch_d_14_3_3', () => ind.stoch(high!, low!, close!, 14, 3, 3).d],
    ['mfi_14', () => ind.mfi(high!, low!, close!, volume!, 14)],
    ['cci_20', () => ind.cci(high!, low!, close!, 20)],
    ['willr_14', () => ind.willr(high!, low!, close!, 14)],
  ];

  it.each(cases)('%s matches TA-Lib', (column, compute) => {
    expect(ref[column], `reference has ${column}`).toBeDefined();
    expectParity(compute(), ref[column]!, column);
  });
});
