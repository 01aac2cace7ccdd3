/**
 * The root pino logger. Modules take child loggers (`logger.child({ module: 'backtest' })`).
 *
 * Secrets are kept out twice over: well-known secret fields are redacted by path wherever they appear
 * in a log object, and the literal values of every configured secret are replaced in the serialised
 * line, so a token inside an error message or URL is caught too.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';

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

export const REDACTED = '[REDACTED]';

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  /** Literal secret values to scrub from every line. */
  secrets?: readonly string[];
  /** Where lines go (default: stderr, so stdout stays for program output). */
  destination?: DestinationStream;
  /** Whether the destination is a terminal, for format 'auto' (default: stderr.isTTY). */
  isTTY?: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const pretty =
    options.format === 'pretty' || (options.format === 'auto' && (options.isTTY ?? process.stderr.isTTY));
  const scrub = (line: string): string => {
    let out = line;
    for (const s of secrets) out = out.split(s).join(REDACTED);
    return out;
  };
  const paths = REDACT_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
  const opts: pino.LoggerOptions = {
    level: options.level,
    redact: { paths, censor: REDACTED },
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
    });
  }
  return pino(opts, destination);
}
