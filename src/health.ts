/**
 * Whether bosun is well, as one answer for everyone who asks: `/health/ready` (a monitor, Docker's
 * HEALTHCHECK), `/status` in chat, and the dead-man heartbeat (which goes out only while bosun is
 * not failing). Each check says what it found in one line:
 *
 * - `feed`: every series a loaded run follows has had its last candle within a candle and two minutes
 *   of the feed's clock, and the feed is not down. A stream down while polling stands in is `degraded`, as
 *   is a replay that reached the end of its file (nothing is wrong; nothing more will come).
 * - `exchange`: live trading's exchange answers (its circuit breaker closed); open: `degraded`.
 * - `chats`: every Telegram or Discord chat bosun serves is connected (one connecting or refused is
 *   failing); a console whose input has ended is no trouble.
 * - `journal`: the last write was kept (a failed one fails until a write succeeds again), and none
 *   has waited on the database for over {@link JOURNAL_STALL_MS} (a server that stopped answering,
 *   or a lock someone holds, fails before any write does).
 * - `kill-switch`: off; on is `degraded` (bosun works, and waits for an admin's /risk resume).
 *
 * The whole is `failing` when a check fails, else `degraded` when one is, else `ok`.
 */
import type { EngineEvent } from './engine/events.js';
import type { Trading } from './engine/trading.js';
import type { StateStore } from './store/state.js';

export type CheckState = 'ok' | 'degraded' | 'failing';

export interface Check {
  name: 'feed' | 'exchange' | 'chats' | 'journal' | 'kill-switch';
  state: CheckState;
  /** A few words for a chat line (`/status`). */
  summary: string;
  /** The whole finding, in one line. */
  detail: string;
}

export interface Readiness {
  status: CheckState;
  /** Wall clock of the answer (epoch ms). */
  at: number;
  checks: Check[];
}

/** How late a series' next candle may be beyond its timeframe before the feed counts as stale. */
export const FEED_GRACE_MS = 120_000;

/** How long a journal write may wait on its database before the journal counts as failing. */
export const JOURNAL_STALL_MS = 30_000;

/** A chat as its adapter reports it (`ChatStatus` in `chat/command.ts`). */
export interface ChatState {
  platform: string;
  state: string;
  detail?: string;
}

export interface HealthOptions {
  trading: Trading;
  /** The paper book's journal (the live one is the trading engine's). */
  store: StateStore;
  chats: () => ChatState[];
  clock?: () => number;
}

/** What an engine's events said was down (each change is said once, so it is remembered). */
interface Heard {
  feedDown?: { detail: string; ended: boolean };
  streamDown?: string;
  exchangeDown?: string;
}

export class Health {
  /** Per engine: switching books starts from what the new engine says, not the old one's news. */
  private heard = new WeakMap<object, Heard>();
  private readonly off: () => void;

  constructor(private readonly o: HealthOptions) {
    this.off = o.trading.on((e) => this.hear(e));
  }

  stop(): void {
    this.off();
  }

  /** What the engine trading now has said (its events come while it is the one trading). */
  private now(): Heard {
    const engine = this.o.trading.engine;
    let h = this.heard.get(engine);
    if (!h) this.heard.set(engine, (h = {}));
    return h;
  }

  private hear(e: EngineEvent): void {
    const h = this.now();
    if (e.type === 'feed') {
      if (e.stream) h.streamDown = e.up ? undefined : e.detail;
      else if (!e.journal) h.feedDown = e.up ? undefined : { detail: e.detail, ended: e.ended === true };
    }
    if (e.type === 'exchange') h.exchangeDown = e.up ? undefined : e.detail;
  }

  readiness(): Readiness {
    const at = (this.o.clock ?? Date.now)();
    const checks = [this.feed(), this.exchange(), this.chats(), this.journal(at), this.killSwitch()];
    const status: CheckState = checks.some((c) => c.state === 'failing')
      ? 'failing'
      : checks.some((c) => c.state === 'degraded')
        ? 'degraded'
        : 'ok';
    return { status, at, checks };
  }

