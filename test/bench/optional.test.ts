/**
 * The bench compares against packages that only a development install has (technicalindicators):
 * loading one that is absent gives undefined, so its row is skipped rather than the bench failing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type * as Zod from 'zod';
import { optionalImport } from '../../src/bench/index.js';

describe('optionalImport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bosun-optional-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a package that is installed', async () => {
    const zod = await optionalImport<typeof Zod>('zod');
    expect(typeof zod?.z.object).toBe('function');
  });

  it('gives undefined for a package that is not installed', async () => {
    expect(await optionalImport('bosun-no-such-package')).toBeUndefined();
  });

  it('throws when the module is there but a package it needs is not', async () => {
    const file = join(dir, 'needs-missing.mjs');
    writeFileSync(file, "import 'bosun-no-such-dependency';\n");
    await expect(optionalImport(pathToFileURL(file).href)).rejects.toThrow(/bosun-no-such-dependency/);
  });
});
