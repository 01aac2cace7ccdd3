/**
 * Whether bosun is well, as one answer for everyone who asks: `/health/ready` (a monitor, Docker's
 * HEALTHCHECK), `/status` in chat, and the dead-man heartbeat (which goes out only while bosun is
 * not failing). Each check says what it found in one line:
 *
 * - `feed`: every followed series has had its last candle within a candle and two minutes of the
 *   feed's clock, and the feed is not down. A stream down while polling stands in is `degraded`, as
 *   is a replay that reached the end of its file (nothing is wrong; nothing more will come).
 * - `exchange`: live trading's exchange answers (its circuit breaker closed); open: `degraded`.
 * - `chats`: every Telegram or Discord chat bosun serves is connected (one connecting or refused is
 *   failing); a console whose input has ended is no trouble.
 * - `journal`: the last write was kept (a failed one fails until a write succeeds again).
 * - `kill-switch`: off; on is `degraded` (bosun works, and waits for an admin's /risk resume).
 *
 * The whole is `failing` when a check fails, else `degraded` when one is, else `ok`.
 */
import type { EngineEvent } from './engine/events.js';
import type { Trading } from './engine/trading.js';
import { timeframeMs } from './market/timeframe.js';
import type { StateStore } from './store/state.js';

export type CheckState = 'ok' | 'degraded' | 'failing';

export interface Check {
  name: 'feed' | 'exchange' | 'chats' | 'journal' | 'kill-switch';
  state: CheckState;
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

export class Health {
  private feedDown: { detail: string; ended: boolean } | undefined;
  private streamDown: string | undefined;
  private exchangeDown: string | undefined;
  private readonly off: () => void;

  constructor(private readonly o: HealthOptions) {
    this.off = o.trading.on((e) => this.hear(e));
  }

  stop(): void {
    this.off();
  }

  private hear(e: EngineEvent): void {
    if (e.type === 'feed') {
      if (e.stream) this.streamDown = e.up ? undefined : e.detail;
      else if (!e.journal) this.feedDown = e.up ? undefined : { detail: e.detail, ended: e.ended === true };
    }
    if (e.type === 'exchange') this.exchangeDown = e.up ? undefined : e.detail;
    // Switching books: what the other engine said no longer holds.
    if (e.type === 'mode') {
      this.feedDown = undefined;
      this.streamDown = undefined;
      this.exchangeDown = undefined;
    }
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
    if (this.feedDown)
      return {
        name: 'feed',
        state: this.feedDown.ended ? 'degraded' : 'failing',
        detail: this.feedDown.detail,
      };
    const engine = this.o.trading.engine;
    const now = engine.now();
    const series = new Map<string, number>();
    for (const r of Object.values(engine.state.runs)) {
      if (r.state === 'stopped') continue;
      const key = `${r.symbol} ${r.timeframe}`;
      const due = (r.lastBar ?? Number.NEGATIVE_INFINITY) + 2 * timeframeMs(r.timeframe);
      series.set(key, Math.min(series.get(key) ?? Infinity, due));
    }
    const late = [...series].filter(([, due]) => Number.isFinite(due) && now - due > FEED_GRACE_MS);
    if (late.length > 0)
      return {
        name: 'feed',
        state: 'failing',
        detail: `no candle in time for ${late.map(([k]) => k).join(', ')}`,
      };
    if (this.streamDown) return { name: 'feed', state: 'degraded', detail: this.streamDown };
    return {
      name: 'feed',
      state: 'ok',
      detail: series.size === 0 ? 'no series followed' : `${series.size} series on time`,
    };
  }

  private exchange(): Check {
    if (this.o.trading.mode !== 'live')
      return { name: 'exchange', state: 'ok', detail: 'paper trading: no orders to send' };
    return this.exchangeDown
      ? { name: 'exchange', state: 'degraded', detail: this.exchangeDown }
      : { name: 'exchange', state: 'ok', detail: 'answering' };
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
        detail: bad.map((c) => `${c.platform} ${c.state}${c.detail ? ` (${c.detail})` : ''}`).join(', '),
      };
    return {
      name: 'chats',
      state: 'ok',
      detail: all.length === 0 ? 'none' : all.map((c) => `${c.platform} ${c.state}`).join(', '),
    };
  }

  private journal(now: number): Check {
    for (const store of new Set([this.o.store, this.o.trading.engine.store])) {
      const failed = store.writes.failed;
      if (failed)
        return { name: 'journal', state: 'failing', detail: `the last write failed: ${failed.message}` };
    }
    const at = this.o.trading.engine.store.writes.at;
    return {
      name: 'journal',
      state: 'ok',
      detail: at === undefined ? 'no write yet' : `last write ${ago(now - at)} ago`,
    };
  }

  private killSwitch(): Check {
    const k = this.o.trading.engine.state.engine.killSwitch;
    return k
      ? {
          name: 'kill-switch',
          state: 'degraded',
          detail: `on: ${k.reason}; an admin's /risk resume clears it`,
        }
      : { name: 'kill-switch', state: 'ok', detail: 'off' };
  }
}

/** 12s, 3m, 5h */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
