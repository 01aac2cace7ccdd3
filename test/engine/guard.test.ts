/**
 * Protection between candle closes (`engine/guard.ts`), held to the README's parity contract with a
 * backtest on candles: a candle that reaches the stop or targets, but not both, fills the same (only
 * sooner); a candle that reaches a target and then the stop, and a trailing stop, are where the
 * stream and a backtest part.
 */
import { describe, expect, it } from 'vitest';
import {
  applyBar,
  type EntryFill,
  type ExitFill,
  type FillCosts,
  openPosition,
  type Side,
} from '../../src/backtest/fills.js';
import { Guard, unmetPart } from '../../src/engine/guard.js';
import { meetStreamed } from '../../src/engine/step.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { LiveBroker } from '../../src/engine/live/broker.js';
import { PaperBroker } from '../../src/engine/paper.js';
import { quietLogger } from '../helpers/engine.js';
import { LIVE_DEFAULTS, liveExchange } from '../helpers/live.js';
import { fromRecord, toRecord } from '../../src/engine/positions.js';
import type { Candle } from '../../src/market/types.js';
import { memoryState, type PositionRecord, type State } from '../../src/store/state.js';
import type { ExitRules } from '../../src/strategy/define.js';

const COSTS: FillCosts = { fee: 0.001, maker: 0.0005, slippage: 0.0005 };
const HOUR = 3_600_000;

/** The forming candle after each price of `path` (its open first), as a stream shows it. */
function forming(time: number, path: number[]): Candle[] {
  const out: Candle[] = [];
  let high = path[0]!;
  let low = path[0]!;
  for (const p of path) {
    high = Math.max(high, p);
    low = Math.min(low, p);
    out.push({ time, open: path[0]!, high, low, close: p, volume: 1 });
  }
  return out;
}

function position(side: Side, rules: ExitRules, entry = 100): { s: State; rec: PositionRecord } {
  const s = memoryState(0).data as State;
  const p = openPosition({ side, index: 0, time: 0, price: entry, quantity: 1, rules, costs: COSTS });
  const rec = toRecord(p, { id: 'P1', runId: 'R1', signalId: 'S1', symbol: 'BTC/USDT', mark: entry });
  s.positions[rec.id] = rec;
  return { s, rec };
}

/** Candles through a position as the engine meets them on a stream: each update, then the close. */
function streamedUpdates(side: Side, rules: ExitRules, candles: Candle[][]): ExitFill[] {
  const { s, rec } = position(side, rules);
  const broker = new PaperBroker({ USDT: 10_000 });
  const c = { broker, costs: COSTS };
  const guard = new Guard();
  const fills: ExitFill[] = [];
  const events: EngineEvent[] = [];
  for (const updates of candles) {
    for (const u of updates) {
      if (!s.positions[rec.id]) break;
      if (meetStreamed(s, c, rec, guard.unmet(rec, u), u, events) !== 'wait') guard.advance(rec.id, u);
      for (const e of events.splice(0)) if (e.type === 'exit') fills.push(e.fill);
    }
    if (!s.positions[rec.id]) break;
    const closed = updates[updates.length - 1]!;
    fills.push(...broker.applyCandle(s, rec, guard.unmet(rec, closed), COSTS, true).fills);
    guard.done(rec.id);
  }
  return fills;
}

/** The same, each candle given as the path of its prices (one update per price). */
function streamed(side: Side, rules: ExitRules, paths: number[][]): ExitFill[] {
  return streamedUpdates(
    side,
    rules,
    paths.map((path, k) => forming((k + 1) * HOUR, path)),
  );
}

/** The same candles in a backtest: each whole candle at once. */
function backtested(side: Side, rules: ExitRules, paths: number[][]): ExitFill[] {
  const { rec } = position(side, rules);
  const p = fromRecord(rec);
  const fills: ExitFill[] = [];
  paths.forEach((path, k) => {
    const c = forming((k + 1) * HOUR, path).at(-1)!;
    if (p.qty === 0) return;
    if (applyBar(p, c.time, c.open, c.high, c.low, COSTS, (f) => fills.push(f))) return;
    p.barsHeld++;
  });
  return fills;
}

