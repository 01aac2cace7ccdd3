/**
 * Inbound webhooks: `POST /hooks/signal/SECRET` (`HOOK_SECRET`) turns an alert (TradingView's, or
 * any script's) into a signal for a named run, taken like the run's own (`engine/alerts.ts`): risk,
 * the regime, then approval in the chats (approve=manual) or the next open (approve=auto). The
 * answer says what became of it.
 *
 * The body is JSON, `{ "run": "R1", "action": "long", "stop": 95, "target": 110, "note": "..." }`
 * (`side` for `action`, `message` for `note` are taken too), or text: `R1 long stop=95 target=110
 * the rest is the note`. Actions: long (or buy), short, exit (or close, flat). "sell" is refused
 * as ambiguous (open a short, or close a long?).
 *
 * A hook acts with the trader role. A wrong secret is one line (401); ten from one address within a
 * minute and its wrong guesses are refused (429) for the rest of it, while the right secret still
 * works. The secret is compared in constant time and never logged.
 */
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Engine } from '../engine/engine.js';
import type { Alert } from '../engine/alerts.js';
import { toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Guesses, sameSecret } from './api.js';

export interface HookOptions {
  secret: string;
  engine: () => Engine;
  guesses: Guesses;
  logger: Logger;
}

const ACTIONS: Record<string, Alert['action']> = {
  long: 'long',
  buy: 'long',
  short: 'short',
  exit: 'exit',
  close: 'exit',
  flat: 'exit',
};

const ALLOWED = 'a run (e.g. R1), an action (long, short or exit), and optionally stop, target and a note';

const price = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^[0-9]+(\.[0-9]+)?$/)
      .transform(Number),
  ])
  .pipe(z.number().positive().finite());
const JsonAlert = z.object({
  run: z.string().regex(/^[Rr][0-9]{1,6}$/),
  action: z.string().optional(),
  side: z.string().optional(),
  stop: price.optional(),
  target: price.optional(),
  note: z.string().max(300).optional(),
  message: z.string().max(300).optional(),
});

/** The alert in a body, or the one line that says what is wrong with it. */
export function parseAlert(text: string): Alert | string {
  const trimmed = text.trim();
  let fields: Record<string, unknown>;
  if (trimmed.startsWith('{')) {
    try {
      fields = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      return `the body is not JSON; allowed: ${ALLOWED}`;
    }
  } else {
    const [run = '', action = '', ...rest] = trimmed.split(/\s+/);
    fields = { run, action };
    const note: string[] = [];
    for (const w of rest) {
      const m = /^(stop|target)=(.+)$/i.exec(w);
      if (m) fields[m[1]!.toLowerCase()] = m[2];
      else note.push(w);
    }
    if (note.length) fields.note = note.join(' ').slice(0, 300);
  }
  const parsed = JsonAlert.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `${issue.path.join('.') || 'the alert'} is not right (${issue.message}); allowed: ${ALLOWED}`;
  }
  const word = (parsed.data.action ?? parsed.data.side ?? '').toLowerCase();
  if (word === 'sell')
    return 'the action "sell" is ambiguous; allowed: short (open a short) or exit (close the position)';
  const action = ACTIONS[word];
  if (!action) return `the action "${word.slice(0, 20)}" is not known; allowed: long, short or exit`;
  const note = parsed.data.note ?? parsed.data.message;
  return {
    run: parsed.data.run.toUpperCase(),
    action,
    ...(parsed.data.stop !== undefined ? { stop: parsed.data.stop } : {}),
    ...(parsed.data.target !== undefined ? { target: parsed.data.target } : {}),
    ...(note ? { note } : {}),
  };
}

export function mountHooks(app: Hono, o: HookOptions): void {
  app.post('/hooks/signal/:secret', async (c) => {
    if (!sameSecret(c.req.param('secret'), o.secret)) {
      const locked = o.guesses.locked(c);
      if (locked) return locked;
      o.guesses.wrong(c);
      return c.json({ error: 'that hook is not known; allowed: /hooks/signal/ with HOOK_SECRET' }, 401);
    }
    const alert = parseAlert(await c.req.text());
    if (typeof alert === 'string') return c.json({ error: alert }, 400);
    try {
      const outcome = await o.engine().alert(alert, 'webhook');
      o.logger.info({ run: alert.run, action: alert.action, outcome: outcome.detail }, 'alert taken');
      return c.json({
        detail: outcome.detail,
        ...(outcome.signal
          ? {
              signal: {
                id: outcome.signal.id,
                status: outcome.signal.status,
                ...(outcome.signal.reason ? { reason: outcome.signal.reason } : {}),
                side: outcome.signal.side,
                price: outcome.signal.price,
                quantity: outcome.signal.quantity,
                stop: outcome.signal.stop,
                targets: outcome.signal.targets,
              },
            }
          : {}),
      });
    } catch (err) {
      const e = toAppError(err);
      if (!e.isUserError) throw err;
      return c.json({ error: e.message }, e.code === 'NOT_FOUND' ? 404 : 400);
    }
  });
  app.all('/hooks/signal/:secret', (c) =>
    c.json({ error: `${c.req.method} is not allowed on a hook; allowed: POST` }, 405),
  );
}
