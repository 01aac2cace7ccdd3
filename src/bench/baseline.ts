/**
 * The benchmark's baseline: a bare Node loop that parses a candle CSV the obvious way (split lines,
 * split fields, Number) into typed arrays and computes one EMA. No bosun code. Its whole process
 * is what `npm run backtest` is measured against.
 *
 * Usage: node dist/src/bench/baseline.js FILE.csv   -> prints {"rows":..,"parseMs":..,"emaMs":..,"last":..}
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function parseCsvBaseline(text: string) {
  const lines = text.split('\n');
  const n = lines.length;
  const cols = Array.from({ length: 6 }, () => new Float64Array(n));
  let rows = 0;
  for (let i = 1; i < n; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    const f = line.split(',');
    for (let c = 0; c < 6; c++) cols[c]![rows] = Number(f[c]);
    rows++;
  }
  return { rows, close: cols[4]!.subarray(0, rows) };
}

export function emaBaseline(values: Float64Array, period: number): Float64Array {
  const out = new Float64Array(values.length);
  const k = 2 / (period + 1);
  let prev = 0;
  for (let i = 0; i < period; i++) prev += values[i]!;
  prev /= period;
  out[period - 1] = prev;
  for (let i = period; i < values.length; i++) {
    prev = (values[i]! - prev) * k + prev;
    out[i] = prev;
  }
  return out;
}

const file = process.argv[2];
if (file && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const t0 = performance.now();
  const { rows, close } = parseCsvBaseline(readFileSync(file, 'utf8'));
  const t1 = performance.now();
  const e = emaBaseline(close, 26);
  const t2 = performance.now();
  console.log(JSON.stringify({ rows, parseMs: t1 - t0, emaMs: t2 - t1, last: e[rows - 1] }));
}
