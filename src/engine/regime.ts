/**
 * The regime engine (from the macro-aware bot): is the market RISK_ON, RISK_OFF, CHOP, or
 * DECOUPLED (outside inputs disagree with price)? Price alone decides the first three, from the
 * reference market's trend (slope of log closes and ADX), its volatility and the breadth of the
 * watched markets; optional providers (DXY, BTC dominance, news) can only make it DECOUPLED.
 * A state must last `minDwellMs` before it may change (hysteresis), and every change is kept.
 * Pure functions and one small class; the engine supplies candles and the clock.
 */
import { adx } from '../indicators/index.js';
import type { Candles } from '../market/types.js';

export const REGIMES = ['RISK_ON', 'RISK_OFF', 'CHOP', 'DECOUPLED'] as const;
export type Regime = (typeof REGIMES)[number];

export interface RegimeSettings {
  /** Bars of the reference market the slope and volatility are measured over. */
  lookback: number;
  /** Slope of log price per bar that counts as a full trend (0.002 = 0.2 % a bar). */
  fullSlope: number;
  /** ADX below this is a range, whatever the slope. */
  chopAdx: number;
  /** Per-bar volatility (stdev of log returns) above which risk is cut. */
  maxVolatility: number;
  /** Price score needed for RISK_ON / RISK_OFF (below it: CHOP). */
  threshold: number;
  /** Outside bias (-1..1) strong enough to call a disagreement with price DECOUPLED. */
  decoupleBias: number;
  /** Least time in a state before it may change, ms. */
  minDwellMs: number;
  /** Size multiplier per state (0: no entries). */
  multipliers: Record<Regime, number>;
}

export const REGIME_DEFAULTS: RegimeSettings = {
  lookback: 50,
  fullSlope: 0.002,
  chopAdx: 20,
  maxVolatility: 0.03,
  threshold: 0.25,
  decoupleBias: 0.5,
  minDwellMs: 12 * 3_600_000,
  multipliers: { RISK_ON: 1, RISK_OFF: 0.5, CHOP: 0, DECOUPLED: 0.5 },
};

/** What price says, each input on a readable scale. */
export interface PriceInputs {
  /** Least-squares slope of ln(close) per bar over the lookback. */
  slope: number;
  /** ADX(14) of the reference market. */
  adx: number;
  /** Standard deviation of 1-bar log returns over the lookback. */
  volatility: number;
  /** Share of watched markets closing above their lookback SMA (NaN when none were given). */
  breadth: number;
  /** Markets breadth was measured on. */
  markets: number;
}

/** An outside input: + leans risk-on, - risk-off. */
export interface ExternalReading {
  provider: string;
  bias: number;
  detail: string;
}

export interface RegimeReading {
  state: Regime;
  /** 0..1: how clearly the inputs say so. */
  confidence: number;
  /** Price's combined score, -1..1. */
  score: number;
  inputs: PriceInputs;
  external: ExternalReading[];
  /** Providers configured but failing, with their error line. */
  failures: Array<{ provider: string; error: string }>;
  reasons: string[];
}

const clamp = (x: number, lo = -1, hi = 1) => Math.max(lo, Math.min(hi, x));

/** Price inputs at the last bar of `reference`, with breadth over `markets` (closes only). */
export function priceInputs(reference: Candles, markets: readonly Candles[], lookback: number): PriceInputs {
  const { close, high, low } = reference;
  const n = close.length;
  const from = Math.max(0, n - lookback);
  const m = n - from;
  // Slope of ln(close) on bar number, least squares.
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < m; i++) {
    const y = Math.log(close[from + i]!);
    sx += i;
    sy += y;
    sxx += i * i;
    sxy += i * y;
  }
  const slope = m > 1 ? (m * sxy - sx * sy) / (m * sxx - sx * sx) : 0;
  let mean = 0;
  for (let i = from + 1; i < n; i++) mean += Math.log(close[i]! / close[i - 1]!);
  mean /= Math.max(1, m - 1);
  let varSum = 0;
  for (let i = from + 1; i < n; i++) varSum += (Math.log(close[i]! / close[i - 1]!) - mean) ** 2;
  const volatility = m > 2 ? Math.sqrt(varSum / (m - 2)) : 0;
  const a = n > 30 ? adx(high, low, close, 14)[n - 1]! : Number.NaN;
  let above = 0;
  let counted = 0;
  for (const c of markets) {
    if (c.length < lookback) continue;
    let sum = 0;
    for (let i = c.length - lookback; i < c.length; i++) sum += c.close[i]!;
    counted++;
    if (c.close[c.length - 1]! > sum / lookback) above++;
  }
  return { slope, adx: a, volatility, breadth: counted > 0 ? above / counted : Number.NaN, markets: counted };
}

