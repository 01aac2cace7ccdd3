/**
 * The dispatcher: the one path every chat message and button press takes, whatever the platform.
 * It checks who is asking, finds the command, validates the arguments, runs the handler with an
 * abort signal, and turns any failure into one clear line for a person (the usage line added when
 * the input was wrong). Adapters only translate platform events into calls here and replies back.
 */
import { parseSignal } from './pasted.js';
import { randomBytes } from 'node:crypto';
import { closest, secretValues } from '../config.js';
import { harmless, shorten, tidyEcho } from '../echo.js';
import { type AppError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactor } from '../redact.js';
import { argsFromWords, tokenize, usageLine, validateArgs } from './args.js';
import { ButtonSigner } from './buttons.js';
import {
  type Caller,
  type ChatRef,
  type Command,
  type Platform,
  type Role,
  roleAllows,
  type SentMessage,
  type Services,
} from './command.js';
import { type Button, type Reply, reply } from './reply.js';

/** How an adapter delivers replies for one invocation. */
export interface Transport {
  send(reply: Reply): Promise<SentMessage>;
}

/**
 * A transport that keeps the replies instead of sending them (the JSON API, the web view): an edit
 * replaces its reply, so a progress message ends with its last words.
 */
export function keptReplies(): { transport: Transport; replies: Reply[] } {
  const replies: Reply[] = [];
  return {
    replies,
    transport: {
      send: async (r) => {
        const k = replies.push(r) - 1;
        return {
          edit: async (next) => {
            replies[k] = next;
          },
        };
      },
    },
  };
}

/** Someone on a platform, with a role when the allow-list gives them one. */
export interface Person {
  platform: Platform;
  id: string;
  name: string;
  role: Role | undefined;
}

export interface Invocation {
  /** The command as typed, without the slash. */
  command: string;
  /** What follows the command on a text platform, split into words here (quotes keep spaces). */
  text?: string;
  /** The words after the command, already split (a button's arguments). */
  words?: readonly string[];
  /** Typed options (Discord slash commands). */
  options?: Record<string, unknown>;
  person: Person;
  chat: ChatRef;
  transport: Transport;
}

/**
 * How a command ended: it ran (`done`), ran and said nothing was done (`undone`: a signal decided
 * already), was refused for who asked (`refused`), refused its arguments (`invalid`), found no such
 * thing (`missing`: a backtest id, a position), is not a command (`unknown`), failed (`failed`), or
 * the bot is shutting down (`busy`, a command cut off by it included). The chats only read the replies; the HTTP API answers with a status from it.
 */
export type Outcome = 'done' | 'undone' | 'refused' | 'invalid' | 'missing' | 'unknown' | 'failed' | 'busy';

export type PressOutcome = { refused: string } | { refused?: undefined; once: boolean; command: string };

export interface SignedButton {
  label: string;
  payload: string;
  style: NonNullable<Button['style']>;
}

export class Dispatcher {
  readonly buttons: ButtonSigner;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private closing = false;

  constructor(
    readonly services: Services,
    private readonly logger: Logger,
  ) {
    this.buttons = new ButtonSigner(services.store, services.config.chat.buttonTtl);
    this.scrub = redactor(secretValues(services.config));
  }

  /** Takes configured secrets and token-shaped text out of what a chat is told (errors quote libraries). */
  private readonly scrub: (text: string) => string;

  /** Run a command for a person. Never throws: every outcome is a reply. */
  run(inv: Invocation): Promise<Outcome> {
    return this.track(() => this.execute(inv));
  }

  /**
   * Text that is not a command. A stranger gets the refusal and nothing else; an allowed user in a
   * one-to-one chat gets a pointer to /help; in a group, people talk among themselves.
   */
  async chatter(person: Person, chat: ChatRef, transport: Transport, text?: string): Promise<void> {
    // A signal pasted or forwarded from a channel is read as one (`/paste`).
    // In a group, only from someone bosun knows: strangers there talk among themselves.
    const known = chat.private || person.role !== undefined;
    if (text !== undefined && known && this.services.registry.get('paste') && parseSignal(text)) {
      await this.track(() => this.execute({ command: 'paste', options: { text }, person, chat, transport }));
      return;
    }
    await this.track(async () => {
      if (!chat.private) return;
      const denied = this.refuseStranger(person, 'text');
      await transport.send(reply(denied ?? 'Send /help for what I can do.').privately());
    });
  }

