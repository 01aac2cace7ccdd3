/** Where bosun's own files are, wherever it runs from (the source tree, dist/, a Docker image). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from './errors.js';

/**
 * The package root: the nearest folder above this module whose package.json is bosun's. That is the
 * repository from src/ and dist/src/, and /app in the Docker image (which has package.json and dist/
 * but no strategies/ or src/ beside it).
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (isBosunPackage(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bosun: cannot find the package root (a package.json named bosun)');
    dir = parent;
  }
}

function isBosunPackage(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'bosun';
  } catch {
    return false;
  }
}

/** The package root (holds package.json and data/samples/; strategies/ and commands/ sit beside the code). */
export const PACKAGE_ROOT = findRoot();
/** The candle samples bundled with bosun. */
export const SAMPLES_DIR = join(PACKAGE_ROOT, 'data', 'samples');

/**
 * The modules in a directory of one-file-per-thing modules (strategies/, commands/): name -> path,
 * for `.ts` (the source tree) and `.js` (dist/) files, skipping declarations, maps and dotfiles.
 * Two files with one name fail, naming the directory's `kind`.
 */
export function moduleFiles(dir: string, kind: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const file of readdirSync(dir).sort()) {
    if (file.endsWith('.d.ts') || file.startsWith('.')) continue;
    const ext = extname(file);
    if (ext !== '.ts' && ext !== '.js') continue;
    const name = basename(file, ext);
    if (files.has(name)) throw new AppError('INTERNAL', `${kind}: ${name} is defined by two files`);
    files.set(name, join(dir, file));
  }
  return files;
}
