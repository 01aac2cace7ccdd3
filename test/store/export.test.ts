/**
 * Exporting the journal: every kind in every format, from a journal the state store wrote, on
 * SQLite and on a real PostgreSQL server. Each file is read back the way an analyst would (the CSV
 * parsed, the JSON lines parsed, the Parquet read with hyparquet) and compared with rows worked out
 * by hand from what was written. Pages of two rows make every export cross pages, ties of time and
 * series boundaries, so the keyset is exercised as a large export would.
 */
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgres } from '../../src/dev/postgres.js';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportQuery,
  exportJournal,
  type JournalReader,
  openJournalReader,
} from '../../src/store/export.js';
import { SignalRecord } from '../../src/store/records.js';
import { type SignalRecord as Signal, StateStore, type TradeRecord } from '../../src/store/state.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-export-'));

const T0 = Date.UTC(2024, 0, 1); // 2024-01-01T00:00:00.000Z
const H = 3_600_000;

// --- the journal's contents ---

const signalS3: Signal = {
  id: 'S3',
  runId: 'R1',
  symbol: 'BTC/USDT',
  timeframe: '1h',
  strategy: 'ema-cross',
  side: 'long',
  barTime: T0 + H,
  createdAt: T0 + H + 5_000,
  price: 101.5,
  signalStop: 99,
  signalTarget: null,
  stop: 99,
  targets: [104, 106.5],
  quantity: 0.5,
  risk: 1.25,
  rewardRisk: 2,
  status: 'approved',
  decidedBy: 'telegram:42',
  decidedAt: T0 + H + 60_000,
  messages: [{ chat: 'telegram:1', ref: '77' }],
  indicators: { ema12: 101, ema26: 100.5 },
  note: 'fast crossed slow',
};
const signalS5: Signal = {
  id: 'S5',
  runId: 'R2',
  symbol: 'ETH/USDT',
  timeframe: '1h',
  strategy: 'rsi',
  side: 'short',
  barTime: T0,
  createdAt: T0 + 1_000,
  price: 2000,
  signalStop: null,
  signalTarget: null,
  stop: null,
  targets: [],
  quantity: 0.1,
  risk: 5,
  rewardRisk: null,
  status: 'rejected',
  reason: 'risk: too many open positions',
  messages: [],
  indicators: { rsi: 30 },
  regime: 'RISK_OFF x0.5',
};

const exitsP4: TradeRecord['exits'] = [
  { time: T0 + 4 * H, price: 105, quantity: 1, fee: 0.1, pnl: 4.9, reason: 'take-profit' },
  { time: T0 + 5 * H, price: 110, quantity: 1, fee: 0.1, pnl: 9.9, reason: 'signal' },
];
const tradeP4: TradeRecord = {
  id: 'P4',
  runId: 'R1',
  symbol: 'BTC/USDT',
  quote: 'USDT',
  side: 'long',
  entryTime: T0 + 2 * H,
  entryPrice: 100,
  exitTime: T0 + 5 * H,
  exitPrice: 107.5,
  quantity: 2,
  pnl: 14.4,
  returnPct: 7.2,
  fees: 0.4,
  exitReason: 'signal',
  bars: 3,
  exits: exitsP4,
};
const exitsP6: TradeRecord['exits'] = [
  { time: T0 + 3 * H, price: 90, quantity: 1, fee: 0.05, pnl: 9.9, reason: 'stop' },
];
const tradeP6: TradeRecord = {
  id: 'P6',
  runId: 'R2',
  symbol: 'ETH/EUR',
  quote: 'EUR',
  side: 'short',
  entryTime: T0 + H,
  entryPrice: 100,
  exitTime: T0 + 3 * H,
  exitPrice: 90,
  quantity: 1,
  pnl: 9.8,
  returnPct: 9.8,
  fees: 0.15,
  exitReason: 'stop',
  bars: 2,
  exits: exitsP6,
};

