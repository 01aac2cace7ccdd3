/**
 * The series the engine follows (symbol, timeframe): each one's recent candles, which the strategies
 * read. Following a series fills its buffer from the feed's history: candles every run on it has
 * seen only go into the buffer; later ones (closed while bosun was down) are processed, with the
 * chats keeping their turns meanwhile. A series nobody has traded yet takes its whole history as
 * warm-up.
 */
import { timeframeMs } from '../market/timeframe.js';
import { type Candle, candleAt } from '../market/types.js';
import { CandleBuffer } from './buffer.js';
import { type Feed, seriesKey, TimeSlice } from './feed.js';

export interface Series {
  symbol: string;
  timeframe: string;
  tfMs: number;
  buffer: CandleBuffer;
}

export interface SeriesOptions {
  feed: Feed;
  /** Candles kept per series. */
  bars: number;
  /** The last candle every run on the series has seen (+Infinity: none has run yet). */
  seen(symbol: string, timeframe: string): number;
  /** One closed candle through the runs on its series. */
  process(series: Series, candle: Candle, catchUp: boolean): Promise<void>;
}

export class SeriesBook {
  private readonly series = new Map<string, Series>();

  constructor(private readonly o: SeriesOptions) {}

  get(symbol: string, timeframe: string): Series | undefined {
    return this.series.get(seriesKey(symbol, timeframe));
  }

  /** Follow a series (once): its history into the buffer, missed candles processed, then watched. */
  async follow(symbol: string, timeframe: string): Promise<Series> {
    const known = this.get(symbol, timeframe);
    if (known) return known;
    const history = await this.o.feed.history(symbol, timeframe, this.o.bars);
    const ser: Series = {
      symbol,
      timeframe,
      tfMs: timeframeMs(timeframe),
      buffer: new CandleBuffer(this.o.bars),
    };
    const seen = this.o.seen(symbol, timeframe);
    let i = 0;
    while (i < history.length && history.time[i]! <= seen) i++;
    ser.buffer.pushAll(history, 0, i);
    this.series.set(seriesKey(symbol, timeframe), ser);
    // Candles missed while down can be many: the chats keep their turns meanwhile.
    const slice = new TimeSlice();
    for (; i < history.length; i++) {
      await this.o.process(ser, candleAt(history, i), i < history.length - 1);
      if (slice.over) await slice.next();
    }
    this.o.feed.watch(symbol, timeframe);
    return ser;
  }
}
