/**
 * People's alerts (/alert): a price crossing a level, an indicator crossing one on closed candles, a
 * position's PnL passing a share, or its price coming near its stop. Each is kept in the journal
 * (the paper book's, whatever the mode), checked as the engine takes prices (closed candles, and the
 * stream's forming ones for prices and positions), and told once to the chat it was set in, with a
 * chart that shows the level; `repeat` tells it again at each new crossing (the condition must stop
 * holding first). A position's alerts end with the position.
 *
 * @example
 * /alert BTC/USDT > 70000
 * /alert ETH/USDT rsi14 < 30 on 1h repeat
 * /alert P12 pnl > 5%
 * /alert P12 near stop 1%
 */
import { chartStyle, marketChart } from '../charts/index.js';
import type { ChartDocument } from '../charts/types.js';
import type { Tick } from '../engine/engine.js';
import { currentStop } from '../engine/positions.js';
import { AppError, badInput, toAppError } from '../errors.js';
import { ema, rsi, sma } from '../indicators/index.js';
import type { Logger } from '../logger.js';
import { isTimeframe } from '../market/timeframe.js';
import type { Candles } from '../market/types.js';
import type { AlertAsk } from '../store/records.js';
import type { AlertRecord, PositionRecord } from '../store/state.js';
import type { Services } from './command.js';
import { price } from './notices.js';
import { bold, type ReplyBuilder, reply } from './reply.js';

/** Timeframes a price alert may watch, finest first: the first the feed serves. */
const PRICE_TIMEFRAMES = ['1m', '5m', '15m', '1h', '2h', '4h', '1d'];

export const ALERT_USAGE =
  'SYMBOL > PRICE, SYMBOL INDICATOR < VALUE on TIMEFRAME, ID pnl > 5% (or < -3%), ID near stop 1%; repeat at the end to keep it on';

const INDICATORS = /^(rsi|ema|sma)(\d{1,3})$/;

/** Read an alert from the words after /alert; one line on what is wrong, and what is allowed. */
export function parseAlert(words: readonly string[]): AlertAsk {
  const w = words.map((x) => x.trim()).filter(Boolean);
  const repeat = w[w.length - 1]?.toLowerCase() === 'repeat';
  if (repeat) w.pop();
  let timeframe: string | undefined;
  const on = w.findIndex((x) => x.toLowerCase() === 'on');
  if (on >= 0) {
    timeframe = w[on + 1]?.toLowerCase();
    if (!timeframe || !isTimeframe(timeframe) || on + 2 !== w.length)
      throw badInput(`"on" takes a timeframe at the end, like on 1h; allowed: ${ALERT_USAGE}`);
    w.splice(on);
  }
  const [subject, ...rest] = w;
  if (!subject) throw badInput(`what to watch? allowed: ${ALERT_USAGE}`);
  const number = (text: string | undefined, what: string): number => {
    const v = Number((text ?? '').replace(/,/g, ''));
    if (!text || !Number.isFinite(v) || v <= 0)
      throw badInput(`${what} ${text ?? '(none)'} is not a positive number; allowed: ${ALERT_USAGE}`);
    return v;
  };
  const percent = (text: string | undefined, what: string): number => {
    if (!text?.endsWith('%')) throw badInput(`${what} takes a percentage like 5%; allowed: ${ALERT_USAGE}`);
    const v = number(text.slice(0, -1), what);
    if (v > 1000) throw badInput(`${what} ${text} is out of range; allowed: up to 1000%`);
    return v / 100;
  };
  const op = (text: string | undefined): '>' | '<' => {
    if (text === '>' || text === '<') return text;
    throw badInput(`"${text ?? ''}" is not > or <; allowed: ${ALERT_USAGE}`);
  };
  if (/^P\d+$/i.test(subject)) {
    const position = subject.toUpperCase();
    if (timeframe)
      throw badInput(
        `a position's alert follows its price as it comes; allowed: no "on TIMEFRAME" for ${position}`,
      );
    if (rest[0]?.toLowerCase() === 'pnl' && rest.length === 3) {
      const o = op(rest[1]);
      // A loss is a negative share: pnl < -3% is a loss beyond 3 %.
      const loss = rest[2]!.startsWith('-');
      const share = percent(loss ? rest[2]!.slice(1) : rest[2], 'pnl');
      return {
        kind: 'pnl',
        symbol: '',
        position,
        op: o,
        level: loss ? -share : share,
        repeat,
        ...(timeframe ? { timeframe } : {}),
      };
    }
    if (rest[0]?.toLowerCase() === 'near' && rest[1]?.toLowerCase() === 'stop' && rest.length === 3)
      return {
        kind: 'near-stop',
        symbol: '',
        position,
        op: '<',
        level: percent(rest[2], 'near stop'),
        repeat,
      };
    throw badInput(
      `for a position: ${position} pnl > 5% or ${position} near stop 1%; allowed: ${ALERT_USAGE}`,
    );
  }
  if (!/^[A-Za-z0-9]{2,15}\/[A-Za-z0-9]{2,10}$/.test(subject))
    throw badInput(
      `"${subject.slice(0, 20)}" is neither a market like BTC/USDT nor a position like P12; allowed: ${ALERT_USAGE}`,
    );
  const symbol = subject.toUpperCase();
  if (rest.length === 2)
    return {
      kind: 'price',
      symbol,
      op: op(rest[0]),
      level: number(rest[1], 'price'),
      repeat,
      ...(timeframe ? { timeframe } : {}),
    };
  if (rest.length === 3) {
    const indicator = rest[0]!.toLowerCase();
    const m = INDICATORS.exec(indicator);
    if (!m || Number(m[2]) < 2)
      throw badInput(
        `there is no indicator "${rest[0]!.slice(0, 20)}" for alerts; allowed: rsiN, emaN or smaN, e.g. rsi14, ema20`,
      );
    const level = number(rest[2], indicator);
    if (m[1] === 'rsi' && level >= 100)
      throw badInput(`${indicator} runs from 0 to 100; allowed: a level below 100`);
    return {
      kind: 'indicator',
      symbol,
      indicator,
      op: op(rest[1]),
      level,
      repeat,
      timeframe: timeframe ?? '1h',
    };
  }
  throw badInput(`that is not an alert; allowed: ${ALERT_USAGE}`);
}