/** Write the journal the way the bot does: through the state store, in updates. */
async function fillJournal(dataDir: string, url?: string): Promise<void> {
  const now = T0 + 10 * H;
  const paper = await StateStore.open(dataDir, now, 'paper', { url });
  await paper.update((s) => {
    s.log.decisions.push(
      { time: T0, runId: 'R1', kind: 'hold', detail: 'flat', indicators: { ema12: 100.5, ema26: 99.25 } },
      {
        time: T0 + H,
        runId: 'R1',
        kind: 'entry',
        detail: 'cross up',
        signalId: 'S3',
        indicators: { ema12: 101, ema26: null },
      },
      // `kind` is also a column's name: its column is indicator_kind.
      {
        time: T0 + 2 * H,
        runId: 'R2',
        kind: 'hold',
        detail: 'quiet, "really"',
        indicators: { rsi: 55.5, kind: 2 },
      },
    );
    s.signals.S5 = signalS5;
    s.log.equity.push({ quote: 'USDT', time: T0, equity: 1000 }, { quote: 'EUR', time: T0, equity: 500 });
  });
  await paper.update((s) => {
    // Written later, at the time of the second decision: after it in the export (seq breaks ties).
    s.log.decisions.push({ time: T0 + H, runId: 'R2', kind: 'skip', detail: 'cooldown', indicators: {} });
    s.signals.S3 = signalS3;
    s.log.trades.push(tradeP4, tradeP6);
    s.log.equity.push({ quote: 'USDT', time: T0 + H, equity: 1010.5 });
    s.log.snapshots.push(
      {
        at: T0,
        symbol: 'BTC/USDT',
        timeframe: '1h',
        candles: [[T0 - H, 1, 2, 0.5, 1.5, 10]],
        indicators: { rsi: 60, atr: 1.5 },
        orderBook: { bid: 100, bidSize: 2, ask: 100.5, askSize: 3 },
        correlationBtc: 1,
      },
      {
        at: T0 + H,
        symbol: 'ETH/USDT',
        timeframe: '1h',
        candles: [],
        indicators: { rsi: 40, adx: 25 },
        orderBook: null,
        correlationBtc: 0.8,
      },
    );
    s.log.candles.push(
      {
        source: 'replay',
        symbol: 'BTC/USDT',
        timeframe: '1m',
        time: T0,
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
      },
      {
        source: 'binance',
        symbol: 'ETH/USDT',
        timeframe: '1h',
        time: T0,
        open: 20,
        high: 21,
        low: 19,
        close: 20.5,
        volume: 7,
      },
      {
        source: 'binance',
        symbol: 'BTC/USDT',
        timeframe: '1h',
        time: T0 + H,
        open: 11,
        high: 13,
        low: 10,
        close: 12,
        volume: 4,
      },
      {
        source: 'binance',
        symbol: 'BTC/USDT',
        timeframe: '1h',
        time: T0,
        open: 10,
        high: 12,
        low: 9,
        close: 11,
        volume: 3,
      },
    );
  });
  await paper.close();
  // The live book and another instance: never in the paper export of `main`.
  const live = await StateStore.open(dataDir, now, 'live', { url });
  await live.update((s) => {
    s.log.decisions.push({ time: T0, runId: 'R9', kind: 'hold', detail: 'live one', indicators: { atr: 3 } });
  });
  await live.close();
  const other = await StateStore.open(dataDir, now, 'paper', { url, instance: 'other' });
  await other.update((s) => {
    s.log.decisions.push({
      time: T0,
      runId: 'R1',
      kind: 'hold',
      detail: 'other one',
      indicators: { obv: 1 },
    });
  });
  await other.close();
}

// --- the rows expected, worked out from the above ---

type Row = Record<string, unknown>;

const decision = (
  seq: number,
  time: string,
  ms: number,
  run: string,
  kind: string,
  detail: string,
  signal: string | null,
) => ({ seq, time, time_ms: ms, run_id: run, kind, detail, signal_id: signal });