  /**
   * Handle a button press (the platform's payload). Never throws. `decided` is called as soon as the
   * press is accepted or refused, before the button's command runs, so the adapter can acknowledge
   * the press at once (and take a used single-use button away).
   */
  async press(
    payload: string,
    person: Person,
    chat: ChatRef,
    transport: Transport,
    decided: (outcome: PressOutcome) => Promise<void> = async () => undefined,
  ): Promise<PressOutcome> {
    let outcome: PressOutcome = { refused: 'not handled' };
    const decide = async (o: PressOutcome) => {
      outcome = o;
      await decided(o).catch((err: unknown) =>
        this.logger.warn({ err: toAppError(err).message }, 'could not acknowledge a button press'),
      );
    };
    await this.track(async () => {
      const denied = this.refuseStranger(person, 'button');
      if (denied) return decide({ refused: denied });
      // Who may press is settled before the button is spent, arguments included (/mode live).
      const redeemed = await this.buttons.redeem(payload, chat, person.name, (name, args) => {
        const command = this.services.registry.get(name);
        if (!command) return 'This button runs something this bot no longer has.';
        return this.refuseRole(person.role!, command) ?? this.refuseArgs(person.role!, command, args);
      });
      if (!redeemed.ok) {
        if (redeemed.reason === 'forged')
          this.logger.warn(
            { platform: person.platform, userId: person.id, chatId: chat.id },
            'refused a forged button press',
          );
        else
          this.logger.info(
            { platform: person.platform, userId: person.id, reason: redeemed.reason },
            'refused a button press',
          );
        return decide({ refused: redeemed.message });
      }
      await decide({ once: redeemed.once, command: redeemed.command });
      await this.execute({ command: redeemed.command, words: redeemed.args, person, chat, transport });
    });
    return outcome;
  }

  /** Sign a reply's buttons for a chat, ready for an adapter to attach. */
  async signButtons(r: Reply, chat: ChatRef): Promise<SignedButton[][]> {
    const rows: SignedButton[][] = [];
    for (const row of r.actions) {
      const signed: SignedButton[] = [];
      for (const b of row)
        signed.push({
          label: b.label,
          payload: await this.buttons.register(b, chat),
          style: b.style ?? 'secondary',
        });
      rows.push(signed);
    }
    return rows;
  }

  /** The role of a person, or the refusal to send them when they have none. */
  private refuseStranger(person: Person, what: string): string | undefined {
    if (person.role !== undefined) return undefined;
    // Only the id and the command name are logged: a stranger's message may hold anything.
    this.logger.warn(
      { platform: person.platform, userId: person.id, command: what },
      'refused: not an allowed user',
    );
    return `Sorry, I only take commands from my allowed users. Your ${person.platform} id is ${person.id}; ask the bot's admin to add it.`;
  }

  /** Why a role may not run a command (undefined: it may): the refusal the chats get, for the API. */
  refusal(role: Role, name: string): string | undefined {
    const command = this.services.registry.get(name);
    return command ? this.refuseRole(role, command) : undefined;
  }

  private refuseRole(role: Role, command: Command): string | undefined {
    if (roleAllows(role, command.role)) return undefined;
    return `/${command.name} needs the ${command.role} role; you are ${role === 'admin' ? 'an' : 'a'} ${role}.`;
  }

  /** The refusal when these arguments need more than the caller's role (see `CommandSpec.needs`). */
  private refuseNeeds(role: Role, command: Command, args: Record<string, unknown>): string | undefined {
    const need = command.needs?.(args);
    if (!need || roleAllows(role, need.role)) return undefined;
    const what = need.what.charAt(0).toUpperCase() + need.what.slice(1);
    return `${what} needs the ${need.role} role; you are ${role === 'admin' ? 'an' : 'a'} ${role}.`;
  }

  /** A typed line another command serves (`/backtest show ID` is `/backtests show ID`), as that command's. */
  private handOver(inv: Invocation): Invocation {
    const command = this.services.registry.get(inv.command);
    if (!command?.handsOver || inv.options) return inv;
    let words: readonly string[];
    try {
      words = inv.words ?? tokenize(inv.text ?? '');
    } catch {
      // Words that do not split (an open quote) are the command's to refuse, in its own words.
      return inv;
    }
    const to = command.handsOver(words);
    if (!to) return inv;
    const { text: _text, ...rest } = inv;
    return { ...rest, command: to.command, words: to.words };
  }

  /** {@link refuseNeeds} for a button's words; words that do not parse are left to the command. */
  private refuseArgs(role: Role, command: Command, words: readonly string[]): string | undefined {
    if (!command.needs) return undefined;
    let args: Record<string, unknown>;
    try {
      args = validateArgs(command, argsFromWords(command, words));
    } catch {
      return undefined;
    }
    return this.refuseNeeds(role, command, args);
  }

