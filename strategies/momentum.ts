/**
 * momentum (from the momentum scanner's spec): enter when the momentum score (see
 * `src/strategy/momentum.ts`: RSI, MACD, ROC 1/5/15, OBV, VWAP, Bollinger, confirmed by ADX and
 * volume) reaches `minScore` of 10 and RSI is not stretched; leave when it falls to `exitScore`.
 * Risk defaults from the spec: 5 % of equity per position, at most 5 open, a 2 % stop, take-profits
 * of 30 % at +1.5 %, 40 % at +3 % and 30 % at +5 %, and a 1 % trailing stop from +2 %.
 */
import { z } from 'zod';
import { MAX_SCORE, MOMENTUM_DEFAULTS, momentumReasons, momentumSeries } from '../src/strategy/momentum.js';
import { defineStrategy, emptySignals } from '../src/strategy/define.js';

export default defineStrategy({
  name: 'momentum',
  description: 'Long on a strong momentum score (RSI, MACD, ROC, OBV, VWAP, bands, ADX, volume)',
  params: z
    .object({
      minScore: z.number().int().min(1).max(MAX_SCORE).default(6).describe('score of 10 needed to enter'),
      exitScore: z
        .number()
        .int()
        .min(-MAX_SCORE)
        .max(MAX_SCORE)
        .default(-2)
        .describe('score at or below which a long leaves'),
      adxMin: z.number().min(0).max(100).default(25).describe('ADX that counts as a trend'),
      maxAtr: z.number().gt(0).max(1).default(0.05).describe('skip entries when ATR/close is above this'),
      trend: z.boolean().default(false).describe('trade only with EMA 50 vs EMA 200'),
    })
    .strict()
    .refine((p) => p.exitScore < p.minScore, { message: 'exitScore must be below minScore' }),
  timeframes: { main: '15m' },
  warmup: (p) => (p.trend ? 600 : 120),
  risk: { maxPositionSize: 0.05, maxOpenPositions: 5 },
  // The score is what it trades on; RSI and the other votes are in each signal's reasons.
  plot: (p) => ({
    score: {
      panel: 'Score',
      label: `Score of ${MAX_SCORE}`,
      min: -MAX_SCORE,
      max: MAX_SCORE,
      levels: [p.minScore, p.exitScore],
    },
    rsi: 'hidden',
    vwap: { price: true, label: 'VWAP' },
    bbUpper: { price: true, label: 'BB upper' },
    bbLower: { price: true, label: 'BB lower' },
    macdHistogram: 'hidden',
    roc1: 'hidden',
    roc5: 'hidden',
    roc15: 'hidden',
    adx: 'hidden',
    atrPct: 'hidden',
  }),
  exits: () => ({
    stopLoss: 0.02,
    takeProfit: [
      { at: 0.015, close: 0.3 },
      { at: 0.03, close: 0.4 },
      { at: 0.05, close: 0.3 },
    ],
    trailing: { activation: 0.02, offset: 0.01 },
  }),
  signals(candles, p) {
    const params = {
      ...MOMENTUM_DEFAULTS,
      adxMin: p.adxMin,
      ...(p.trend ? { trendFast: 50, trendSlow: 200 } : {}),
    };
    const m = momentumSeries(candles, params);
    const s = emptySignals(candles.length);
    const notes: Array<string | undefined> = new Array(candles.length);
    // How sure: the score's strength, which the regime multiplies into the size.
    const confidence = new Float64Array(candles.length).fill(Number.NaN);
    for (let t = 1; t < candles.length; t++) {
      const score = m.score[t]!;
      if (Number.isNaN(score)) continue;
      const calm = m.atrPct[t]! <= p.maxAtr;
      const why = () =>
        `score ${score > 0 ? '+' : ''}${score}/${MAX_SCORE}: ${momentumReasons(m, candles, t, params).join(', ')}`;
      if (score >= p.minScore && m.rsi[t]! < params.rsiHigh && calm && (!p.trend || m.trend[t] === 1)) {
        s.enterLong[t] = 1;
        notes[t] = why();
        confidence[t] = Math.abs(score) / MAX_SCORE;
      } else if (
        -score >= p.minScore &&
        m.rsi[t]! > params.rsiLow &&
        calm &&
        (!p.trend || m.trend[t] === -1)
      ) {
        s.enterShort[t] = 1;
        notes[t] = why();
        confidence[t] = Math.abs(score) / MAX_SCORE;
      }
      if (score <= p.exitScore) s.exitLong[t] = 1;
      if (-score <= p.exitScore) s.exitShort[t] = 1;
    }
    Object.assign(s.indicators, {
      score: m.score,
      rsi: m.rsi,
      macdHistogram: m.macdHistogram,
      roc1: m.roc1,
      roc5: m.roc5,
      roc15: m.roc15,
      adx: m.adx,
      vwap: m.vwap,
      bbUpper: m.bbUpper,
      bbLower: m.bbLower,
      atrPct: m.atrPct,
    });
    return { ...s, notes, confidence };
  },
});
