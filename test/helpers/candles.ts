import type { SimulationOptions } from '../../src/backtest/types.js';
import { candlesFrom } from '../../src/market/types.js';
import type { Signals } from '../../src/strategy/define.js';
import { emptySignals } from '../../src/strategy/define.js';

export const HOUR = 3_600_000;
export const T0 = Date.UTC(2024, 0, 1);

/** Hourly candles from [open, high, low, close] rows, volume 1, starting at T0. */
export function bars(rows: Array<[number, number, number, number]>) {
  return candlesFrom(
    rows.map(([open, high, low, close], i) => ({ time: T0 + i * HOUR, open, high, low, close, volume: 1 })),
  );
}

/** A flat bar at price p. */
export const flat = (p: number): [number, number, number, number] => [p, p, p, p];

export interface SignalSpec {
  enterLong?: number[];
  exitLong?: number[];
  enterShort?: number[];
  exitShort?: number[];
  stop?: Record<number, number>;
  target?: Record<number, number>;
}

export function signalsAt(n: number, spec: SignalSpec): Signals {
  const s = emptySignals(n, spec.stop !== undefined || spec.target !== undefined);
  for (const key of ['enterLong', 'exitLong', 'enterShort', 'exitShort'] as const)
    for (const i of spec[key] ?? []) s[key][i] = 1;
  for (const [i, v] of Object.entries(spec.stop ?? {})) s.stop![Number(i)] = v;
  for (const [i, v] of Object.entries(spec.target ?? {})) s.target![Number(i)] = v;
  return s;
}

export function simOptions(over: Partial<SimulationOptions> = {}): SimulationOptions {
  return {
    capital: 10_000,
    fee: 0.001,
    slippageBps: 0,
    sizing: { mode: 'all-in' },
    direction: 'long',
    exits: {},
    ...over,
  };
}

/** 48 hourly candles from T0 rising by 1 an hour (open 100 + i, high +2, low -1, close +1, volume 10): exchange emulator data. */
export const RISING_HOURS = Array.from({ length: 48 }, (_, i) => ({
  time: T0 + i * HOUR,
  open: 100 + i,
  high: 102 + i,
  low: 99 + i,
  close: 101 + i,
  volume: 10,
}));