// In time, then as written: seq 1 (T0), seq 2 and seq 4 (both T0+1h), seq 3 (T0+2h). Indicator
// columns in the order first met along that order.
const DECISIONS: Row[] = [
  {
    ...decision(1, '2024-01-01T00:00:00.000Z', T0, 'R1', 'hold', 'flat', null),
    ema12: 100.5,
    ema26: 99.25,
    rsi: null,
    indicator_kind: null,
  },
  {
    ...decision(2, '2024-01-01T01:00:00.000Z', T0 + H, 'R1', 'entry', 'cross up', 'S3'),
    ema12: 101,
    ema26: null,
    rsi: null,
    indicator_kind: null,
  },
  {
    ...decision(4, '2024-01-01T01:00:00.000Z', T0 + H, 'R2', 'skip', 'cooldown', null),
    ema12: null,
    ema26: null,
    rsi: null,
    indicator_kind: null,
  },
  {
    ...decision(3, '2024-01-01T02:00:00.000Z', T0 + 2 * H, 'R2', 'hold', 'quiet, "really"', null),
    ema12: null,
    ema26: null,
    rsi: 55.5,
    indicator_kind: 2,
  },
];

const signalRow = (s: Signal, iso: Record<string, string>, indicators: Row): Row => ({
  id: s.id,
  run_id: s.runId,
  symbol: s.symbol,
  timeframe: s.timeframe,
  strategy: s.strategy,
  side: s.side,
  status: s.status,
  bar_time: iso.bar!,
  bar_time_ms: s.barTime,
  created_at: iso.created!,
  created_at_ms: s.createdAt,
  price: s.price,
  signal_stop: s.signalStop,
  signal_target: s.signalTarget,
  stop: s.stop,
  targets: s.targets,
  quantity: s.quantity,
  risk: s.risk,
  reward_risk: s.rewardRisk,
  size: null,
  reason: s.reason ?? null,
  decided_by: s.decidedBy ?? null,
  decided_at: iso.decided ?? null,
  decided_at_ms: s.decidedAt ?? null,
  expires_at: null,
  expires_at_ms: null,
  note: s.note ?? null,
  regime: s.regime ?? null,
  no_half: s.noHalf ?? null,
  messages: s.messages,
  signal_targets: s.signalTargets ?? null,
  manual: s.manual ?? null,
  adds: s.adds ?? null,
  ...indicators,
});
// S5's bar comes first; its rsi is the first indicator met.
const SIGNALS: Row[] = [
  signalRow(
    signalS5,
    { bar: '2024-01-01T00:00:00.000Z', created: '2024-01-01T00:00:01.000Z' },
    { rsi: 30, ema12: null, ema26: null },
  ),
  signalRow(
    signalS3,
    {
      bar: '2024-01-01T01:00:00.000Z',
      created: '2024-01-01T01:00:05.000Z',
      decided: '2024-01-01T01:01:00.000Z',
    },
    { rsi: null, ema12: 101, ema26: 100.5 },
  ),
];

const tradeRow = (t: TradeRecord, entry: string, exit: string): Row => ({
  id: t.id,
  run_id: t.runId,
  symbol: t.symbol,
  quote: t.quote,
  side: t.side,
  entry_time: entry,
  entry_time_ms: t.entryTime,
  entry_price: t.entryPrice,
  exit_time: exit,
  exit_time_ms: t.exitTime,
  exit_price: t.exitPrice,
  quantity: t.quantity,
  pnl: t.pnl,
  return_pct: t.returnPct,
  fees: t.fees,
  exit_reason: t.exitReason,
  bars: t.bars,
  exits: t.exits,
  entries: t.entries ?? null,
});
// By quote currency (EUR before USDT), then by exit time.
const TRADES: Row[] = [
  tradeRow(tradeP6, '2024-01-01T01:00:00.000Z', '2024-01-01T03:00:00.000Z'),
  tradeRow(tradeP4, '2024-01-01T02:00:00.000Z', '2024-01-01T05:00:00.000Z'),
];

