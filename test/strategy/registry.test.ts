import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { loadAllStrategies, loadStrategy, strategyNames } from '../../src/strategy/registry.js';
import { ROOT } from '../helpers/fixtures.js';

const DEFINE = JSON.stringify(`${ROOT}src/strategy/define.ts`);
const ZOD = JSON.stringify(`${ROOT}node_modules/zod/index.js`);

function strategiesDir(files: Record<string, string>): string {
  const d = `${mkdtempSync(join(tmpdir(), 'bosun-strategies-'))}/`;
  for (const [name, content] of Object.entries(files)) writeFileSync(join(d, name), content);
  return d;
}

const valid = (name: string) => `
import { z } from ${ZOD};
import { defineStrategy, emptySignals } from ${DEFINE};
export default defineStrategy({ name: '${name}', description: 'x', params: z.object({}).strict(), timeframes: { main: '1h' }, warmup: () => 1, signals: (c) => emptySignals(c.length) });
`;

async function loadError(name: string, dir: string): Promise<AppError> {
  const err = await loadStrategy(name, dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('strategy registry', () => {
  it('lists the bundled strategies by file name', () => {
    expect(strategyNames()).toEqual([
      'bb-breakout',
      'ema-cross',
      'ict-confluence',
      'ma-accumulation',
      'ma-trend',
      'macd-momentum',
      'momentum',
      'rsi-reversion',
    ]);
  });

  it('loads every bundled strategy and each one is named like its file', async () => {
    const all = await loadAllStrategies();
    expect(all.map((s) => s.name)).toEqual(strategyNames());
    for (const s of all) expect(s.description.length).toBeGreaterThan(10);
  });

  it('answers an unknown name with the near one and the list', async () => {
    const err = await loadError('ema-crss', join(ROOT, 'strategies/'));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toBe(
      `unknown strategy "ema-crss" (did you mean ema-cross?); available: ${strategyNames().join(', ')}`,
    );
  });

  it('rejects a module without a defineStrategy default export', async () => {
    const dir = strategiesDir({ 'plain.ts': 'export default { name: "plain" };\n' });
    expect((await loadError('plain', dir)).message).toMatch(
      /plain\.ts: the default export must be a strategy made with defineStrategy\(\)$/,
    );
  });

  it('rejects a strategy whose name differs from its file', async () => {
    const dir = strategiesDir({ 'alpha.ts': valid('beta') });
    expect((await loadError('alpha', dir)).message).toMatch(
      /strategy is named "beta" but its file is alpha; they must match$/,
    );
  });

  it('rejects two files defining one name', async () => {
    const dir = strategiesDir({ 'twice.ts': valid('twice'), 'twice.js': 'export default 1;' });
    expect(() => strategyNames(dir)).toThrow('strategies: twice is defined by two files');
  });

  it('loads a valid strategy from another directory', async () => {
    const dir = strategiesDir({ 'gamma.ts': valid('gamma') });
    expect((await loadStrategy('gamma', dir)).name).toBe('gamma');
  });
});
