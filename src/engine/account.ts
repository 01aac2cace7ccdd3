/**
 * The account: cash and positions valued at their marks, the day's starting value (the daily loss
 * limit), the equity curve and the drawdown kill-switch, and the risk settings in force. Read by
 * the risk manager before every entry; written inside the per-candle update.
 */
import type { State, WorkingSet } from '../store/state.js';
import { startOfDay } from './clock.js';
import type { EngineContext } from './context.js';
import type { EngineEvent } from './events.js';
import type { Feed } from './feed.js';
import { equityOf } from './report.js';
import { type Account, parseRiskSettings, type RiskSettings } from './risk.js';
import { stopAllRuns } from './run-state.js';
import { editsOf, noteSettings } from './settings-history.js';

/** What the account needs: the working records (a journaled store, or a backtest's memory), the broker's cash, the settings and the clocks. */
type AccountContext = Pick<EngineContext, 'broker' | 'settings' | 'wall' | 'logger'> & {
  store: WorkingSet;
  feed: Pick<Feed, 'now'>;
};

export class Accounts {
  private riskCheck: Promise<void> | undefined;

  constructor(private readonly c: AccountContext) {}

  private get state(): Readonly<State> {
    return this.c.store.data;
  }

  /** The risk manager's view of a quote currency's account (and of one symbol in it). */
  account(s: Readonly<State>, quote: string, symbol?: string): Account {
    const cash = this.c.broker.cash(s, quote);
    const positions = Object.values(s.positions);
    let symbolNotional = 0;
    for (const p of positions) if (p.symbol === symbol) symbolNotional += p.qty * p.mark;
    const lastLossAt = symbol === undefined ? undefined : s.engine.recent?.lastLoss[symbol];
    const closedPnls = s.engine.recent?.closedPnls[quote] ?? [];
    const equity = this.equity(s, quote);
    return {
      cash,
      equity,
      dayStartEquity: s.engine.day?.equity[quote] ?? equity,
      openPositions: positions.length,
      symbolNotional,
      ...(lastLossAt !== undefined ? { lastLossAt } : {}),
      closedPnls: [...closedPnls],
      ...(s.engine.killSwitch ? { killSwitch: s.engine.killSwitch.reason } : {}),
    };
  }

  /** Cash plus open positions at their marks. */
  equity(s: Readonly<State>, quote: string): number {
    return equityOf(s as State, quote, this.c.broker.cash(s, quote));
  }

  /** Quote currencies with a balance or a position. */
  quotes(): string[] {
    const s = this.state;
    return [
      ...new Set([
        ...this.c.broker.quotes(),
        ...Object.keys(s.balances),
        ...Object.values(s.positions).map((p) => p.quote),
      ]),
    ].sort();
  }

  /** Cash a quote currency started with: the paper setting, or live the exchange's at the first sync. */
  initialBalance(quote: string): number {
    return this.c.broker.initialBalance(this.state, quote);
  }

  /** A new local day: remember each account's value at its start (daily loss limit). */
  rollDay(s: State, time: number, quote: string): void {
    const day = startOfDay(time, this.c.settings.timezone);
    if (s.engine.day?.start !== day) s.engine.day = { start: day, equity: {} };
    s.engine.day.equity[quote] ??= this.equity(s, quote);
  }

  /** Equity after a candle, and the drawdown kill-switch. */
  mark(s: State, quote: string, time: number, events: EngineEvent[]): void {
    const equity = this.equity(s, quote);
    s.log.equity.push({ time, quote, equity });
    const peak = Math.max(s.engine.peak[quote] ?? this.initialBalance(quote), equity);
    s.engine.peak[quote] = peak;
    const limit = this.risk().maxDrawdown;
    if (s.engine.killSwitch || !(peak > 0 && (peak - equity) / peak >= limit)) return;
    const reason = `${quote} equity ${equity.toFixed(2)} is ${(((peak - equity) / peak) * 100).toFixed(2)}% below its peak ${peak.toFixed(2)} (limit ${(limit * 100).toFixed(2)}%)`;
    s.engine.killSwitch = { at: time, reason };
    stopAllRuns(s, 'kill-switch', 'the kill-switch stopped its run', this.c.wall(), events);
    s.log.decisions.push({ time, runId: '-', kind: 'kill-switch', detail: reason, indicators: {} });
    events.push({ type: 'kill-switch', reason });
  }

  /** Clear the kill-switch; drawdown counts from the current equity on. Runs stay stopped. */
  resume(by: string): Promise<boolean> {
    return this.c.store.update((s) => {
      if (!s.engine.killSwitch) return false;
      delete s.engine.killSwitch;
      for (const q of this.quotes()) s.engine.peak[q] = this.equity(s, q);
      s.log.decisions.push({
        time: this.c.feed.now(),
        runId: '-',
        kind: 'resume',
        detail: `kill-switch cleared by ${by}`,
        indicators: {},
      });
      noteSettings(s, by, [{ key: 'killSwitch', old: 'on', new: 'off' }]);
      return true;
    });
  }

  // --- the risk settings ---

  /** Risk settings in force: the configured ones with admins' changes on top. */
  risk(): RiskSettings {
    return parseRiskSettings({ ...this.c.settings.risk, ...this.state.settings.risk });
  }

  /** Change risk settings (checked together first); the settings history records who did. */
  async setRisk(changes: Record<string, unknown>, by = 'unknown'): Promise<RiskSettings> {
    const parsed = parseRiskSettings({ ...this.c.settings.risk, ...this.state.settings.risk, ...changes });
    await this.c.store.update((s) => {
      // Read in the change: one made meanwhile is the old value this one replaces.
      const before = this.risk();
      s.settings.risk = { ...s.settings.risk, ...changes };
      noteSettings(s, by, editsOf('risk', Object.keys(changes), before, parsed));
    });
    return parsed;
  }

  /** The stored risk changes, checked once (see checkStoredRisk), before anything sizes with them. */
  storedRiskChecked(): Promise<void> {
    this.riskCheck ??= this.checkStoredRisk();
    return this.riskCheck;
  }

  /**
   * Risk changes an admin stored with /risk are checked again with this version's bounds: one that no
   * longer passes (it would fail every candle) is taken back to the configured value, and the log
   * says which and why.
   */
  private async checkStoredRisk(): Promise<void> {
    const stored = this.state.settings.risk;
    const configured = this.c.settings.risk;
    const failing = (keys: string[]) =>
      keys.filter((key) => {
        try {
          parseRiskSettings({ ...configured, [key]: stored[key] });
          return false;
        } catch {
          return true;
        }
      });
    let bad = failing(Object.keys(stored));
    // Each may pass alone and the set still fail together: then all go back.
    if (bad.length === 0) {
      try {
        this.risk();
      } catch {
        bad = Object.keys(stored);
      }
    }
    if (bad.length === 0) return;
    const taken = bad.map((key) => `${key}=${JSON.stringify(stored[key])}`);
    await this.c.store.update((st) => {
      noteSettings(st, 'bosun', editsOf('risk', bad, stored, configured));
      for (const key of bad) delete st.settings.risk[key];
    });
    this.c.logger.warn(
      { taken },
      `risk settings stored by /risk no longer pass this version's bounds and were taken back to the configured values: ${taken.join(', ')}`,
    );
  }
}
