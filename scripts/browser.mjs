#!/usr/bin/env node
/* global process, console */
// The headless browser the web view's tests drive: Debian's chromium (/usr/bin/chromium). Run by
// `npm test` before the tests: when it is missing and this is root on Debian (a container, CI), it
// is installed with apt; otherwise one line says how. CHROMIUM_PATH points at another build.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
const root = process.getuid?.() === 0;
if (!root || !existsSync('/usr/bin/apt-get')) {
  console.error(
    `the web view's tests need Chromium at ${path}: install Debian's chromium (sudo apt-get install chromium), or set CHROMIUM_PATH`,
  );
  process.exit(1);
}
console.error('installing Debian chromium for the web view tests (apt-get install chromium)...');
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const apt = (...args) => execFileSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
try {
  apt('install', '-y', '--no-install-recommends', 'chromium');
} catch {
  apt('update', '-qq');
  apt('install', '-y', '--no-install-recommends', 'chromium');
}
