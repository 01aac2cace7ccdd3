/** What commands may use at run time, built once by the composition root (src/main.ts). */
import type { ChartRenderer } from '../charts/render/index.js';
import type { Config } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Trading } from '../engine/trading.js';
import type { MarketWatch } from '../engine/market-watch.js';
import type { MarketData } from '../market/provider.js';
import type { StateStore } from '../store/state.js';
import type { Platform } from './command.js';
import type { CommandRegistry } from './registry.js';

export interface ChatStatus {
  platform: Platform;
  state: 'connecting' | 'connected' | 'stopped' | 'failed';
  /** The bot's name there, or why it failed. */
  detail?: string;
}

export interface Services {
  config: Readonly<Config>;
  version: string;
  /** Epoch ms the process started. */
  startedAt: number;
  registry: CommandRegistry;
  market: MarketData;
  /** Pairlist, scanner, snapshots and the market regime. */
  watch: MarketWatch;
  store: StateStore;
  /** The engine trading now (paper or live): runs, signals, positions, the account. */
  readonly engine: Engine;
  /** Paper or live, and switching between them. */
  trading: Trading;
  /** The configured chart renderer, loaded on first use. */
  charts(): Promise<ChartRenderer>;
  /** The chat adapters and their connection state. */
  chats(): ChatStatus[];
}
