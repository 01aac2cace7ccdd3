/**
 * The stops bench part (`--only stops`) measures what it says: every one of its 50 stops is crossed,
 * each market's sell reaches the exchange emulator, and its figures stand beside a baseline. (Its
 * target, p95 at most 100 ms, is the bench's to judge, not this test's.)
 */
import { describe, expect, it } from 'vitest';
import { stopRows } from '../../src/bench/stops.js';
import { ROOT } from '../helpers/fixtures.js';

describe('the stops bench', () => {
  it('sells every crossed stop and reports p50/p95/p99 beside bare ccxt.pro', async () => {
    const rows = await stopRows(ROOT);
    expect(rows.map((r) => r.name)).toEqual([
      'stop crossed -> sell order at the exchange, p50 (50 markets, live)',
      'stop crossed -> sell order at the exchange, p95 (50 markets, live)',
      'stop crossed -> sell order at the exchange, p99 (50 markets, live)',
    ]);
    for (const r of rows) {
      expect(r.value).toBeGreaterThan(0);
      expect(r.baseline).toBeGreaterThan(0);
    }
    expect(rows[1]!.target).toBe('<= 100 ms');
    expect(typeof rows[1]!.pass).toBe('boolean');
  }, 60_000);
});
