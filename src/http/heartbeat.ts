/**
 * The dead-man heartbeat (`HEARTBEAT_URL`): a GET every `HEARTBEAT_INTERVAL` while bosun is not
 * failing, so a monitor outside (healthchecks.io, Uptime Kuma's push monitors, Cronitor) raises the
 * alarm when the pings stop: bosun dead, stalled, or sick. The URL is a secret (it names the check):
 * it is never logged. A ping that fails is logged once until one succeeds again.
 */
import type { Health } from '../health.js';
import type { Logger } from '../logger.js';

export interface HeartbeatOptions {
  url: string;
  intervalMs: number;
  health: Health;
  logger: Logger;
  /** How long a ping may take (default 10 s). */
  timeoutMs?: number;
  /** When the first beat goes, ms after the start (default 10 s, or the interval when shorter). */
  firstMs?: number;
}

export function startHeartbeat(o: HeartbeatOptions): { stop(): void } {
  let failing = false;
  let quiet = false;
  const stopped = new AbortController();
  const beat = async () => {
    const status = o.health.readiness().status;
    if (status === 'failing') {
      if (!quiet) o.logger.warn('heartbeat held back while a health check fails');
      quiet = true;
      return;
    }
    quiet = false;
    try {
      const res = await fetch(o.url, {
        signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(o.timeoutMs ?? 10_000)]),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`the monitor answered HTTP ${res.status}`);
      if (failing) o.logger.info('heartbeat delivered again');
      failing = false;
    } catch (err) {
      if (stopped.signal.aborted) return;
      if (!failing)
        o.logger.warn(
          { err: err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : (err as Error).message },
          'heartbeat not delivered; trying again at the next beat',
        );
      failing = true;
    }
  };
  // The first beat once start-up is over (the chats have had their head start to connect).
  const first = setTimeout(() => void beat(), Math.min(o.intervalMs, o.firstMs ?? 10_000));
  const timer = setInterval(() => void beat(), o.intervalMs);
  first.unref();
  timer.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(timer);
      stopped.abort();
    },
  };
}