const fill = (
  seq: number,
  t: TradeRecord,
  kind: string,
  time: string,
  ms: number,
  price: number,
  quantity: number,
  fee: number,
  pnl: number,
  reason: string,
) => ({
  seq,
  position_id: t.id,
  run_id: t.runId,
  symbol: t.symbol,
  quote: t.quote,
  kind,
  side: t.side,
  time,
  time_ms: ms,
  price,
  quantity,
  fee,
  pnl,
  reason,
});
// The store writes each trade's entry, then its exits: P4 is seq 1-3, P6 seq 4-5. An entry's fee
// is the trade's fees less the sum of its exits' (P4: 0.4 - (0.1 + 0.1); P6: 0.15 - 0.05).
const FILLS: Row[] = [
  fill(4, tradeP6, 'entry', '2024-01-01T01:00:00.000Z', T0 + H, 100, 1, 0.15 - 0.05, 0, 'entry'),
  fill(5, tradeP6, 'exit', '2024-01-01T03:00:00.000Z', T0 + 3 * H, 90, 1, 0.05, 9.9, 'stop'),
  fill(1, tradeP4, 'entry', '2024-01-01T02:00:00.000Z', T0 + 2 * H, 100, 2, 0.4 - (0.1 + 0.1), 0, 'entry'),
  fill(2, tradeP4, 'exit', '2024-01-01T04:00:00.000Z', T0 + 4 * H, 105, 1, 0.1, 4.9, 'take-profit'),
  fill(3, tradeP4, 'exit', '2024-01-01T05:00:00.000Z', T0 + 5 * H, 110, 1, 0.1, 9.9, 'signal'),
];

const EQUITY: Row[] = [
  { quote: 'EUR', time: '2024-01-01T00:00:00.000Z', time_ms: T0, equity: 500 },
  { quote: 'USDT', time: '2024-01-01T00:00:00.000Z', time_ms: T0, equity: 1000 },
  { quote: 'USDT', time: '2024-01-01T01:00:00.000Z', time_ms: T0 + H, equity: 1010.5 },
];

const SNAPSHOTS: Row[] = [
  {
    seq: 1,
    at: '2024-01-01T00:00:00.000Z',
    at_ms: T0,
    symbol: 'BTC/USDT',
    timeframe: '1h',
    bid: 100,
    bid_size: 2,
    ask: 100.5,
    ask_size: 3,
    correlation_btc: 1,
    candles: [[T0 - H, 1, 2, 0.5, 1.5, 10]],
    rsi: 60,
    atr: 1.5,
    adx: null,
  },
  {
    seq: 2,
    at: '2024-01-01T01:00:00.000Z',
    at_ms: T0 + H,
    symbol: 'ETH/USDT',
    timeframe: '1h',
    bid: null,
    bid_size: null,
    ask: null,
    ask_size: null,
    correlation_btc: 0.8,
    candles: [],
    rsi: 40,
    atr: null,
    adx: 25,
  },
];

const candle = (source: string, symbol: string, tf: string, time: string, ms: number, ohlcv: number[]) => {
  const [open, high, low, close, volume] = ohlcv;
  return { source, symbol, timeframe: tf, time, time_ms: ms, open, high, low, close, volume };
};
// Series after series (source, symbol, timeframe), each oldest first.
const CANDLES: Row[] = [
  candle('binance', 'BTC/USDT', '1h', '2024-01-01T00:00:00.000Z', T0, [10, 12, 9, 11, 3]),
  candle('binance', 'BTC/USDT', '1h', '2024-01-01T01:00:00.000Z', T0 + H, [11, 13, 10, 12, 4]),
  candle('binance', 'ETH/USDT', '1h', '2024-01-01T00:00:00.000Z', T0, [20, 21, 19, 20.5, 7]),
  candle('replay', 'BTC/USDT', '1m', '2024-01-01T00:00:00.000Z', T0, [1, 1, 1, 1, 1]),
];

// --- reading the files back ---

/** RFC 4180: fields separated by commas, quoted when they hold a comma, quote or line break. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  expect(field, 'the file ends with a line break').toBe('');
  return rows;
}

/** A CSV cell as the expected value reads in CSV: numbers as JS prints them, JSON as text, null empty. */
const csvCell = (v: unknown) =>
  v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v as string | number);