/** The state the inputs call for now, before hysteresis. */
export function classify(
  inputs: PriceInputs,
  external: readonly ExternalReading[] = [],
  s: RegimeSettings = REGIME_DEFAULTS,
  failures: RegimeReading['failures'] = [],
): RegimeReading {
  const trend = clamp(inputs.slope / s.fullSlope);
  const breadth = Number.isNaN(inputs.breadth) ? undefined : (inputs.breadth - 0.5) * 2;
  const volPenalty = clamp((inputs.volatility - s.maxVolatility) / s.maxVolatility, 0, 1);
  // Trend weighs most; breadth confirms; excess volatility pulls towards risk-off.
  let score = breadth === undefined ? trend : 0.65 * trend + 0.35 * breadth;
  score = clamp(score - 0.5 * volPenalty);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const reasons = [
    `trend ${inputs.slope >= 0 ? '+' : ''}${pct(inputs.slope)} a bar, ADX ${Number.isNaN(inputs.adx) ? 'n/a' : inputs.adx.toFixed(0)}`,
    `volatility ${pct(inputs.volatility)} a bar${volPenalty > 0 ? ' (high)' : ''}`,
    breadth === undefined
      ? 'breadth n/a'
      : `breadth ${(inputs.breadth * 100).toFixed(0)}% of ${inputs.markets} markets above their average`,
  ];
  const ranging = !Number.isNaN(inputs.adx) && inputs.adx < s.chopAdx;
  let state: Regime;
  let confidence: number;
  if (ranging || Math.abs(score) < s.threshold) {
    state = 'CHOP';
    confidence = ranging
      ? clamp((s.chopAdx - inputs.adx) / s.chopAdx + 0.5, 0, 1)
      : clamp(1 - Math.abs(score) / s.threshold, 0, 1);
  } else {
    state = score > 0 ? 'RISK_ON' : 'RISK_OFF';
    confidence = clamp(((Math.abs(score) - s.threshold) / (1 - s.threshold)) * 0.7 + 0.3, 0, 1);
  }
  if (external.length > 0) {
    const bias = external.reduce((a, e) => a + clamp(e.bias), 0) / external.length;
    reasons.push(
      `outside inputs ${bias >= 0 ? '+' : ''}${bias.toFixed(2)} (${external.map((e) => e.detail).join('; ')})`,
    );
    if (state !== 'CHOP' && Math.abs(bias) >= s.decoupleBias && Math.sign(bias) !== Math.sign(score)) {
      state = 'DECOUPLED';
      confidence = clamp(Math.abs(bias - score) / 2, 0, 1);
    }
  } else {
    reasons.push(
      failures.length > 0
        ? 'outside inputs unavailable: price alone'
        : 'no outside inputs configured: price alone',
    );
  }
  return {
    state,
    confidence: +confidence.toFixed(4),
    score: +score.toFixed(4),
    inputs,
    external: [...external],
    failures,
    reasons,
  };
}

export interface RegimeChange {
  at: number;
  from: Regime | null;
  to: Regime;
  confidence: number;
  why: string;
}

/** Hysteresis and history: a new state replaces the current one only after `minDwellMs` in it. */
export class RegimeTracker {
  state: Regime | null = null;
  since = 0;
  last: RegimeReading | undefined;
  readonly history: RegimeChange[] = [];

  constructor(
    private readonly minDwellMs: number,
    private readonly keep = 50,
    restored?: { state: Regime; since: number; history: RegimeChange[] },
  ) {
    if (restored) {
      this.state = restored.state;
      this.since = restored.since;
      this.history.push(...restored.history.slice(-keep));
    }
  }

  /** Feed a reading at `now`; returns the change when the state changed. */
  update(now: number, reading: RegimeReading): RegimeChange | undefined {
    this.last = reading;
    if (reading.state === this.state) return undefined;
    if (this.state !== null && now - this.since < this.minDwellMs) return undefined;
    const change: RegimeChange = {
      at: now,
      from: this.state,
      to: reading.state,
      confidence: reading.confidence,
      why: reading.reasons.join('; '),
    };
    this.state = reading.state;
    this.since = now;
    this.history.push(change);
    if (this.history.length > this.keep) this.history.splice(0, this.history.length - this.keep);
    return change;
  }

  /** Ms until the current state may change (0: it may now). */
  heldFor(now: number): number {
    return Math.max(0, this.minDwellMs - (now - this.since));
  }
}

/**
 * What a run may do in a regime: the gate (no longs in RISK_OFF, no shorts in RISK_ON, nothing in
 * CHOP) and the size, the state's multiplier times the signal's confidence (0..1; 1 when the
 * strategy does not grade its signals).
 */
export function regimeGate(
  state: Regime,
  side: 'long' | 'short',
  signalConfidence: number,
  multipliers: Record<Regime, number> = REGIME_DEFAULTS.multipliers,
): { ok: true; factor: number } | { ok: false; reason: string } {
  if (state === 'CHOP') return { ok: false, reason: 'regime CHOP: no entries while the market ranges' };
  if (state === 'RISK_OFF' && side === 'long') return { ok: false, reason: 'regime RISK_OFF: no longs' };
  if (state === 'RISK_ON' && side === 'short') return { ok: false, reason: 'regime RISK_ON: no shorts' };
  const factor = multipliers[state] * clamp(signalConfidence, 0, 1);
  if (!(factor > 0)) return { ok: false, reason: `regime ${state}: size multiplier is 0` };
  return { ok: true, factor };
}
