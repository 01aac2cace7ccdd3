/**
 * bosun's HTTP server (Hono on Node), off unless `HTTP_PORT` is set, and bound to 127.0.0.1 unless
 * `HTTP_HOST` says otherwise: keep it private, or behind a proxy that adds TLS and access rules.
 *
 * - `GET /health/live`: 200 while the process answers.
 * - `GET /health/ready`: the health check (`src/health.ts`) as JSON; 200 when ok or degraded, 503
 *   when a check fails (the body says which, in one line each).
 * - `GET /metrics`: Prometheus metrics (`metrics.ts`).
 * - `/api/...`: the chat commands as a JSON API, with tokens and the same roles (`api.ts`).
 * - `POST /hooks/signal/SECRET`: alerts that become signals of a run (`hooks.ts`).
 * - `/web...`: the web view, signed in by a link from `/web` in chat (`web.ts`).
 *
 * Anything else is refused in one line of JSON that says what is allowed. It stops with the bot.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Health } from '../health.js';
import type { Logger } from '../logger.js';
import { type ApiOptions, Guesses, mountApi } from './api.js';
import { type HookOptions, mountHooks } from './hooks.js';
import { mountWeb, type WebOptions } from './web.js';
import type { Metrics } from './metrics.js';

const PATHS =
  'GET /health/live, GET /health/ready, GET /metrics, GET /api/openapi.json, GET /api/commands, POST /api/commands/NAME, the /api data reads, POST /hooks/signal/SECRET, GET /web (signed in by a /web link)';

export interface HttpOptions {
  port: number;
  host: string;
  health: Health;
  metrics: Metrics;
  logger: Logger;
  /** The JSON API (`api.ts`): the commands over HTTP. */
  api?: ApiOptions;
  /** Inbound webhooks (`hooks.ts`), with HOOK_SECRET. */
  hooks?: Omit<HookOptions, 'guesses' | 'logger'>;
  /** The web view (`web.ts`). */
  web?: Omit<WebOptions, 'logger'>;
}

export interface HttpServer {
  /** Where it listens, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  stop(): Promise<void>;
}

/** The routes, apart from the server (tests call `app.request`). */
export function httpApp(
  o: Pick<HttpOptions, 'health' | 'metrics' | 'logger' | 'api' | 'hooks' | 'web'>,
): Hono {
  const app = new Hono();
  // No request here needs more: a big body is refused before it is read.
  app.use(
    bodyLimit({
      maxSize: 64 * 1024,
      onError: (c) => c.json({ error: 'the request body is over 64 KiB; allowed: at most 64 KiB' }, 413),
    }),
  );
  app.get('/health/live', (c) => c.json({ status: 'ok' }));
  app.get('/health/ready', (c) => {
    const r = o.health.readiness();
    return c.json(r, r.status === 'failing' ? 503 : 200);
  });
  app.get('/metrics', async (c) => {
    const { body, type } = await o.metrics.text();
    return c.body(body, 200, { 'content-type': type });
  });
  // Wrong guesses counted per address, apart for API tokens and hook secrets.
  if (o.api) mountApi(app, { ...o.api, guesses: new Guesses('API tokens', o.logger) });
  if (o.hooks)
    mountHooks(app, { ...o.hooks, guesses: new Guesses('hook secrets', o.logger), logger: o.logger });
  if (o.web) mountWeb(app, { ...o.web, logger: o.logger });
  app.all('/health/live', (c) => methodNotAllowed(c.req.method, c.req.path));
  app.all('/health/ready', (c) => methodNotAllowed(c.req.method, c.req.path));
  app.all('/metrics', (c) => methodNotAllowed(c.req.method, c.req.path));
  app.notFound((c) => c.json({ error: `no such page: ${c.req.path.slice(0, 80)}; allowed: ${PATHS}` }, 404));
  app.onError((err, c) => {
    o.logger.error({ err: err.message, path: c.req.path }, 'an HTTP request failed');
    return c.json({ error: 'the request failed inside bosun; the log has the details' }, 500);
  });
  return app;
}

function methodNotAllowed(method: string, path: string): Response {
  return Response.json(
    { error: `${method} is not allowed on ${path}; allowed: GET, HEAD` },
    { status: 405, headers: { allow: 'GET, HEAD' } },
  );
}

/** Listen; resolves once the port is bound (rejects with one line when it cannot be). */
export async function startHttp(o: HttpOptions): Promise<HttpServer> {
  const app = httpApp(o);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: o.port, hostname: o.host }, () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `HTTP_PORT ${o.port} is in use on ${o.host}; allowed: a free port, or 0 for any`
            : `the HTTP server cannot listen on ${o.host}:${o.port}: ${err.message}`,
        ),
      ),
    );
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  o.logger.info({ url }, 'HTTP server listening');
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold the close up.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
