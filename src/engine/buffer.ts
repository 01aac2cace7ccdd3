/** A growing window of the latest candles of one series, column-wise like every other candle array. */
import { allocCandles, type Candle, type Candles, candleAt } from '../market/types.js';

const COLUMNS = ['time', 'open', 'high', 'low', 'close', 'volume'] as const;

export class CandleBuffer {
  private cols: Candles;
  private n = 0;

  /** `limit`: the most candles kept; older ones drop off the front. */
  constructor(readonly limit: number) {
    this.cols = allocCandles(Math.min(limit, 1024));
  }

  get length(): number {
    return this.n;
  }

  get lastTime(): number {
    return this.n === 0 ? Number.NEGATIVE_INFINITY : this.cols.time[this.n - 1]!;
  }

  push(c: Candle): void {
    if (this.n === this.cols.length) {
      if (this.n < this.limit) {
        const bigger = allocCandles(Math.min(this.limit, this.n * 2));
        for (const k of COLUMNS) bigger[k].set(this.cols[k]);
        this.cols = bigger;
      } else {
        for (const k of COLUMNS) this.cols[k].copyWithin(0, 1);
        this.n--;
      }
    }
    const i = this.n++;
    for (const k of COLUMNS) this.cols[k][i] = c[k];
  }

  pushAll(c: Candles, from = 0, to = c.length): void {
    for (let i = from; i < to; i++) this.push(candleAt(c, i));
  }

  /** The candles held, oldest first (views: valid until the next push). */
  view(): Candles {
    const n = this.n;
    const c = this.cols;
    return {
      time: c.time.subarray(0, n),
      open: c.open.subarray(0, n),
      high: c.high.subarray(0, n),
      low: c.low.subarray(0, n),
      close: c.close.subarray(0, n),
      volume: c.volume.subarray(0, n),
      length: n,
    };
  }
}
