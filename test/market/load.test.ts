import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { loadCandlesFile, parseCandlesCsv, parseNumber, parseOhlcvJson } from '../../src/market/load.js';
import { SAMPLES } from '../helpers/fixtures.js';

const HEADER = 'timestamp,open,high,low,close,volume';

function dataError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).message;
  }
  throw new Error('expected an error');
}

describe('CSV candles', () => {
  it('loads epoch-ms rows into columns', () => {
    const c = parseCandlesCsv(
      `${HEADER}\n1700000000000,10,12,9,11,5.5\n1700000060000,11,11.5,10.5,11.25,0\n`,
    );
    expect(c.length).toBe(2);
    expect([...c.time]).toEqual([1700000000000, 1700000060000]);
    expect([...c.close]).toEqual([11, 11.25]);
    expect([...c.volume]).toEqual([5.5, 0]);
  });

  it('accepts ISO times, epoch seconds, CRLF, a BOM, columns in any order and extra columns', () => {
    const iso = parseCandlesCsv(
      `\uFEFFtime,open,high,low,close,volume,trades\r\n2024-01-01T00:00:00Z,1,2,0.5,1.5,3,7\r\n2024-01-01 01:00,1.5,2,1,2,3,8\r\n`,
    );
    expect([...iso.time]).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 1, 1)]);
    const secs = parseCandlesCsv(`close,open,high,low,volume,timestamp\n1.5,1,2,0.5,3,1704067200\n`);
    expect(secs.time[0]).toBe(Date.UTC(2024, 0, 1));
    expect(secs.close[0]).toBe(1.5);
    expect(secs.open[0]).toBe(1);
  });

  it('parses every number in the bundled samples exactly as Number() does', () => {
    for (const file of ['binance_BTC-USDT_2h.csv', 'freqtrade-unittest_UNITTEST-BTC_1m.csv']) {
      const text = readFileSync(`${SAMPLES}${file}`, 'utf8');
      const c = loadCandlesFile(`${SAMPLES}${file}`);
      const rows = text.trim().split('\n').slice(1);
      expect(c.length).toBe(rows.length);
      rows.forEach((line, i) => {
        const f = line.split(',').map(Number);
        expect([c.time[i], c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]]).toEqual(f);
      });
    }
  });

  it('parses numbers like Number(): long mantissas, exponents, signs and leading zeros', () => {
    for (const text of [
      '0',
      '0.00162008',
      '-12.5',
      '+3',
      '1e-8',
      '123456789012345678',
      '0.1234567890123456789',
      '00042.10',
      '7.',
    ]) {
      expect(parseNumber(Buffer.from(text), 0, text.length)).toBe(Number(text));
    }
    for (const junk of ['', 'abc', '1.2.3', '12a', '-'])
      expect(parseNumber(Buffer.from(junk), 0, junk.length)).toBeNaN();
  });

  it('names the file and line of a malformed row, and what was expected', () => {
    const bad = (rows: string) =>
      dataError(() => parseCandlesCsv(`${HEADER}\n1700000000000,10,12,9,11,5\n${rows}`, 'x.csv'));
    expect(bad('1700000060000,10,12,9,abc,5\n')).toBe('x.csv:3: close is "abc", expected a number');
    expect(bad('1700000060000,10,12,9,11\n')).toBe('x.csv:3: has 5 fields, expected 6');
    expect(bad('1700000060000,10,12,9,11,5,1\n')).toBe('x.csv:3: has more than 6 fields');
    expect(bad('yesterday,10,12,9,11,5\n')).toBe(
      'x.csv:3: timestamp is "yesterday", expected epoch milliseconds or an ISO time',
    );
    expect(bad('1700000000000,10,12,9,11,5\n')).toBe(
      "x.csv:3: timestamp 1700000000000 repeats the previous row's",
    );
    expect(bad('1690000000000,10,12,9,11,5\n')).toMatch(
      /^x\.csv:3: timestamp 1690000000000 is before the previous row's/,
    );
    expect(bad('1700000060000,10,9,12,11,5\n')).toBe(
      'x.csv:3: high 9 / low 12 do not contain open 10 and close 11',
    );
    expect(bad('1700000060000,10,12,9,11,-1\n')).toBe('x.csv:3: volume -1 is negative');
    expect(bad('1700000060000,0,0,0,0,1\n')).toBe('x.csv:3: prices must be positive');
  });

  it('explains a wrong header and an empty file', () => {
    expect(dataError(() => parseCandlesCsv('date,price\n1,2\n', 'p.csv'))).toBe(
      'p.csv:1: header is "date,price"; missing open, high, low, close, volume (expected timestamp,open,high,low,close,volume)',
    );
    expect(dataError(() => parseCandlesCsv(`${HEADER}\n`, 'e.csv'))).toBe(
      'e.csv: no candles after the header',
    );
  });

  it('reports a missing file, a directory and an unknown extension in one line', () => {
    expect(dataError(() => loadCandlesFile('/nonexistent/candles.csv'))).toBe(
      '/nonexistent/candles.csv: no such file',
    );
    expect(dataError(() => loadCandlesFile(tmpdir()))).toMatch(/is a directory/);
    const d = mkdtempSync(join(tmpdir(), 'bosun-load-'));
    writeFileSync(join(d, 'c.xlsx'), 'x');
    expect(dataError(() => loadCandlesFile(join(d, 'c.xlsx')))).toMatch(
      /unknown file type "\.xlsx"; allowed: \.csv or \.json$/,
    );
  });
});

describe('ccxt OHLCV JSON candles', () => {
  it('loads [[ts, o, h, l, c, v], ...]', () => {
    const c = parseOhlcvJson('[[1700000000000,1,2,0.5,1.5,10],[1700000060000,1.5,2,1,1.8,4]]');
    expect(c.length).toBe(2);
    expect(c.high[1]).toBe(2);
  });

  it('loads a file by its .json extension', () => {
    const d = mkdtempSync(join(tmpdir(), 'bosun-json-'));
    writeFileSync(join(d, 'c.json'), JSON.stringify([[1700000000000, 1, 2, 0.5, 1.5, 10]]));
    expect(loadCandlesFile(join(d, 'c.json')).close[0]).toBe(1.5);
  });

  it('names the row that is wrong', () => {
    expect(dataError(() => parseOhlcvJson('{"a":1}', 'j.json'))).toBe(
      'j.json: expected an array of [timestamp, open, high, low, close, volume] rows',
    );
    expect(
      dataError(() =>
        parseOhlcvJson('[[1700000000000,1,2,0.5,1.5,10],[1700000060000,1,2,"x",1,1]]', 'j.json'),
      ),
    ).toBe('j.json: row 2: low is "x", expected a number');
    expect(dataError(() => parseOhlcvJson('[[1,2,3]]', 'j.json'))).toBe(
      'j.json: row 1 is [1,2,3], expected [timestamp, open, high, low, close, volume]',
    );
    expect(dataError(() => parseOhlcvJson('[oops', 'j.json'))).toMatch(/^j\.json: not valid JSON/);
  });
});
