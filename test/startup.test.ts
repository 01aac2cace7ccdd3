/**
 * Heavy modules stay off the paths that do not need them: the backtest command and the offline
 * start never import ccxt, technicalindicators or pino-pretty statically (they load on demand).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/fixtures.js';

/** Every module reachable through static imports from `entry`: local files and package names. */
function staticImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    // Static forms only: `import x from '...'`, `import { a } from '...'`, `export ... from '...'`.
    // `import type` is erased by the compiler and loads nothing.
    for (const m of text.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'"(]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (existsSync(target)) visit(target);
      } else if (!spec.startsWith('node:')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return { files, packages };
}

describe('start-up weight', () => {
  it.each([
    ['src/cli.ts', ['dotenv', 'pino', 'zod']],
    // The bot adds its journal (SQLite and its query builder; PostgreSQL's driver loads only for a
    // DATABASE_URL); chat libraries, ccxt and canvas load only when used.
    ['src/main.ts', ['better-sqlite3', 'dotenv', 'kysely', 'lowdb', 'pino', 'zod']],
  ])('%s imports no heavy module statically', (entry, expected) => {
    const { packages, files } = staticImports(resolve(ROOT, entry));
    expect(files.size).toBeGreaterThan(5);
    expect([...packages].sort()).toEqual(expected);
  });
});
