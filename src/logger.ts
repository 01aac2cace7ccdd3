/**
 * The root pino logger. Modules take child loggers (`logger.child({ module: 'backtest' })`).
 *
 * Secrets are kept out three times over: well-known secret fields are redacted by path wherever they
 * appear in a log object; errors are logged as their type, message, code, status, method, URL
 * (redacted) and stack only, never the headers or bodies an HTTP library hangs on them; and every
 * serialised line is scrubbed of the configured secrets' values and of the tokens that sit inside
 * URLs and headers (bot tokens, Discord interaction and webhook tokens, signed query parameters).
 * {@link redactor} gives the same scrubbing to the lines bosun prints itself.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactor } from './redact.js';

export type { Logger } from 'pino';

const REDACT_FIELDS = [
  'apiKey',
  'secret',
  'password',
  'token',
  'botToken',
  'privateKey',
  'authorization',
  'headers.authorization',
  'headers["x-mbx-apikey"]',
];

export { REDACTED, redactor } from './redact.js';

/** The parts of an error worth a log line; everything else (request, headers, bodies) is left out. */
const ERROR_FIELDS = ['code', 'status', 'statusCode', 'method', 'url'] as const;

/**
 * An error as a plain object of safe fields: its type, message, code, HTTP status and method, URL
 * without its query, stack, and the same for its cause.
 */
export function safeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.constructor?.name || err.name, message: err.message };
  const fields = err as unknown as Record<string, unknown>;
  for (const f of ERROR_FIELDS) {
    const v = fields[f];
    if (typeof v === 'string' || typeof v === 'number') out[f] = f === 'url' ? String(v).split('?')[0] : v;
  }
  if (err.stack) out.stack = err.stack;
  const cause = err.cause ?? fields.error;
  if (cause instanceof Error && depth < 3) out.cause = safeError(cause, depth + 1);
  return out;
}

/** The log object with every Error in it (at any depth) replaced by {@link safeError}. */
function withSafeErrors(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value instanceof Error) return safeError(value);
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => withSafeErrors(v, depth + 1, seen));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = withSafeErrors(v, depth + 1, seen);
    if (out[k] !== v) changed = true;
  }
  return changed ? out : value;
}

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Literal secret values to scrub from every line. */
  secrets?: readonly string[];
  /** Where lines go (default: stderr, so stdout stays for program output). */
  destination?: DestinationStream;
  /** Whether the destination is a terminal, for format 'auto' (default: stderr.isTTY). */
  isTTY?: boolean;
  /**
   * A console chat shares the terminal: every line goes to this file (JSON, at `level`) and the
   * terminal gets warnings and errors only, one line each, so no log block lands between chat lines.
   */
  file?: string;
}

export function createLogger(options: LoggerOptions): Logger {
  const pretty =
    options.format === 'pretty' || (options.format === 'auto' && (options.isTTY ?? process.stderr.isTTY));
  const scrub = redactor(options.secrets);
  const paths = REDACT_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  const opts: pino.LoggerOptions = {
    level: options.level,
    redact: { paths, censor: REDACTED },
    formatters: { log: (obj) => withSafeErrors(obj) as Record<string, unknown> },
    // Errors are made safe above; pino's own serializer would take every field back.
    serializers: { err: (v: unknown) => (v instanceof Error ? safeError(v) : v) },
    hooks: { streamWrite: scrub },
  };
  let destination = options.destination ?? pino.destination({ fd: 2, sync: true });
  if (pretty) {
    // pino-pretty is CommonJS and only needed on a terminal: load it there, synchronously.
    const require = createRequire(import.meta.url);
    const prettyFactory = require('pino-pretty') as (o: object) => DestinationStream;
    destination = prettyFactory({
      destination,
      sync: true,
      colorize: options.isTTY ?? process.stderr.isTTY,
      ignore: 'pid,hostname',
      singleLine: options.file !== undefined,
    });
  }
  if (options.file === undefined || options.level === 'silent') return pino(opts, destination);
  const file = pino.destination({ dest: options.file, mkdir: true, sync: true, append: true });
  return pino(
    opts,
    pino.multistream([
      { level: options.level as pino.Level, stream: file },
      { level: 'warn', stream: destination },
    ]),
  );
}