async function readParquet(path: string): Promise<{ rows: Row[]; count: bigint; groups: number }> {
  const buf = readFileSync(path);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const meta = parquetMetadata(file);
  const rows = (await parquetReadObjects({ file })) as Row[];
  // Parquet's own types back to the JSON ones: a UTC timestamp as ISO text, a 64-bit int as a number.
  const plain = rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [
        k,
        v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : v,
      ]),
    ),
  );
  return { rows: plain, count: meta.num_rows, groups: meta.row_groups.length };
}

async function exportTo(
  reader: JournalReader,
  query: Omit<ExportQuery, 'instance' | 'book'> & { instance?: string; book?: string },
  format: ExportFormat,
  pageSize = 2,
): Promise<{ path: string; rows: number; columns: string[] }> {
  const path = join(tmp(), `out.${format}`);
  const result = await exportJournal(
    reader.db,
    { instance: 'main', book: 'paper', ...query },
    format,
    createWriteStream(path),
    { pageSize },
  );
  return { path, ...result };
}

/** Export in `format` and check it against `expected`, column names and order included. */
async function expectExport(
  reader: JournalReader,
  query: Parameters<typeof exportTo>[1],
  format: ExportFormat,
  expected: Row[],
  pageSize = 2,
): Promise<void> {
  const { path, rows } = await exportTo(reader, query, format, pageSize);
  expect(rows).toBe(expected.length);
  const names = Object.keys(expected[0]!);
  if (format === 'csv') {
    const [header, ...body] = parseCsv(readFileSync(path, 'utf8'));
    expect(header).toEqual(names);
    expect(body).toEqual(expected.map((r) => names.map((n) => csvCell(r[n]))));
  } else if (format === 'jsonl') {
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((l) => JSON.parse(l) as Row);
    for (const p of parsed) expect(Object.keys(p)).toEqual(names);
    expect(parsed).toEqual(expected);
  } else {
    const pq = await readParquet(path);
    expect(pq.count).toBe(BigInt(expected.length));
    for (const p of pq.rows) expect(Object.keys(p)).toEqual(names);
    expect(pq.rows).toEqual(expected);
  }
}

// --- the two databases ---

interface Backend {
  name: string;
  open(): Promise<JournalReader>;
}

let server: PostgresServer | undefined;
const backends: Backend[] = [];
const readers: JournalReader[] = [];

beforeAll(async () => {
  const sqliteDir = tmp();
  await fillJournal(sqliteDir);
  server = await startPostgres({ durable: false });
  const url = await server.createDatabase('export_test');
  await fillJournal(tmp(), url);
  backends.push(
    { name: 'sqlite', open: () => openJournalReader({ dataDir: sqliteDir }) },
    { name: 'postgres', open: () => openJournalReader({ dataDir: tmp(), url }) },
  );
}, 120_000);

afterAll(async () => {
  for (const r of readers) await r.close().catch(() => undefined);
  await server?.stop();
});

async function reader(name: string): Promise<JournalReader> {
  const r = await backends.find((b) => b.name === name)!.open();
  readers.push(r);
  return r;
}

const KIND_EXPECTED: Array<[ExportQuery['kind'], () => Row[]]> = [
  ['decisions', () => DECISIONS],
  ['signals', () => SIGNALS],
  ['trades', () => TRADES],
  ['fills', () => FILLS],
  ['equity', () => EQUITY],
  ['snapshots', () => SNAPSHOTS],
  ['candles', () => CANDLES],
];

