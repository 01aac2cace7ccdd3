/**
 * ict-confluence end to end on the bundled BTC/USDT 1m sample (March 2023) resampled to 15m: the
 * higher timeframes it reads had closed by each bar, the backtest trades and is reproducible to the
 * cent, every entry meets its score with a zone and a trigger, and stops and targets sit on the right
 * sides.
 */
import { describe, expect, it } from 'vitest';
import { runBacktest } from '../../src/backtest/run.js';
import { loadCandlesFile } from '../../src/market/load.js';
import { closedOnly, resample } from '../../src/market/resample.js';
import { loadStrategy } from '../../src/strategy/registry.js';
import { parseParams } from '../../src/strategy/params.js';
import { SAMPLES } from '../helpers/fixtures.js';

const MIN = 60_000;
const M15 = 15 * MIN;
const H1 = 60 * MIN;
const H4 = 4 * H1;
const candles = closedOnly(
  resample(loadCandlesFile(`${SAMPLES}binanceus_BTC-USDT_1m_2023-03.csv`), MIN, M15),
);
const strategy = await loadStrategy('ict-confluence');
const signalsWith = (params: Record<string, unknown>) =>
  strategy.signals(candles, parseParams(strategy, params), { timeframeMs: M15, informative: {} });

describe('ict-confluence', () => {
  it('reads only 4h and 1h candles that had closed by each 15m bar, and the latest of them', () => {
    const s = signalsWith({});
    const bias = s.indicators.biasCandle!;
    const zone = s.indicators.zoneCandle!;
    let checked = 0;
    for (let t = 0; t < candles.length; t++) {
      const barClose = candles.time[t]! + M15;
      for (const [open, ms] of [
        [bias[t]!, H4],
        [zone[t]!, H1],
      ] as const) {
        if (Number.isNaN(open)) continue;
        expect(open + ms).toBeLessThanOrEqual(barClose); // closed by this bar's close
        expect(open + 2 * ms).toBeGreaterThan(barClose); // the next one had not closed yet
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(candles.length * 1.9);
    // A 4h candle becomes visible on the 15m bar that closes with it: 03:45 sees 00:00, 03:30 does not.
    const i0345 = candles.time.indexOf(Date.UTC(2023, 2, 2, 3, 45));
    expect(bias[i0345]).toBe(Date.UTC(2023, 2, 2, 0));
    expect(bias[i0345 - 1]).toBe(Date.UTC(2023, 2, 1, 20));
  });

  it('backtests on the bundled data: trades, reproducible to the cent, stops and targets on the right side', () => {
    const params = parseParams(strategy, {});
    const a = runBacktest(strategy, params, candles, { direction: 'both' });
    const b = runBacktest(strategy, params, candles, { direction: 'both' });
    expect(a.metrics.trades).toBeGreaterThan(3);
    expect(b.simulation.trades).toEqual(a.simulation.trades);
    expect(b.metrics.finalEquity.toFixed(2)).toBe(a.metrics.finalEquity.toFixed(2));
    const s = signalsWith({});
    let entries = 0;
    for (let t = 0; t < candles.length; t++) {
      for (const [on, dir] of [
        [s.enterLong[t], 1],
        [s.enterShort[t], -1],
      ] as const) {
        if (!on) continue;
        entries++;
        const close = candles.close[t]!;
        expect((close - s.stop![t]!) * dir).toBeGreaterThan(0);
        expect((s.target![t]! - close) * dir).toBeGreaterThan(0);
        // At least 1R to the target.
        expect((s.target![t]! - close) * dir).toBeGreaterThanOrEqual((close - s.stop![t]!) * dir - 1e-9);
        const score = (dir === 1 ? s.indicators.scoreLong : s.indicators.scoreShort)![t]!;
        expect(score).toBeGreaterThanOrEqual(3);
        const note = s.notes![t]!;
        expect(note).toMatch(new RegExp(`^${score}/6 \\(min 3\\): `));
        expect(note.match(/✓/g)).toHaveLength(score);
        expect(note.match(/[✓✗]/g)).toHaveLength(6);
        expect(note).toMatch(/✓ 1h (OB|FVG)/); // a zone is required
      }
    }
    expect(entries).toBeGreaterThan(3);
  });

  it('presets trade more or less: aggressive at least as often as default, conservative at most, and scores follow', () => {
    const count = (preset: string) => {
      const s = signalsWith({ preset });
      let n = 0;
      let minScore = 7;
      for (let t = 0; t < candles.length; t++)
        if (s.enterLong[t]) {
          n++;
          minScore = Math.min(minScore, s.indicators.scoreLong![t]!);
        }
      return { n, minScore };
    };
    const [agg, def, con] = ['aggressive', 'default', 'conservative'].map(count);
    expect(agg!.n).toBeGreaterThanOrEqual(def!.n);
    expect(def!.n).toBeGreaterThanOrEqual(con!.n);
    expect(agg!.n).toBeGreaterThan(con!.n);
    expect(con!.minScore).toBeGreaterThanOrEqual(4);
    // An explicit minScore wins over the preset's.
    const strict = signalsWith({ preset: 'aggressive', minScore: 5 });
    for (let t = 0; t < candles.length; t++)
      if (strict.enterLong[t]) expect(strict.indicators.scoreLong![t]).toBeGreaterThanOrEqual(5);
  });

  it('exits a long on a bearish CHOCH, and with target=rr aims at exactly rr times the risk', () => {
    const s = signalsWith({ target: 'rr', rr: 2.5 });
    let checked = 0;
    for (let t = 0; t < candles.length; t++) {
      if (!s.enterLong[t]) continue;
      const close = candles.close[t]!;
      expect(s.target![t]! - close).toBeCloseTo(2.5 * (close - s.stop![t]!), 6);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    expect(s.exitLong.reduce((n, v) => n + v, 0)).toBeGreaterThan(0);
  });

  it('refuses timeframes the data cannot serve, in one line', () => {
    const twoHour = closedOnly(resample(candles, M15, 2 * H1));
    expect(() =>
      strategy.signals(twoHour, parseParams(strategy, {}), { timeframeMs: 2 * H1, informative: {} }),
    ).toThrow(/ict-confluence needs 1h candles \(zone\), which 2h data cannot serve/);
    expect(() => parseParams(strategy, { bias: 'four hours' })).toThrow(/bias/);
  });
});
