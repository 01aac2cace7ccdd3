/**
 * The command contract. A command is one file in `commands/` whose default export is made with
 * {@link defineCommand}: a name, a one-line summary, the least role that may run it, a zod object of
 * arguments (each with a description), the order positional arguments take, and a handler.
 *
 * The handler gets a transport-neutral {@link CommandContext} and answers with a {@link Reply}; it
 * never knows whether it runs on Telegram, Discord or the console.
 *
 * {@link Services}, what a command may use, is declared here too: a command's context names the
 * services, and the services name the commands (the registry), so the two live in one module rather
 * than in two that import each other.
 *
 * @example
 * export default defineCommand({
 *   name: 'chart',
 *   summary: 'Draw a market chart',
 *   role: 'viewer',
 *   args: z.object({ symbol: z.string().describe('Market, e.g. BTC/USDT') }),
 *   positional: ['symbol'],
 *   async run({ symbol }, ctx) { return reply(`Chart of ${symbol}`); },
 * });
 */
import type { AlertAsk, AlertRecord } from '../store/records.js';
import type { z } from 'zod';
import type { ChartRenderer } from '../charts/render/renderer.js';
import { type Config, ROLES, type Role } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { MarketWatch } from '../engine/market-watch.js';
import type { Trading } from '../engine/trading.js';
import type { Readiness } from '../health.js';
import type { Logger } from '../logger.js';
import type { MarketData } from '../market/provider.js';
import type { StateStore } from '../store/state.js';
import type { Reply } from './reply.js';

/** viewer reads; trader also starts, stops, approves and closes; admin also switches modes and risk. */
export { ROLES, type Role };

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** What some arguments of a command need beyond the command's own role (see `CommandSpec.needs`). */
export interface RoleNeed {
  role: Role;
  /** What those arguments do, e.g. "changing risk settings". */
  what: string;
}

/** Where a person reaches bosun: a chat, or a script through the JSON API (`src/http/api.ts`). */
export type Platform = 'telegram' | 'discord' | 'console' | 'api';

/** Who is asking, with the role their platform's allow-list gave them. */
export interface Caller {
  platform: Platform;
  id: string;
  /** A display name, for messages and logs (never used for decisions). */
  name: string;
  role: Role;
}

export interface ChatRef {
  platform: Platform;
  id: string;
  /** A one-to-one chat (or the console) rather than a group or server channel. */
  private: boolean;
}

/** `platform:chatId`: how the state file names a chat (buttons, subscriptions, signal messages). */
export function chatKey(chat: Pick<ChatRef, 'platform' | 'id'>): string {
  return `${chat.platform}:${chat.id}`;
}

/** A message already sent, which can be replaced (progress, "decided by ..."). */
export interface SentMessage {
  edit(reply: Reply): Promise<void>;
}

export interface ChatStatus {
  platform: Platform;
  state: 'connecting' | 'connected' | 'stopped' | 'failed';
  /** The bot's name there, or why it failed. */
  detail?: string;
}

/** What commands may use at run time, built once by the composition root (src/main.ts). */
export interface Services {
  config: Readonly<Config>;
  version: string;
  /** Epoch ms the process started. */
  startedAt: number;
  registry: CommandCatalog;
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
  /** Whether bosun is well: the health check `/health/ready` answers with (`src/health.ts`). */
  health(): Readiness;
  /** The web view's sign-in links, when the HTTP server serves it (`src/http/web.ts`). */
  web?: { link(person: { platform: Platform; id: string; name: string; role: Role }): string };
  /** People's alerts (/alert), once the notifier that tells them runs (`src/chat/price-alerts.ts`). */
  alerts?: {
    add(ask: AlertAsk, chat: string, by: string): Promise<AlertRecord>;
    list(): AlertRecord[];
    remove(id: string): Promise<boolean>;
  };
}

export interface CommandContext {
  caller: Caller;
  chat: ChatRef;
  services: Services;
  logger: Logger;
  /** Aborted when the bot shuts down; long work should stop and return. */
  signal: AbortSignal;
  /** Send a reply now (before the handler returns), e.g. a progress message to edit later. */
  send(reply: Reply): Promise<SentMessage>;
}

/** Where an argument's values come from, for Discord autocomplete and help. */
export type Completion = 'strategy' | 'timeframe' | 'symbol' | 'command';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ArgsSchema = z.ZodObject<any>;

export interface CommandSpec<S extends ArgsSchema> {
  /** Lower case letters, digits and underscores, 1-32 long (what both platforms accept). */
  name: string;
  /** One line, at most 100 characters (Discord's limit for a description). */
  summary: string;
  role: Role;
  /** Every field needs `.describe(...)`; `.meta({ complete: 'strategy' })` adds completion. */
  args: S;
  /** Fields that may be given by position, in order; required ones first. */
  positional?: ReadonlyArray<keyof z.infer<S> & string>;
  /**
   * A field (a record of strings) that collects `key=value` pairs not named in the schema, such as a
   * strategy's parameters: `/backtest ema-cross BTC/USDT 1h fast=9 slow=21`.
   */
  rest?: keyof z.infer<S> & string;
  /**
   * For commands anyone may read but only some may change: the role these arguments need, when it
   * is more than `role`, e.g. `/risk riskPerTrade=0.005` needs an admin. The dispatcher checks it
   * before anything is spent (a single-use button is used only by someone who may run it) and
   * refuses with "changing risk settings needs the admin role; you are a viewer.".
   */
  needs?(args: z.infer<S>): RoleNeed | undefined;
  /**
   * A line that another command serves, as that command's words: `/backtest show ID` is
   * `/backtests show ID`. The other command's role and arguments then apply.
   */
  handsOver?(words: readonly string[]): { command: string; words: string[] } | undefined;
  /** May take longer than 2 s: platforms that need an early acknowledgement get one at once. */
  slow?: boolean;
  /** Example invocations for help, without the leading slash. */
  examples?: readonly string[];
  /** Its own usage line, for a command whose words make a small language of their own (/alert). */
  usage?: string;
  run(args: z.infer<S>, ctx: CommandContext): Promise<Reply | void> | Reply | void;
}

const BRAND = Symbol.for('bosun.command');

export interface Command<S extends ArgsSchema = ArgsSchema> extends CommandSpec<S> {
  readonly [BRAND]: true;
}

/** The loaded commands, as `CommandRegistry` (src/chat/registry.ts) serves them. */
export interface CommandCatalog {
  /** The command with this name (any case), or undefined. */
  get(name: string): Command | undefined;
  /** Every command, sorted by name. */
  all(): Command[];
  /** The commands a role may run. */
  forRole(role: Role): Command[];
}

export function defineCommand<S extends ArgsSchema>(spec: CommandSpec<S>): Command<S> {
  return Object.freeze({ ...spec, [BRAND]: true as const });
}

export function isCommand(value: unknown): value is Command {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
