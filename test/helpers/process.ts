/** The compiled bot or CLI as a child process, as a person (or a container runtime) runs it. */
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './fixtures.js';

export const MAIN = 'dist/src/main.js';
export const CLI = 'dist/src/cli.js';

/** The environment without any bosun settings from the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...extra };
}

export interface Spawned {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) and when it happened. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolve once stdout + stderr match `pattern`; reject if the process ends first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
}

export function spawnNode(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; stdin?: 'ignore' | 'pipe' } = {},
): Spawned {
  const cwd = options.cwd ?? ROOT;
  const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe'];
  const child = spawn(
    process.execPath,
    args.map((a) => (a.endsWith('.js') ? join(cwd, a) : a)),
    {
      cwd,
      env: cleanEnv(options.env),
      stdio,
    },
  );
  let ended = false;
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  child.stdout!.on('data', (d) => {
    out += d;
    changed();
  });
  child.stderr!.on('data', (d) => {
    err += d;
    changed();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.on('close', (code, signal) => {
      ended = true;
      r({ code, signal, at: Date.now() });
      changed();
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out + err)) done(resolve);
          else if (ended) done(() => reject(new Error(`process ended before ${pattern}:\n${out}\n${err}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${pattern}:\n${out}\n${err}`))),
          ms,
        );
        const done = (then: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          then();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** A local port where nothing listens (taken from the system, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