/** The alert in a few words: "BTC/USDT > 70,000 (1m)". */
export function alertText(a: AlertRecord): string {
  const rep = a.repeat ? ', repeating' : '';
  switch (a.kind) {
    case 'price':
      return `${a.symbol} ${a.op} ${price(a.level)} (${a.timeframe}${rep})`;
    case 'indicator':
      return `${a.symbol} ${a.indicator} ${a.op} ${a.level} on ${a.timeframe}${rep ? ` ${rep.slice(2)}` : ''}`;
    case 'pnl':
      return `${a.position} pnl ${a.op} ${+(a.level * 100).toFixed(2)}%${rep}`;
    case 'near-stop':
      return `${a.position} within ${+(a.level * 100).toFixed(2)}% of its stop${rep}`;
  }
}

/** The value an alert compares, at a price `close`; undefined when it cannot be had yet. */
function valueOf(
  a: AlertRecord,
  close: number,
  candles: Candles | undefined,
  pos: PositionRecord | undefined,
): number | undefined {
  switch (a.kind) {
    case 'price':
      return close;
    case 'indicator': {
      if (!candles || candles.length === 0) return undefined;
      const [, name, n] = INDICATORS.exec(a.indicator!)!;
      const values =
        name === 'rsi'
          ? rsi(candles.close, Number(n))
          : name === 'ema'
            ? ema(candles.close, Number(n))
            : sma(candles.close, Number(n));
      const v = values[values.length - 1]!;
      return Number.isNaN(v) ? undefined : v;
    }
    case 'pnl':
      return pos ? (pos.side * (close - pos.entryPrice)) / pos.entryPrice : undefined;
    case 'near-stop': {
      if (!pos) return undefined;
      const stop = currentStop(pos);
      return Number.isNaN(stop) ? undefined : (pos.side * (close - stop)) / close;
    }
  }
}

export interface PriceAlertsOptions {
  services: Services;
  /** Tell one chat (`platform:chatId`) something, in its turn with its other messages. */
  tell: (chat: string, build: () => Promise<ReplyBuilder>) => void;
  logger: Logger;
}

