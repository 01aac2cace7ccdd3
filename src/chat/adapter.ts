/** What every chat adapter offers the composition root, and how the root keeps one connected. */
import { AppError, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { redactor } from '../redact.js';
import type { ChatStatus, Platform } from './command.js';
import type { Reply } from './reply.js';

export interface ChatAdapter {
  readonly platform: Platform;
  /** Where it connects, for the log (an API root: never a token). */
  readonly endpoint?: string;
  status(): ChatStatus;
  /**
   * Connect and start taking messages; resolves once connected. One attempt, bounded in time: it
   * rejects with an AppError whose message is safe to print, BAD_CONFIG when the platform refused
   * the configuration for good (a wrong token: trying again cannot help), another code when a later
   * attempt may work. `signal` abandons the attempt.
   */
  start(signal?: AbortSignal): Promise<void>;
  /** Stop taking new messages and wait for the replies in flight; then disconnect. */
  stop(): Promise<void>;
  /**
   * Send a message on bosun's own initiative (a notification) to a chat that talked to it before;
   * resolves to the id of the message that carries the buttons (or the first), for later edits.
   */
  push(chatId: string, reply: Reply): Promise<string>;
  /** Replace the text (and buttons) of a message sent earlier. */
  edit(chatId: string, messageId: string, reply: Reply): Promise<void>;
}

export type Connection = 'connected' | 'refused' | 'stopped';

export interface Connecting {
  /** Resolves when the first attempt has ended, however it ended. */
  firstAttempt: Promise<void>;
  /** Resolves with how the connecting ended. */
  outcome: Promise<Connection>;
}

/**
 * Connect a chat, in the background: a failed attempt is reported once (what, where, how often it
 * is retried) and retried every `retryMs` until it connects; a refusal for good is reported once and
 * not retried. `signal` ends the retrying (the bot is stopping).
 */
export function keepConnected(
  adapter: ChatAdapter,
  o: { logger: Logger; retryMs: number; signal: AbortSignal },
): Connecting {
  let firstDone!: () => void;
  const firstAttempt = new Promise<void>((r) => (firstDone = r));
  const outcome = connectLoop(adapter, o, () => firstDone());
  void outcome.finally(() => firstDone());
  return { firstAttempt, outcome };
}

async function connectLoop(
  adapter: ChatAdapter,
  o: { logger: Logger; retryMs: number; signal: AbortSignal },
  attempted: () => void,
): Promise<Connection> {
  const where = adapter.endpoint ? { where: adapter.endpoint } : {};
  let failures = 0;
  for (;;) {
    if (o.signal.aborted) return 'stopped';
    try {
      await adapter.start(o.signal);
      o.logger.info(
        { platform: adapter.platform, ...where, ...(failures > 0 ? { attempts: failures + 1 } : {}) },
        'chat connected',
      );
      return 'connected';
    } catch (err) {
      if (o.signal.aborted) return 'stopped';
      const e = toAppError(err);
      if (e.code === 'BAD_CONFIG') {
        o.logger.error(
          { platform: adapter.platform, ...where, error: e.message },
          `${adapter.platform} refused bosun: this chat stays off until the setting is fixed and bosun restarted`,
        );
        return 'refused';
      }
      failures++;
      const seconds = o.retryMs / 1000;
      if (failures === 1)
        o.logger.warn(
          { platform: adapter.platform, ...where, error: e.message, retryEverySeconds: seconds },
          `${adapter.platform} unreachable; retrying every ${seconds} s in the background`,
        );
      else
        o.logger.debug(
          { platform: adapter.platform, error: e.message, attempt: failures },
          'still unreachable',
        );
    }
    attempted();
    await pause(o.retryMs, o.signal);
  }
}

/** Wait `ms`, or less when `signal` aborts (at once when it already has). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done);
  });
}

/** An error and the errors under it (`cause`, or a library's `error`), a few levels deep. */
function* causes(err: unknown): Generator<object> {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    yield e;
    const next = e as { cause?: unknown; error?: unknown };
    e = next.cause ?? next.error;
  }
}

/** The code of the network failure at the bottom of an error's causes (ECONNREFUSED...), if any. */
export function networkCode(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  }
  return undefined;
}

const scrub = redactor();

/** One attempt's failure as an error that may be retried, naming where and, when known, why. */
export function unreachable(platform: string, where: string, err: unknown): AppError {
  const code = networkCode(err);
  const message = err instanceof Error ? err.message : String(err);
  // The library's own words, when there is no errno to name: cleared of tokens, and short.
  const why = code ?? (isAbort(err) ? 'no answer in time' : scrub(message).slice(0, 120) || 'no answer');
  return new AppError('NETWORK', `${platform}: cannot reach ${where} (${why})`, { cause: err });
}

function isAbort(err: unknown): boolean {
  for (const e of causes(err)) {
    const name = (e as { name?: unknown }).name;
    if (name === 'AbortError' || name === 'TimeoutError') return true;
  }
  return false;
}
