/**
 * The whole-process portfolio row times `node dist/src/cli.js`: without dist/ (a checkout not yet
 * built) it is skipped with one line, and nothing is run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { portfolioProcessRows } from '../../src/bench/rules.js';

describe('the whole-process portfolio bench row', () => {
  const root = mkdtempSync(join(tmpdir(), 'bosun-no-dist-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is skipped in one line when dist/ is not built, running nothing', () => {
    const said = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const ran: unknown[] = [];
    try {
      const rows = portfolioProcessRows(root, 1, (...a) => {
        ran.push(a);
        return { ms: 1 };
      });
      expect(rows).toEqual([]);
      expect(ran).toEqual([]);
      expect(said.mock.calls).toEqual([
        ['bench: dist/ is not built (npm run build); the whole-process portfolio row is skipped'],
      ]);
    } finally {
      said.mockRestore();
    }
  });
});