  private feed(): Check {
    const h = this.now();
    if (h.feedDown)
      return h.feedDown.ended
        ? { name: 'feed', state: 'degraded', summary: 'the replay ended', detail: h.feedDown.detail }
        : { name: 'feed', state: 'failing', summary: 'down', detail: h.feedDown.detail };
    const engine = this.o.trading.engine;
    const now = engine.now();
    // Each series' next candle closes two timeframes after its last one opened.
    const followed = engine.followed();
    const late = followed.filter((f) => now - (f.last + 2 * f.tfMs) > FEED_GRACE_MS).map((f) => f.series);
    if (late.length > 0)
      return {
        name: 'feed',
        state: 'failing',
        summary: `late: ${late.join(', ')}`,
        detail: `no candle in time for ${late.join(', ')}`,
      };
    if (h.streamDown)
      return { name: 'feed', state: 'degraded', summary: 'stream down, polling', detail: h.streamDown };
    const detail = followed.length === 0 ? 'no series followed' : `${followed.length} series on time`;
    return { name: 'feed', state: 'ok', summary: detail, detail };
  }

  private exchange(): Check {
    if (this.o.trading.mode !== 'live')
      return { name: 'exchange', state: 'ok', summary: 'paper', detail: 'paper trading: no orders to send' };
    const down = this.now().exchangeDown;
    return down
      ? { name: 'exchange', state: 'degraded', summary: 'not answering', detail: down }
      : { name: 'exchange', state: 'ok', summary: 'answering', detail: 'answering' };
  }

  private chats(): Check {
    const all = this.o.chats();
    // A console whose input ended (the person left, or there was none: docker run without -i) is
    // no trouble; a platform chat not connected is.
    const bad = all.filter(
      (c) => c.state !== 'connected' && !(c.platform === 'console' && c.state === 'stopped'),
    );
    if (bad.length > 0)
      return {
        name: 'chats',
        state: 'failing',
        summary: bad.map((c) => `${c.platform} ${c.state}`).join(', '),
        detail: bad.map((c) => `${c.platform} ${c.state}${c.detail ? ` (${c.detail})` : ''}`).join(', '),
      };
    const detail = all.length === 0 ? 'none' : all.map((c) => `${c.platform} ${c.state}`).join(', ');
    return { name: 'chats', state: 'ok', summary: detail, detail };
  }

  private journal(now: number): Check {
    return journalCheck([this.o.store, this.o.trading.engine.store], now);
  }

  private killSwitch(): Check {
    const k = this.o.trading.engine.state.engine.killSwitch;
    return k
      ? {
          name: 'kill-switch',
          state: 'degraded',
          summary: 'on: /risk resume',
          detail: `on: ${k.reason}; an admin's /risk resume clears it`,
        }
      : { name: 'kill-switch', state: 'ok', summary: 'off', detail: 'off' };
  }
}

/** The journal check over the stores in use (the paper book's, and the live one's when trading live). */
export function journalCheck(stores: readonly Pick<StateStore, 'writes'>[], now: number): Check {
  for (const store of new Set(stores)) {
    const failed = store.writes.failed;
    if (failed)
      return {
        name: 'journal',
        state: 'failing',
        summary: 'the last write failed',
        detail: `the last write failed: ${failed.message}`,
      };
    const since = store.writes.since;
    if (since !== undefined && now - since > JOURNAL_STALL_MS)
      return {
        name: 'journal',
        state: 'failing',
        summary: `a write has waited ${ago(now - since)}`,
        detail: `a write has waited ${ago(now - since)} for the database to answer; nothing newer is kept until it does`,
      };
  }
  const at = stores[stores.length - 1]!.writes.at;
  const detail = at === undefined ? 'no write yet' : `last write ${ago(now - at)} ago`;
  return { name: 'journal', state: 'ok', summary: detail, detail };
}

/** 12s, 3m, 5h */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