  private async execute(given: Invocation): Promise<Outcome> {
    const { person, chat, transport } = given;
    const say = (r: Reply, outcome: Outcome) => transport.send(r).then(() => outcome);
    const denied = this.refuseStranger(person, given.command);
    if (denied) return say(reply(denied).privately(), 'refused');
    if (this.closing) return say(reply('I am shutting down; try again in a moment.').privately(), 'busy');
    const inv = this.handOver(given);
    const command = this.services.registry.get(inv.command);
    if (!command) {
      const names = this.services.registry.forRole(person.role!).map((c) => c.name);
      const near = closest(inv.command, names);
      return say(
        reply(
          `Unknown command /${harmless(shorten(inv.command))}${near ? ` (did you mean /${near}?)` : ''}. Send /help for the list.`,
        ).privately(),
        'unknown',
      );
    }
    const forbidden = this.refuseRole(person.role!, command);
    if (forbidden) {
      this.logger.info(
        { platform: person.platform, userId: person.id, command: command.name },
        'refused: role too low',
      );
      return say(reply(forbidden).privately(), 'refused');
    }
    const caller: Caller = {
      platform: person.platform,
      id: person.id,
      name: person.name,
      role: person.role!,
    };
    const log = this.logger.child({ command: command.name, platform: person.platform, userId: person.id });
    const started = Date.now();
    try {
      const parsed = validateArgs(
        command,
        inv.options ?? argsFromWords(command, inv.words ?? tokenize(inv.text ?? '')),
      );
      const needed = this.refuseNeeds(caller.role, command, parsed);
      if (needed) {
        log.info('refused: role too low for these arguments');
        await transport.send(reply(needed).privately());
        return 'refused';
      }
      const result = await command.run(parsed, {
        caller,
        chat,
        services: this.services,
        logger: log,
        signal: this.abort.signal,
        send: (r) => transport.send(r),
      });
      if (result) await transport.send(result);
      // The console is one local person; elsewhere every command is worth an audit line.
      log[person.platform === 'console' ? 'debug' : 'info']({ ms: Date.now() - started }, 'command done');
      return result && 'undone' in result && result.undone ? 'undone' : 'done';
    } catch (err) {
      const e = toAppError(err);
      await this.sayError(e, command, transport, log).catch((sendErr: unknown) =>
        log.error({ err: toAppError(sendErr).message }, 'could not send the error reply'),
      );
      if (this.abort.signal.aborted) return 'busy';
      return e.code === 'NOT_FOUND' ? 'missing' : e.isUserError ? 'invalid' : 'failed';
    }
  }

  private async sayError(e: AppError, command: Command, transport: Transport, log: Logger): Promise<void> {
    if (e.isUserError) {
      log.info({ code: e.code, error: tidyEcho(e.message) }, 'command refused its input');
      await transport.send(
        reply(this.scrub(tidyEcho(e.message)))
          .line(`Usage: ${usageLine(command)}`)
          .privately(),
      );
      return;
    }
    if (this.abort.signal.aborted) {
      await transport.send(reply(`/${command.name} was stopped: the bot is shutting down.`).privately());
      return;
    }
    if (e.code === 'INTERNAL') {
      const ref = randomBytes(3).toString('hex');
      log.error({ ref, err: e.cause ?? e }, 'command failed');
      await transport.send(
        reply(`Sorry, /${command.name} failed on my side (reference ${ref}); it is in the log.`).privately(),
      );
      return;
    }
    log.warn({ code: e.code, error: tidyEcho(e.message) }, 'command failed');
    await transport.send(
      reply(`Sorry, /${command.name} failed: ${this.scrub(tidyEcho(e.message))}`).privately(),
    );
  }

  private track<T>(work: () => Promise<T>): Promise<T | 'failed'> {
    const p = work().catch((err: unknown): 'failed' => {
      this.logger.error({ err: toAppError(err).message }, 'dispatch failed');
      return 'failed';
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /**
   * Stop taking commands, let those running finish for up to `graceMs`, then abort the rest and wait
   * for them to send their last reply.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closing = true;
    const all = () => Promise.allSettled([...this.inFlight]);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([all().then(() => 'done' as const), timer])) === 'timeout') {
      this.abort.abort();
      await Promise.race([all(), new Promise((r) => setTimeout(r, 2000).unref())]);
    }
  }
}
