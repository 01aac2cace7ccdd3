/**
 * bosun's single error type. Every failure that reaches a person is an {@link AppError} with a code
 * from a closed set; each front end (CLI, chat adapters) decides how a code looks to a person.
 *
 * The message is written for a person: one line that says what was wrong and what is allowed,
 * e.g. `data/x.csv:12: close is "abc", expected a number`.
 */
import { redactor } from './redact.js';

export const ERROR_CODES = [
  /** A command-line or chat argument, or a parameter, is not acceptable. */
  'BAD_INPUT',
  /** A config key (environment, .env or config file) is unknown or has a bad value. */
  'BAD_CONFIG',
  /** A data file is malformed (bad CSV row, bad JSON, unsorted candles...). */
  'BAD_DATA',
  /** A file, strategy, symbol or other named thing does not exist. */
  'NOT_FOUND',
  /** The exchange refused or failed a request (after any retries). */
  'EXCHANGE',
  /** A network failure talking to an outside service (after any retries). */
  'NETWORK',
  /** A file bosun keeps cannot be written (read-only, full disk, a directory in the way). */
  'STORAGE',
  /** The person is not allowed to do this. */
  'FORBIDDEN',
  /** A bug: something that should not happen. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }

  /** True for errors caused by the caller's input rather than by bosun or the outside world. */
  get isUserError(): boolean {
    return (
      this.code === 'BAD_INPUT' ||
      this.code === 'BAD_CONFIG' ||
      this.code === 'BAD_DATA' ||
      this.code === 'NOT_FOUND'
    );
  }
}

/**
 * Normalise anything thrown into an AppError; unknown errors become INTERNAL with their message,
 * cleared of the tokens a library may echo from its request (a bot token in a URL, a signed query):
 * the message may be shown to a person.
 */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = scrubTokens(err.message || err.name);
    if (code === 'ENOENT') return new AppError('NOT_FOUND', message, { cause: err });
    return new AppError('INTERNAL', message, { cause: err });
  }
  return new AppError('INTERNAL', scrubTokens(String(err)));
}

const scrubTokens = redactor();

/** Shorthand for the commonest failure: a bad argument, with what is allowed. */
export function badInput(message: string): AppError {
  return new AppError('BAD_INPUT', message);
}
