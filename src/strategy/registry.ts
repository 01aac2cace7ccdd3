/**
 * The strategy registry: every file in `strategies/` is one strategy, named like its file. Listing
 * reads the directory only; a strategy module is imported when it is first asked for, so a backtest
 * loads just the one it runs.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closest } from '../config.js';
import { AppError } from '../errors.js';
import { moduleFiles } from '../paths.js';
import { isStrategy, type Strategy } from './define.js';

/** `strategies/` beside `src/` (in the source tree and in dist/ alike). */
export const STRATEGIES_DIR = fileURLToPath(new URL('../../strategies/', import.meta.url));

const cache = new Map<string, Promise<Strategy>>();

const strategyFiles = (dir: string) => moduleFiles(dir, 'strategies');

/** Names of the available strategies, sorted. */
export function strategyNames(dir = STRATEGIES_DIR): string[] {
  return [...strategyFiles(dir).keys()].sort();
}

/** Load one strategy by name; an unknown name fails with the list of known ones. */
export function loadStrategy(name: string, dir = STRATEGIES_DIR): Promise<Strategy> {
  const key = `${dir}\0${name}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = importStrategy(name, dir);
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function importStrategy(name: string, dir: string): Promise<Strategy> {
  const files = strategyFiles(dir);
  const file = files.get(name);
  if (!file) {
    const names = [...files.keys()].sort();
    const near = closest(name, names);
    throw new AppError(
      'NOT_FOUND',
      `unknown strategy "${name}"${near ? ` (did you mean ${near}?)` : ''}; available: ${names.join(', ')}`,
    );
  }
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  const strategy = mod.default;
  if (!isStrategy(strategy)) {
    throw new AppError(
      'INTERNAL',
      `${file}: the default export must be a strategy made with defineStrategy()`,
    );
  }
  if (strategy.name !== name) {
    throw new AppError(
      'INTERNAL',
      `${file}: strategy is named "${strategy.name}" but its file is ${name}; they must match`,
    );
  }
  return strategy;
}

/** Every strategy, loaded and checked (for listings and tests). */
export async function loadAllStrategies(dir = STRATEGIES_DIR): Promise<Strategy[]> {
  return Promise.all(strategyNames(dir).map((n) => loadStrategy(n, dir)));
}
