/**
 * What the engine's parts share: its settings, the loaded strategies of its runs, and one context
 * object that carries the journal, the feed, the broker and the clocks to each job (runs, the per-bar
 * step, approvals, the account, reports). The parts never hold each other; the engine wires them.
 */
import type { FillCosts } from '../backtest/fills.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { MarketRules } from '../market/rules.js';
import type { ExitRules, Strategy } from '../strategy/define.js';
import type { StateStore } from '../store/state.js';
import type { Broker } from './broker.js';
import type { Emit } from './events.js';
import type { Feed } from './feed.js';
import type { RiskSettings } from './risk.js';

export interface EngineSettings {
  /** Starting paper cash per quote currency. */
  paperBalance: Readonly<Record<string, number>>;
  /** Taker fee (market orders, stops), and the maker fee (take-profits) when it differs. */
  fee: number;
  makerFee?: number;
  slippageBps: number;
  /** Wall-clock time a manual approval waits, ms. */
  approvalTimeoutMs: number;
  /** Risk defaults (admins' changes in the state override them). */
  risk: Readonly<Record<string, unknown>>;
  timezone: string;
  /** `HH:MM` in the time zone. */
  reportTime: string;
}

export function engineSettings(config: Config): EngineSettings {
  return {
    paperBalance: config.paper.balance,
    fee: config.backtest.fee,
    ...(config.backtest.makerFee !== undefined ? { makerFee: config.backtest.makerFee } : {}),
    slippageBps: config.backtest.slippageBps,
    approvalTimeoutMs: config.engine.approvalTimeout,
    risk: config.risk ?? {},
    timezone: config.timezone,
    reportTime: config.engine.reportTime,
  };
}

/**
 * The market regime's say on an entry (see MarketWatch.gate): refused, or a size factor; undefined
 * when no regime is measured or the gate is off.
 */
export type RegimeGate = (
  side: 'long' | 'short',
  signalConfidence: number,
) => { ok: true; factor: number; state: string } | { ok: false; reason: string } | undefined;

export interface RunSpec {
  strategy: string;
  symbol: string;
  timeframe: string;
  params: Record<string, unknown>;
  approve: 'auto' | 'manual';
}

/** A run's strategy as loaded: its parameters, exit rules and what it may trade. */
export interface Runtime {
  strategy: Strategy;
  params: Record<string, unknown>;
  rules: ExitRules;
  allowLong: boolean;
  allowShort: boolean;
  maxBars: number;
  tfMs: number;
}

export interface EngineContext {
  readonly store: StateStore;
  readonly feed: Feed;
  readonly settings: EngineSettings;
  readonly logger: Logger;
  readonly broker: Broker;
  readonly costs: FillCosts;
  /** The exchange's rules of a market, when known (paper fills obey them). */
  readonly marketRules: (symbol: string) => MarketRules | undefined;
  /** Wall clock: approvals and their expiry, record times. */
  readonly wall: () => number;
  /** The loaded strategies of the runs this engine trades, by run id. */
  readonly runtimes: Map<string, Runtime>;
  readonly regimeGate: RegimeGate | undefined;
  /** Risk settings in force: the configured ones with admins' changes on top. */
  risk(): RiskSettings;
  emit: Emit;
}

/** The fill costs of the settings (taker and maker fee, slippage). */
export function settingsCosts(settings: EngineSettings): FillCosts {
  return {
    fee: settings.fee,
    slippage: settings.slippageBps / 10_000,
    ...(settings.makerFee !== undefined ? { maker: settings.makerFee } : {}),
  };
}

/** The fill costs of an order on `symbol`: the engine's, with the market's exchange rules. */
export function costsFor(c: Pick<EngineContext, 'costs' | 'marketRules'>, symbol: string): FillCosts {
  const market = c.marketRules(symbol);
  return market ? { ...c.costs, market } : c.costs;
}

export const clone = <T>(v: T): T => structuredClone(v);
/** A number for the journal: NaN and undefined are null. */
export const num = (v: number | undefined): number | null => (v === undefined || Number.isNaN(v) ? null : v);