/** A small deterministic generator (the test's numbers are the same every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('the part of a candle a position has not met', () => {
  it('is the whole candle so far at first, from its open (a gap fills at the open)', () => {
    const c = { time: HOUR, open: 100, high: 104, low: 97, close: 101 };
    expect(unmetPart(c, undefined, 5)).toEqual({ time: 5, open: 100, high: 104, low: 97, close: 101 });
    // A mark of another candle does not count.
    expect(unmetPart(c, { time: 0, high: 200, low: 1, last: 150 }, 5).open).toBe(100);
  });

  it('then starts at the last price met and reaches only new extremes, else the prices between', () => {
    const met = { time: HOUR, high: 104, low: 97, last: 102 };
    // No new extreme: from 102 to the close 99 and nothing beyond.
    expect(unmetPart({ time: HOUR, open: 100, high: 104, low: 97, close: 99 }, met, 7)).toEqual({
      time: 7,
      open: 102,
      high: 102,
      low: 99,
      close: 99,
    });
    // A new low of the candle was reached since.
    expect(unmetPart({ time: HOUR, open: 100, high: 104, low: 95, close: 99 }, met, 7)).toMatchObject({
      high: 102,
      low: 95,
    });
  });
});

describe('the parity contract with a backtest on candles', () => {
  const rules: ExitRules = {
    stopLoss: 0.05,
    takeProfit: [
      { at: 0.04, close: 0.5 },
      { at: 0.08, close: 0.5 },
    ],
  };

  it('fills a candle that reaches the stop or targets, not both, at the same prices, quantities and fees', () => {
    const next = random(7);
    let compared = 0;
    for (let run = 0; run < 300; run++) {
      for (const side of [1, -1] as const) {
        // Up to six candles, each a random path of 2 to 9 prices around 100.
        const paths: number[][] = [];
        let price = 100;
        for (let k = 0; k < 1 + Math.floor(next() * 6); k++) {
          const path = [price];
          for (let j = 0; j < 1 + Math.floor(next() * 8); j++)
            path.push(path.at(-1)! * (0.97 + next() * 0.06));
          paths.push(path.map((p) => Math.round(p * 100) / 100));
          price = paths.at(-1)!.at(-1)!;
        }
        // Only runs in which no candle reached both the stop and a target.
        if (reachesBoth(side, rules, paths)) continue;
        const bt = backtested(side, rules, paths);
        const stream = streamed(side, rules, paths);
        compared++;
        // Stamped with their candle's time too, as a backtest stamps them.
        expect(stream).toEqual(bt);
      }
    }
    expect(compared).toBeGreaterThan(300);
  });

  it('parts where a candle reaches a target before the stop: the stream takes the target, a backtest assumes the stop', () => {
    // Long at 100, stop 95, targets 104 and 108: up to 104.5, then down through the stop.
    const path = [100, 104.5, 99, 94, 96];
    const bt = backtested(1, rules, [path]);
    const stream = streamed(1, rules, [path]);
    expect(bt.map((f) => [f.reason, f.quantity])).toEqual([['stop', 1]]);
    expect(stream.map((f) => [f.reason, f.quantity, f.price])).toEqual([
      ['take-profit', 0.5, 104],
      ['stop', 0.5, 95 * (1 - 0.0005)],
    ]);
  });

  it('parts on a trailing stop: the stream raises it as the price rises and takes it in the same candle', () => {
    const trailing: ExitRules = { trailing: { activation: 0.02, offset: 0.01 } };
    // Up to 106 (the trail to 104.94), then back to 103 within one candle; the next candle stays at 103.
    const paths = [
      [100, 106, 103],
      [103, 103.5, 103],
    ];
    const stream = streamed(1, trailing, paths);
    expect(stream.map((f) => f.reason)).toEqual(['trailing-stop']);
    expect(stream[0]!.price).toBeCloseTo(106 * 0.99 * (1 - 0.0005), 9);
    // Stamped with its candle's time, as a backtest stamps fills.
    expect(stream[0]!.time).toBe(HOUR);
    // A backtest raises the trail at the first close (104.94) and takes it at the second candle's open.
    const bt = backtested(1, trailing, paths);
    expect(bt.map((f) => [f.reason, f.time])).toEqual([['trailing-stop', 2 * HOUR]]);
    expect(bt[0]!.price).toBeCloseTo(103 * (1 - 0.0005), 9);
  });

  it('does not let a trailing stop raised a moment ago be hit by a low from before', () => {
    const trailing: ExitRules = { trailing: { activation: 0.02, offset: 0.01 } };
    // Down to 99 first, then up to 106 and closing there: the trail (104.94) was never traded through.
    expect(streamed(1, trailing, [[100, 99, 106]])).toEqual([]);
  });

  it('meets a position opened between closes only with the prices after its entry', () => {
    const { s, rec } = position(1, { takeProfit: [{ at: 0.04, close: 1 }] });
    const guard = new Guard();
    const broker = new PaperBroker({ USDT: 10_000 });
    // The candle went to 105 before the entry at 100 (entered at 10:30), then to 103.
    const [, , atEntry, later] = forming(HOUR, [101, 105, 100, 103]);
    guard.see('BTC/USDT', '1h', atEntry!);
    rec.entryTime = HOUR + 30 * 60_000;
    guard.entered(rec, '1h');
    const part = guard.unmet(rec, later!);
    expect(part).toMatchObject({ open: 100, high: 103, low: 100 });
    expect(broker.applyCandle(s, rec, part, COSTS, false).fills).toEqual([]);
  });

  it('after a restart, goes on from how far the record says the position met the candle', () => {
    const { rec } = position(1, { stopLoss: 0.05 });
    rec.met = { time: HOUR, high: 104, low: 97, last: 103 };
    // A new guard (memory lost): the close meets only what came after 103, not the low of 97 again.
    const part = new Guard().unmet(rec, { time: HOUR, open: 100, high: 104, low: 97, close: 102 });
    expect(part).toMatchObject({ open: 103, high: 103, low: 102 });
  });

  it('takes a trailing stop an update raised when its latest price is already under it', () => {
    const trailing: ExitRules = { trailing: { activation: 0.02, offset: 0.01 } };
    // One update shows the high of 106 and the price back at 104: the trail (104.94) was crossed.
    const t = HOUR;
    const updates: Candle[] = [
      { time: t, open: 100, high: 100, low: 100, close: 100, volume: 1 },
      { time: t, open: 100, high: 106, low: 100, close: 104, volume: 1 },
      { time: t, open: 100, high: 106, low: 100, close: 105.5, volume: 1 },
    ];
    const fills = streamedUpdates(1, trailing, [updates]);
    expect(fills.map((f) => f.reason)).toEqual(['trailing-stop']);
    expect(fills[0]!.price).toBeCloseTo(106 * 0.99 * (1 - 0.0005), 9);
  });

  it('acts (a state change) only on what changes a position: a new best under the trail activation is nothing', () => {
    const { rec } = position(1, { stopLoss: 0.05, trailing: { activation: 0.05, offset: 0.01 } });
    const broker = new PaperBroker({ USDT: 10_000 });
    const t = HOUR;
    expect(broker.reach(rec, { time: t, open: 100, high: 103, low: 99, close: 102 }, COSTS)).toBe('none');
    expect(broker.reach(rec, { time: t, open: 100, high: 106, low: 99, close: 102 }, COSTS)).toBe('act');
    expect(broker.reach(rec, { time: t, open: 100, high: 101, low: 94, close: 96 }, COSTS)).toBe('act');
  });

  it('live: a stop the exchange holds is its business, a sell in flight makes the prices wait', () => {
    const live = new LiveBroker({
      exchange: liveExchange('http://127.0.0.1:9'),
      settings: LIVE_DEFAULTS,
      logger: quietLogger(),
    });
    const { rec } = position(1, { stopLoss: 0.05 });
    const through = { time: HOUR, open: 100, high: 101, low: 94, close: 96 };
    // bosun holds the stop: a sell now.
    expect(live.reach(rec, through, COSTS)).toBe('act');
    // The exchange holds it: nothing for bosun to do (and nothing to write at every update).
    expect(live.reach({ ...rec, stopOrder: 'bsn_P1_s1' }, through, COSTS)).toBe('none');
    // A sell in flight: these prices are met again once it is booked.
    expect(live.reach({ ...rec, closing: 'take-profit' }, through, COSTS)).toBe('wait');
  });
});

/** Whether some candle's path reaches the stop and a target (taken or not) before the stop ends it. */
function reachesBoth(side: Side, rules: ExitRules, paths: number[][]): boolean {
  const stop = 100 * (1 - side * rules.stopLoss!);
  const targets = rules.takeProfit!.map((l) => 100 * (1 + side * l.at));
  for (const path of paths) {
    const hi = Math.max(...path);
    const lo = Math.min(...path);
    const adverse = side === 1 ? lo <= stop : hi >= stop;
    const favourable = targets.some((t) => (side === 1 ? hi >= t : lo <= t));
    if (adverse && favourable) return true;
    if (adverse) return false;
  }
  return false;
}