describe.each(['sqlite', 'postgres'])('exporting a journal on %s', (db) => {
  describe.each(EXPORT_FORMATS)('as %s', (format) => {
    it.each(KIND_EXPECTED)(
      'writes every %s of the book, in order, one column per field',
      async (kind, rows) => {
        await expectExport(await reader(db), { kind }, format, rows());
      },
    );
  });

  it('gives decisions one column per indicator met in the range, and only those', async () => {
    const r = await reader(db);
    // [01:00, 02:00): the two decisions at 01:00; rsi and kind appear only at 02:00.
    const inRange = DECISIONS.slice(1, 3).map(({ rsi: _r, indicator_kind: _k, ...rest }) => rest);
    for (const format of EXPORT_FORMATS)
      await expectExport(r, { kind: 'decisions', from: T0 + H, to: T0 + 2 * H }, format, inRange);
    // Run R2: the skip (no indicators) then the hold (rsi, kind); no ema columns.
    const r2 = [DECISIONS[2]!, DECISIONS[3]!].map(({ ema12: _a, ema26: _b, ...rest }) => rest);
    await expectExport(r, { kind: 'decisions', runId: 'R2' }, 'jsonl', r2);
  });

  it('keeps books and instances apart', async () => {
    const r = await reader(db);
    // Decision seqs number the whole table: paper wrote 1-4, so the live one is 5.
    await expectExport(r, { kind: 'decisions', book: 'live' }, 'jsonl', [
      { ...decision(5, '2024-01-01T00:00:00.000Z', T0, 'R9', 'hold', 'live one', null), atr: 3 },
    ]);
    const other = await exportTo(r, { kind: 'decisions', instance: 'other' }, 'jsonl');
    expect(JSON.parse(readFileSync(other.path, 'utf8'))).toMatchObject({ detail: 'other one', obv: 1 });
    expect(other.rows).toBe(1);
    const none = await exportTo(r, { kind: 'decisions', instance: 'nobody' }, 'csv');
    expect(none.rows).toBe(0);
    expect(readFileSync(none.path, 'utf8')).toBe('seq,time,time_ms,run_id,kind,detail,signal_id\n');
  });

  it('filters by time, run, symbol and timeframe', async () => {
    const r = await reader(db);
    // Trades by exit time: P6 exits at 03:00, P4 at 05:00; --to is exclusive.
    await expectExport(r, { kind: 'trades', from: T0 + 3 * H, to: T0 + 5 * H }, 'jsonl', [TRADES[0]!]);
    await expectExport(r, { kind: 'fills', runId: 'R1' }, 'jsonl', FILLS.slice(2));
    // S3 alone: its indicators, not S5's rsi.
    await expectExport(r, { kind: 'signals', symbol: 'BTC/USDT' }, 'jsonl', [
      (({ rsi: _r, ...rest }) => rest)(SIGNALS[1]!),
    ]);
    await expectExport(
      r,
      { kind: 'candles', symbol: 'BTC/USDT', timeframe: '1h' },
      'jsonl',
      CANDLES.slice(0, 2),
    );
    await expectExport(r, { kind: 'candles', from: T0 + H }, 'jsonl', [CANDLES[1]!]);
    await expectExport(r, { kind: 'snapshots', symbol: 'ETH/USDT' }, 'jsonl', [
      (({ atr: _a, ...rest }) => rest)(SNAPSHOTS[1]!),
    ]);
  });

  it('writes the same file whatever the page size', async () => {
    const r = await reader(db);
    for (const format of ['csv', 'jsonl'] as const) {
      const small = await exportTo(r, { kind: 'decisions' }, format, 1);
      const large = await exportTo(r, { kind: 'decisions' }, format, 5_000);
      expect(readFileSync(small.path, 'utf8')).toBe(readFileSync(large.path, 'utf8'));
    }
  });

  it('writes an empty range as a header, no lines, or a Parquet file of no rows', async () => {
    const r = await reader(db);
    const empty = { kind: 'trades' as const, from: T0 + 100 * H };
    const csv = await exportTo(r, empty, 'csv');
    expect(readFileSync(csv.path, 'utf8').split('\n')).toEqual([csv.columns.join(','), '']);
    expect(readFileSync((await exportTo(r, empty, 'jsonl')).path, 'utf8')).toBe('');
    const pq = await readParquet((await exportTo(r, empty, 'parquet')).path);
    expect(pq.count).toBe(0n);
    expect(pq.rows).toEqual([]);
  });
});

describe('signal columns', () => {
  it('cover every field of a signal record (times twice, indicators spread)', async () => {
    const r = await reader('sqlite');
    const { columns } = await exportTo(r, { kind: 'signals' }, 'csv');
    const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    for (const field of Object.keys(SignalRecord.shape)) {
      if (field === 'indicators') continue;
      expect(columns, field).toContain(snake(field));
    }
  });
});
