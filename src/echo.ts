/**
 * Input shown back to a person, in an error line or a log: quoted, cut to 40 characters with an
 * ellipsis, and harmless: control characters (terminal escapes, new lines, bidirectional overrides)
 * are shown escaped, so what someone typed can neither flood a chat nor drive a terminal.
 *
 * @example
 * echo('x'.repeat(10_000)) // "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"
 * echo('\x1b[2Jhi')         // "\x1b[2Jhi"  (the escape shown as four characters)
 * echo(Number.NaN)          // NaN
 */

/** The longest echo, in characters, ellipsis included. */
export const ECHO_MAX = 40;

// C0 and C1 controls, DEL, line/paragraph separators, and the bidirectional marks and overrides.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Control characters in `text` shown escaped (`\x1b`, `\n`, `\u202e`); everything else as is. */
export function harmless(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return (
      NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`)
    );
  });
}

/** `text` cut to `max` characters, the last of them an ellipsis when anything was cut. */
export function shorten(text: string, max = ECHO_MAX): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

/** A value as it was given, quoted when it is text, cut and made harmless (see the module). */
export function echo(value: unknown, max = ECHO_MAX): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return `"${harmless(shorten(text, max))}"`;
}

/**
 * An error line for a person, whoever wrote it: quoted input in it longer than {@link ECHO_MAX}
 * is cut, and control characters anywhere are shown escaped. The one guard every chat answer
 * passes, for the modules that quote input without {@link echo}.
 */
export function tidyEcho(message: string): string {
  return harmless(
    message.replace(/"([^"\n]{41,}?)"(?=[\s;:,.)]|$)/g, (_, inner: string) => `"${shorten(inner)}"`),
  );
}
