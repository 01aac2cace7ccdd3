/**
 * The Docker HEALTHCHECK: asks the bot's own `/health/ready` (HTTP_PORT, HTTP_HOST) and exits 0
 * when bosun is ok or degraded, 1 when a check fails or nothing answers, printing one line that
 * says why (`docker inspect` shows it). An empty HTTP_PORT (the server switched off) is not
 * checked. Reads only those two settings, so it starts fast.
 */
const port = process.env.HTTP_PORT;
const host = process.env.HTTP_HOST;

async function main(): Promise<number> {
  // Switched off on purpose (an empty HTTP_PORT): nothing to ask, and no reason to call bosun sick.
  if (!port) {
    console.log('HTTP_PORT is empty: the health endpoint is off, so it is not checked');
    return 0;
  }
  if (!/^[1-9][0-9]*$/.test(port)) {
    console.log(`HTTP_PORT=${port} cannot be checked; allowed: the port bosun listens on, from 1 to 65535`);
    return 1;
  }
  // A server on every interface is asked on this machine's.
  const at = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${at.includes(':') ? `[${at}]` : at}:${port}/health/ready`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
    const body = (await res.json()) as {
      status?: string;
      checks?: Array<{ name: string; state: string; detail: string }>;
    };
    const bad = (body.checks ?? []).filter((c) => c.state !== 'ok');
    console.log(
      `${body.status ?? 'unknown'}${bad.length ? `: ${bad.map((c) => `${c.name} ${c.state} (${c.detail})`).join('; ')}` : ''}`,
    );
    return res.ok ? 0 : 1;
  } catch (err) {
    console.log(`no answer from ${url}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