export class PriceAlerts {
  private off: (() => void) | undefined;
  /** Checks in progress run one at a time, in the order the prices came. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: PriceAlertsOptions) {}

  private get store() {
    return this.o.services.store;
  }

  private get engine() {
    return this.o.services.engine;
  }

  /** Start checking: the series the armed alerts watch are followed, and each price is checked. */
  async start(): Promise<void> {
    this.off = this.o.services.trading.onTick((t) => {
      this.queue = this.queue
        .then(() => this.check(t))
        .catch((err: unknown) => this.o.logger.error({ err: toAppError(err).message }, 'alert check failed'));
    });
    for (const a of Object.values(this.store.data.alerts)) {
      if (!a.armed) continue;
      try {
        await this.watch(a);
      } catch (err) {
        this.o.logger.warn({ alert: a.id, err: toAppError(err).message }, 'an alert cannot watch its market');
      }
    }
  }

  async stop(): Promise<void> {
    this.off?.();
    await this.queue;
  }

  /** A new alert, kept before it is confirmed. */
  async add(ask: AlertAsk, chat: string, by: string): Promise<AlertRecord> {
    let symbol = ask.symbol;
    let timeframe = ask.timeframe;
    if (ask.position) {
      const pos = this.engine.state.positions[ask.position];
      if (!pos) {
        const open = Object.keys(this.engine.state.positions);
        throw new AppError(
          'NOT_FOUND',
          `no open position ${ask.position}; ${open.length ? `open: ${open.join(', ')}` : 'none is open'}`,
        );
      }
      symbol = pos.symbol;
      timeframe = this.engine.state.runs[pos.runId]?.timeframe ?? '1h';
      if (ask.kind === 'near-stop' && Number.isNaN(currentStop(pos)))
        throw badInput(
          `${pos.id} has no stop to come near; allowed: set one with /adjust ${pos.id} stop=PRICE`,
        );
    } else timeframe ??= await this.finest(symbol);
    await this.watch({ symbol, timeframe, position: ask.position });
    return this.store.update((s) => {
      const id = `A${s.engine.nextId++}`;
      const a: AlertRecord = {
        id,
        kind: ask.kind,
        symbol,
        timeframe,
        ...(ask.indicator ? { indicator: ask.indicator } : {}),
        ...(ask.position ? { position: ask.position } : {}),
        op: ask.op,
        level: ask.level,
        repeat: ask.repeat,
        chat,
        by,
        createdAt: Date.now(),
        fired: 0,
        armed: true,
      };
      s.alerts[id] = a;
      return structuredClone(a);
    });
  }

  /**
   * Follow the series an alert is checked on: its own timeframe's, or for a position's alert its
   * market's finest candles, which bring the price between the closes of its run's timeframe.
   */
  private async watch(a: {
    symbol: string;
    timeframe: string;
    position?: string | undefined;
  }): Promise<void> {
    await this.engine.followSeries(a.symbol, a.position ? await this.finest(a.symbol) : a.timeframe);
  }

  /** The finest timeframe the feed serves for a market (a price alert checks each of its closes). */
  private finest(symbol: string): Promise<string> {
    return this.engine.firstServed(symbol, PRICE_TIMEFRAMES);
  }

  /** Every alert, armed ones first, newest first. */
  list(): AlertRecord[] {
    return Object.values(this.store.data.alerts).sort(
      (a, b) => Number(b.armed) - Number(a.armed) || b.createdAt - a.createdAt,
    );
  }

  /** Remove an alert; false when there is none by that id. */
  async remove(id: string): Promise<boolean> {
    const key = id.toUpperCase();
    return this.store.update((s) => {
      if (!s.alerts[key]) return false;
      delete s.alerts[key];
      return true;
    });
  }

