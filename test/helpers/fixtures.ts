import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES = `${ROOT}data/samples/`;
export const FIXTURES = `${ROOT}test/fixtures/`;

/** A reference CSV as named columns of numbers (empty cells become NaN). */
export function readColumns(path: string): Record<string, Float64Array> {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  const cols: Record<string, Float64Array> = {};
  for (const h of header) cols[h] = new Float64Array(lines.length - 1);
  for (let r = 1; r < lines.length; r++) {
    const cells = lines[r]!.split(',');
    header.forEach((h, c) => {
      const cell = cells[c] ?? '';
      cols[h]![r - 1] = cell === '' ? Number.NaN : Number(cell);
    });
  }
  return cols;
}
