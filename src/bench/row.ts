/** One line of the bench table: a figure, the baseline measured in the same run, and its target. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline (or baseline / value for throughputs, so that > 1 means bosun is slower). */
  ratio?: number;
  target?: string;
  pass?: boolean;
}

/** The q-quantile of some figures (the nearest rank below). */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/**
 * p50, p95 and p99 of latencies (ms) beside the baseline's same quantiles, the p95 held to `limit`
 * (and to `ok`, when something else must hold too, such as nothing missing).
 */
export function latencyRows(
  what: (q: string) => string,
  values: readonly number[],
  baseline: readonly number[],
  limit: number,
  ok = true,
): BenchRow[] {
  return (['p50', 'p95', 'p99'] as const).map((name) => {
    const q = name === 'p50' ? 0.5 : name === 'p95' ? 0.95 : 0.99;
    const value = quantile(values, q);
    const base = quantile(baseline, q);
    return {
      name: what(name),
      value,
      unit: 'ms',
      baseline: base,
      ratio: value / Math.max(base, 0.001),
      ...(name === 'p95' ? { target: `<= ${limit} ms`, pass: value <= limit && ok } : {}),
    };
  });
}