  /** One price against the armed alerts it concerns: crossings told, once their change is kept. */
  private async check(t: Tick): Promise<void> {
    const positions = this.engine.state.positions;
    const changes: Array<{ id: string; held: boolean; fire: boolean; end?: string }> = [];
    for (const a of Object.values(this.store.data.alerts)) {
      if (!a.armed || a.symbol !== t.symbol) continue;
      const pos = a.position ? positions[a.position] : undefined;
      if (a.position && !pos) {
        changes.push({ id: a.id, held: false, fire: false, end: `${a.position} closed` });
        continue;
      }
      // Indicators are read on closed candles of their timeframe; prices and positions on any look.
      if (a.kind === 'indicator' && (!t.closed || t.timeframe !== a.timeframe)) continue;
      if (a.kind === 'price' && t.timeframe !== a.timeframe) continue;
      const v = valueOf(a, t.candle.close, this.engine.recent(a.symbol, a.timeframe), pos);
      if (v === undefined) continue;
      const held = a.op === '>' ? v > a.level : v < a.level;
      if (held === (a.held ?? false)) continue;
      changes.push({ id: a.id, held, fire: held });
    }
    if (changes.length === 0) return;
    const fired = await this.store.update((s) => {
      const out: AlertRecord[] = [];
      for (const c of changes) {
        const a = s.alerts[c.id];
        if (!a) continue;
        a.held = c.held;
        if (c.end) {
          a.armed = false;
          a.why = c.end;
        }
        if (!c.fire) continue;
        a.fired += 1;
        a.firedAt = t.candle.time;
        if (!a.repeat) {
          a.armed = false;
          a.why = 'fired';
        }
        out.push(structuredClone(a));
      }
      return out;
    });
    for (const a of fired) this.o.tell(a.chat, () => this.message(a, t));
  }

  /** The message of a fired alert: what crossed, and a chart with the level. */
  private async message(a: AlertRecord, t: Tick): Promise<ReplyBuilder> {
    const r = reply().line(bold(`Alert ${a.id}`), `: ${alertText(a)}`);
    r.line(
      `${a.symbol} at ${price(t.candle.close)}${a.kind === 'indicator' ? ` (${a.timeframe} close)` : ''}.`,
    );
    r.line(
      a.armed
        ? 'It stays on: it tells again at the next crossing.'
        : `It is off now; /alert again to set it anew.`,
    );
    try {
      const doc = this.chart(a);
      if (doc)
        r.image(await (await this.o.services.charts()).render(doc), {
          caption: `alert ${a.id}`,
          filename: `alert-${a.id}.png`,
          chart: doc,
        });
    } catch (err) {
      this.o.logger.warn(
        { alert: a.id, err: toAppError(err).message },
        'alert chart failed; sent without it',
      );
    }
    return r;
  }

  private chart(a: AlertRecord): ChartDocument | undefined {
    const candles = this.engine.recent(a.symbol, a.timeframe);
    if (!candles || candles.length < 2) return undefined;
    const pos = a.position ? this.engine.state.positions[a.position] : undefined;
    const doc = marketChart(
      {
        symbol: a.symbol,
        timeframe: a.timeframe,
        candles,
        bars: 120,
        indicators: a.kind === 'indicator' ? [indicatorRequest(a.indicator!)] : [],
        ...(pos
          ? {
              positions: [
                {
                  side: pos.side === 1 ? 'long' : 'short',
                  entry: pos.entryPrice,
                  ...(typeof pos.stop === 'number' ? { stop: pos.stop } : {}),
                  label: pos.id,
                },
              ],
            }
          : {}),
      },
      chartStyle(this.o.services.config),
    );
    // The level, as a dashed line across the panel it belongs to (RSI's own panel, else the price's).
    if (a.kind === 'price' || a.kind === 'indicator') {
      const n = candles.length;
      const from = candles.time[Math.max(0, n - 120)]!;
      const to = candles.time[n - 1]!;
      const panel =
        (a.indicator?.startsWith('rsi')
          ? doc.panels.find((p) => p.config.data.datasets.some((d) => /rsi/i.test(d.label)))
          : undefined) ?? doc.panels[0]!;
      panel.config.data.datasets.push({
        type: 'line',
        label: `alert ${a.op} ${a.kind === 'price' ? price(a.level) : a.level}`,
        data: [
          { x: from, y: a.level },
          { x: to, y: a.level },
        ],
        borderColor: '#f5a524',
        borderDash: [6, 4],
        borderWidth: 1.5,
        pointRadius: 0,
      });
    }
    return doc;
  }
}

function indicatorRequest(name: string) {
  const [, kind, n] = INDICATORS.exec(name)!;
  return kind === 'rsi'
    ? ({ kind: 'rsi', period: Number(n) } as const)
    : ({ kind: kind as 'ema' | 'sma', period: Number(n) } as const);
}
