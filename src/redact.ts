/**
 * Redaction of secrets from text: the configured secrets' values, and tokens recognised by their
 * shape or place whatever their value. Used by the logger for every line, by the error lines of
 * main and the CLI, and by toAppError for messages taken from libraries. No dependencies, so any
 * module (a worker thread too) may use it cheaply.
 */
export const REDACTED = '[REDACTED]';

/**
 * Tokens recognised by their shape or place, whatever their value: what a library may echo from a
 * request it made (a URL in an error, an Authorization header), including tokens bosun was never
 * configured with (a Discord interaction's).
 */
const TOKEN_PATTERNS: Array<[RegExp, string]> = [
  // Telegram bot tokens (123456:AA...), bare or in /bot<token>/ and /file/bot<token>/ URLs.
  [/\d{5,}:[A-Za-z0-9_-]{30,}/g, REDACTED],
  // Discord interaction and webhook URLs: /interactions/<id>/<token>, /webhooks/<id>/<token>.
  [/(\/(?:interactions|webhooks)\/\d+\/)[^/?#\s"'\\]+/g, `$1${REDACTED}`],
  // Discord bot tokens: base64 id . timestamp . hmac.
  [/[A-Za-z0-9_-]{23,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{27,}/g, REDACTED],
  // Authorization header values.
  [/\b(Bot|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${REDACTED}`],
  // Credentials in query strings (apiKey=, signature=, token=...).
  [
    /([?&][^=&\s"'\\]*(?:key|secret|token|signature|sign|password|passphrase|auth)[^=&\s"'\\]*=)[^&#\s"'\\]+/gi,
    `$1${REDACTED}`,
  ],
  // user:password@ in URLs.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s"'\\]+@/gi, `$1${REDACTED}@`],
];

/** A function that removes `secrets` (literal values) and token-shaped text from a line. */
export function redactor(secrets: readonly string[] = []): (text: string) => string {
  const literal = secrets.filter((s) => s.length >= 4);
  return (text: string): string => {
    let out = text;
    for (const s of literal) out = out.split(s).join(REDACTED);
    for (const [pattern, replacement] of TOKEN_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/**
 * A URL's parts around its password: the authority ends at the last `@` (a password may hold an
 * unencoded @, # or /), and the user is what comes before the first colon. No password: undefined.
 */
export function urlPassword(url: string): { before: string; password: string; after: string } | undefined {
  const scheme = url.indexOf('://');
  if (scheme < 0) return undefined;
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', scheme + 3);
  if (at < 0 || colon < 0 || colon > at) return undefined;
  return { before: url.slice(0, colon + 1), password: url.slice(colon + 1, at), after: url.slice(at) };
}

/**
 * A URL fit to show: its password (all between the user's colon and the last `@`, however it is
 * written) and its query string masked; scheme, user, host, port and path kept to say where.
 */
export function redactUrl(url: string): string {
  const scheme = url.indexOf('://');
  if (scheme < 0) return redactor()(url);
  const parts = urlPassword(url);
  let shown = parts ? `${parts.before}${REDACTED}${parts.after}` : url;
  const query = shown.indexOf('?', scheme + 3);
  if (query >= 0) shown = `${shown.slice(0, query)}?${REDACTED}`;
  return shown;
}