describe('adds between closes', () => {
  // DCA: a third at 100, adds resting at 98 and 96; a 5 % stop and a 3 % target from the average.
  const rules: ExitRules = {
    stopLoss: 0.05,
    takeProfit: [{ at: 0.03, close: 1 }],
    adds: [
      { at: 0.02, share: 1 / 3 },
      { at: 0.04, share: 1 / 3 },
    ],
  };
  // Down through both adds over two candles, then up to the average's target (98 x 1.03 = 100.94).
  const paths = [
    [100, 99, 97.5, 98.5],
    [98.5, 97, 95.8, 96.5],
    [96.5, 99, 100.5],
    [100.5, 101.5, 101],
  ];

  it('fills them as the stream falls to them, with the same prices, average and exit as a backtest', () => {
    // The stream: each price as an update, then the close.
    const { s, rec } = position(1, { ...rules });
    const broker = new PaperBroker({ USDT: 10_000 });
    const guard = new Guard();
    const events: EngineEvent[] = [];
    const seen: EngineEvent[] = [];
    paths.forEach((path, k) => {
      const updates = forming((k + 1) * HOUR, path);
      for (const u of updates) {
        if (!s.positions[rec.id]) return;
        if (meetStreamed(s, { broker, costs: COSTS }, rec, guard.unmet(rec, u), u, events) !== 'wait')
          guard.advance(rec.id, u);
        seen.push(...events.splice(0));
      }
      if (!s.positions[rec.id]) return;
      const r = broker.applyCandle(s, rec, guard.unmet(rec, updates.at(-1)!), COSTS, true);
      seen.push(...r.fills.map((fill) => ({ type: 'exit', position: rec, fill }) as EngineEvent));
      guard.done(rec.id);
    });
    const streamAdds = seen.flatMap((e) => (e.type === 'add' ? [e.fill] : []));
    const streamExits = seen.flatMap((e) => (e.type === 'exit' ? [e.fill] : []));

    // The backtest: each whole candle at once.
    const p = fromRecord(position(1, { ...rules }).rec);
    const btAdds: EntryFill[] = [];
    const btExits: ExitFill[] = [];
    paths.forEach((path, k) => {
      const c = forming((k + 1) * HOUR, path).at(-1)!;
      if (
        p.qty > 0 &&
        !applyBar(
          p,
          c.time,
          c.open,
          c.high,
          c.low,
          COSTS,
          (f) => btExits.push(f),
          (f) => btAdds.push(f),
        )
      )
        p.barsHeld++;
    });
    expect(btAdds.map((a) => a.price)).toEqual([98, 96]);
    expect(streamAdds).toEqual(btAdds);
    expect(streamExits).toEqual(btExits);
    expect(btExits).toHaveLength(1);
    expect(btExits[0]!).toMatchObject({ reason: 'take-profit', price: 100.94 });
    expect(s.positions[rec.id]).toBeUndefined();
  });
});
