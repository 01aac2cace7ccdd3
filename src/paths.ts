/** Where bosun's own files are, wherever it runs from (the source tree, dist/, a Docker image). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'strategies'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bosun: cannot find the package root');
    dir = parent;
  }
}

/** The package root (holds package.json, strategies/, commands/, data/samples/). */
export const PACKAGE_ROOT = findRoot();
/** The candle samples bundled with bosun. */
export const SAMPLES_DIR = join(PACKAGE_ROOT, 'data', 'samples');
