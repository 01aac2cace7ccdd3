import { readFileSync } from 'node:fs';
import type { Ohlc } from '../../src/indicators/smc/index.js';
import { FIXTURES } from './fixtures.js';

/** The library's test candles; broker times read as UTC, as pandas reads them. */
export function loadEurusd(): Ohlc & { length: number } {
  const lines = readFileSync(`${FIXTURES}smc/EURUSD_15M.csv`, 'utf8').trim().split('\n').slice(1);
  const n = lines.length;
  const c = {
    time: new Float64Array(n),
    open: new Float64Array(n),
    high: new Float64Array(n),
    low: new Float64Array(n),
    close: new Float64Array(n),
    volume: new Float64Array(n),
    length: n,
  };
  lines.forEach((line, i) => {
    const [date, o, h, l, cl, , vol] = line.split(',');
    const [d, t] = date!.split(' ');
    c.time[i] = Date.parse(`${d!.replaceAll('.', '-')}T${t}Z`);
    c.open[i] = Number(o);
    c.high[i] = Number(h);
    c.low[i] = Number(l);
    c.close[i] = Number(cl);
    c.volume[i] = Number(vol);
  });
  return c;
}
