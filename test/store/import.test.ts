/**
 * Upgrading from v0.1: a state file made by the previous version of bosun (test/fixtures/v0.1: 3
 * runs, 131 trades, 499 decisions, 6048 equity points, 370 signals, regime history) is imported into
 * the journal on the first start, in one transaction, and kept beside as `bosun.json.v0.1.bak`.
 * Everything is compared with the JSON file itself, on SQLite and on PostgreSQL.
 */
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import type { DecisionRecord, TradeRecord } from '../../src/store/state.js';
import { StateStore } from '../../src/store/state.js';
import { ROOT } from '../helpers/fixtures.js';
import {
  BACKENDS,
  button,
  JOURNAL_TABLES,
  oneLine,
  order,
  type Place,
  position,
  type Row,
  run,
  signal,
  trade,
  useBackend,
} from '../fixtures/store/backends.js';
import { canMount, resize, smallDisk, unmountAll } from '../fixtures/store/disk.js';

afterEach(unmountAll);

const FIXTURE = join(ROOT, 'test/fixtures/v0.1/bosun.json.gz');
const V01_TEXT = gunzipSync(readFileSync(FIXTURE)).toString('utf8');

/** The v0.1 file as JSON, loosely typed: what the import is compared with. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const v01 = (): Json => JSON.parse(V01_TEXT);

const num = (v: unknown) => Number(v);
const byId = (rows: Row[]) => Object.fromEntries(rows.map((r) => [String(r.id), JSON.parse(String(r.data))]));

/** Current working records of one table, by id. */
async function current(place: Place, table: string, book: 'paper' | 'live' = 'paper') {
  return byId((await place.rows(table, 'id', book)).filter((r) => num(r.current) === 1));
}

async function documents(place: Place, book: 'paper' | 'live' = 'paper'): Promise<Record<string, unknown>> {
  const rows = await place.query('select key, data from documents where book = ? and instance = ?', [
    book,
    'main',
  ]);
  return Object.fromEntries(rows.map((r) => [String(r.key), JSON.parse(String(r.data))]));
}

/** The risk manager's memory of closed trades, worked out from the file's trades. */
function recentFrom(trades: TradeRecord[]) {
  const lastLoss: Record<string, number> = {};
  const closedPnls: Record<string, number[]> = {};
  for (const t of trades) {
    if (t.pnl < 0) lastLoss[t.symbol] = Math.max(lastLoss[t.symbol] ?? 0, t.exitTime);
    (closedPnls[t.quote] ??= []).push(t.pnl);
  }
  for (const q of Object.keys(closedPnls)) closedPnls[q] = closedPnls[q]!.slice(-200);
  return { lastLoss, closedPnls };
}

function decisionOf(r: Row): DecisionRecord {
  return {
    time: num(r.time),
    runId: String(r.run_id),
    kind: String(r.kind),
    detail: String(r.detail),
    ...(r.signal_id === null ? {} : { signalId: String(r.signal_id) }),
    indicators: JSON.parse(String(r.indicators)),
  };
}

/** How many rows every journal table holds (all books, all instances). */
async function counts(place: Place): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of JOURNAL_TABLES) out[t] = num((await place.query(`select count(*) as n from ${t}`))[0]!.n);
  return out;
}
const NOTHING = Object.fromEntries(JOURNAL_TABLES.map((t) => [t, 0]));

/** Everything of a v0.1 file `file` is in the journal of `book`. */
async function expectImported(place: Place, file: Json, book: 'paper' | 'live' = 'paper') {
  for (const c of ['runs', 'signals', 'positions', 'orders', 'buttons', 'subscriptions'] as const)
    expect(await current(place, c, book), c).toEqual(file[c] ?? {});
  const docs = await documents(place, book);
  expect(docs.engine).toEqual({ ...file.engine, recent: recentFrom(file.trades) });
  expect(docs.balances).toEqual(file.balances);
  expect(docs.settings).toEqual(file.settings);
  expect(docs.regime).toEqual(file.regime ?? null);
  expect(docs.live).toEqual(file.live);
  const history = await place.rows('regime_changes', 'seq', book);
  expect(
    history.map((r) => ({
      at: num(r.at),
      from: r.from_state,
      to: r.to_state,
      confidence: r.confidence,
      why: r.why,
    })),
  ).toEqual(file.regime?.history ?? []);

  const trades = await place.rows('trades', 'exit_time, id', book);
  const tradeOf = (r: Row): TradeRecord => ({
    id: String(r.id),
    runId: String(r.run_id),
    symbol: String(r.symbol),
    quote: String(r.quote),
    side: r.side as TradeRecord['side'],
    entryTime: num(r.entry_time),
    entryPrice: num(r.entry_price),
    exitTime: num(r.exit_time),
    exitPrice: num(r.exit_price),
    quantity: num(r.quantity),
    pnl: num(r.pnl),
    returnPct: num(r.return_pct),
    fees: num(r.fees),
    exitReason: String(r.exit_reason),
    bars: num(r.bars),
    exits: JSON.parse(String(r.exits)),
  });
  const sortTrades = (ts: TradeRecord[]) =>
    [...ts].sort((a, b) => a.exitTime - b.exitTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  expect(trades.map(tradeOf)).toEqual(sortTrades(file.trades));
  expect((await place.rows('decisions', 'seq', book)).map(decisionOf)).toEqual(file.decisions);
  const equity = await place.rows('equity', 'quote, time', book);
  const sortEquity = (es: Json[]) =>
    [...es].sort((a, b) => (a.quote < b.quote ? -1 : a.quote > b.quote ? 1 : a.time - b.time));
  expect(equity.map((e) => ({ time: num(e.time), quote: e.quote, equity: e.equity }))).toEqual(
    sortEquity(file.equity),
  );

  // Fills: each trade's and each open position's entry, and every exit, once.
  const fills = await place.rows('fills', 'seq', book);
  const positions = Object.values(file.positions ?? {}) as Json[];
  const exits = [...file.trades, ...positions].reduce((n: number, x: Json) => n + x.exits.length, 0);
  expect(fills.filter((f) => f.kind === 'entry')).toHaveLength(file.trades.length + positions.length);
  expect(fills.filter((f) => f.kind === 'exit')).toHaveLength(exits);
  const realized = [...file.trades, ...positions]
    .flatMap((x: Json) => x.exits)
    .reduce((s: number, e: Json) => s + e.pnl, 0);
  const fillPnl = fills.reduce((s, f) => s + num(f.pnl), 0);
  expect(fillPnl).toBeCloseTo(realized, 6);
}

describe.each(BACKENDS)('a v0.1 state file, on %s', (backend) => {
  const { fresh } = useBackend(backend);

  async function withFile(text = V01_TEXT, name = 'bosun.json'): Promise<Place> {
    const place = await fresh();
    writeFileSync(join(place.dir, name), text);
    return place;
  }

  it('is imported whole on the first start, kept as bosun.json.v0.1.bak, and its install kept', async () => {
    const file = v01();
    // The counts the fixture is described with.
    expect([
      Object.keys(file.runs).length,
      file.trades.length,
      file.decisions.length,
      file.equity.length,
    ]).toEqual([3, 131, 499, 6048]);
    expect(Object.keys(file.signals)).toHaveLength(370);
    const place = await withFile();
    const store = await place.open('paper', 'main', 1_700_000_000_000);
    await expectImported(place, file);
    // The working set in memory is the file's.
    for (const c of ['runs', 'signals', 'positions', 'orders', 'buttons', 'subscriptions'] as const)
      expect(store.data[c]).toEqual(file[c]);
    expect(store.data.balances).toEqual(file.balances);
    expect(store.data.engine.nextId).toBe(file.engine.nextId);
    expect(store.data.regime).toEqual(file.regime);
    // The install: same id and secret, so buttons sent before the upgrade still work.
    expect(store.data.install).toEqual(file.install);
    expect(JSON.parse(readFileSync(join(place.dir, 'install.json'), 'utf8'))).toEqual(file.install);
    // The file is kept, as it was, beside the journal.
    expect(existsSync(join(place.dir, 'bosun.json'))).toBe(false);
    expect(readFileSync(join(place.dir, 'bosun.json.v0.1.bak'), 'utf8')).toBe(V01_TEXT);
    const [imported] = await place.query('select * from imports');
    expect([imported!.file, num(imported!.at), imported!.backup]).toEqual([
      'bosun.json',
      1_700_000_000_000,
      join(place.dir, 'bosun.json.v0.1.bak'),
    ]);
    // Reports read it.
    expect(await store.journal.tradeCounts()).toMatchObject({ trades: 131 });
    expect(await store.journal.count('decisions')).toBe(499);
    expect(await store.journal.count('equity')).toBe(6048);
  });

  it('is not imported again by the next start', async () => {
    const place = await withFile();
    await (await place.open()).close();
    const before = await place.dump();
    await (await place.open()).close();
    expect(await place.dump()).toBe(before);
  });

  it('is not imported twice when the start that imported it died before moving it aside', async () => {
    const place = await withFile();
    await (await place.open()).close();
    const before = await place.dump();
    // The rename never happened: the file is back where it was.
    copyFileSync(join(place.dir, 'bosun.json.v0.1.bak'), join(place.dir, 'bosun.json'));
    const store = await place.open();
    expect(await place.dump()).toBe(before);
    expect(await counts(place)).toMatchObject({ trades: 131, decisions: 499, equity: 6048, imports: 1 });
    expect(existsSync(join(place.dir, 'bosun.json'))).toBe(false);
    expect(readFileSync(join(place.dir, 'bosun.json.v0.1.bak'), 'utf8')).toBe(V01_TEXT);
    expect(Object.keys(store.data.signals)).toHaveLength(370);
  });

  it('is refused, and left alone, beside a journal that already holds this book', async () => {
    const place = await fresh();
    const store = await place.open();
    await store.update((s) => {
      s.balances.USDT = 5;
    });
    await store.close();
    writeFileSync(join(place.dir, 'bosun.json'), V01_TEXT);
    const before = await place.dump();
    await expect(place.open()).rejects.toThrow(
      /bosun\.json is a v0\.1 state file, but the journal at .* already holds this book's state; bosun will not mix them: move the file away/,
    );
    expect(await place.dump()).toBe(before);
    expect(readFileSync(join(place.dir, 'bosun.json'), 'utf8')).toBe(V01_TEXT);
  });

  it('is imported in one transaction: a row refused late in it leaves nothing written, and the file in place', async () => {
    const place = await fresh();
    await (await openDatabase({ dataDir: place.dir, url: place.url })).close();
    const file = v01();
    // The database refuses the file's last equity point: by then the working records, documents,
    // decisions and trades of the import have been written in its transaction.
    const last = file.equity.at(-1).time;
    await place.query(
      backend === 'sqlite'
        ? `create trigger refuse before insert on equity when new.time = ${last}
           begin select raise(abort, 'equity point refused by the test'); end`
        : `create function refuse() returns trigger language plpgsql as $$
           begin if new.time = ${last} then raise exception 'equity point refused by the test'; end if;
           return new; end $$;
           create trigger refuse before insert on equity for each row execute function refuse()`,
    );
    writeFileSync(join(place.dir, 'bosun.json'), V01_TEXT);
    const line = await oneLine(place.open());
    expect(line).toContain('equity point refused by the test');
    expect(line).toContain(
      backend === 'sqlite' ? `cannot import ${join(place.dir, 'bosun.json')} into the journal` : place.url,
    );
    expect(await counts(place)).toEqual(NOTHING);
    expect(readFileSync(join(place.dir, 'bosun.json'), 'utf8')).toBe(V01_TEXT);
    expect(existsSync(join(place.dir, 'bosun.json.v0.1.bak'))).toBe(false);
    // Once the database takes it, the next start imports it whole.
    await place.query(backend === 'sqlite' ? 'drop trigger refuse' : 'drop trigger refuse on equity');
    await place.open();
    await expectImported(place, file);
  });

  it.each([
    ['an empty file', '', /is empty/],
    ['a file cut short', V01_TEXT.slice(0, 5_000), /is not valid JSON \(/],
    [
      'a file of another version',
      V01_TEXT.replace('"version": 1', '"version": 2').replace('"version":1', '"version":2'),
      /is not a bosun state \(version: /,
    ],
    [
      'a file with a damaged trade near its end',
      (() => {
        const f = v01();
        f.trades[130].pnl = 'lots';
        return JSON.stringify(f);
      })(),
      /is not a bosun state \(trades\.130\.pnl: /,
    ],
  ])('stops start-up with one line when it is %s, and is left untouched', async (_what, text, why) => {
    const place = await withFile(text);
    const line = await oneLine(place.open(), 'BAD_DATA');
    expect(line).toMatch(why);
    expect(line).toMatch(
      new RegExp(
        `^state file ${join(place.dir, 'bosun.json')} .*; bosun will not start on it and will not overwrite it: restore it from a backup, or move it away to start afresh$`,
      ),
    );
    expect(readFileSync(join(place.dir, 'bosun.json'), 'utf8')).toBe(text);
    // Nothing was made beside it: no journal, no install file, no backup.
    expect(readdirSync(place.dir)).toEqual(['bosun.json']);
  });

  it('with open positions, buttons, subscriptions and scanner snapshots: all of them too', async () => {
    const file = v01();
    const e1 = {
      time: 1_679_443_200_000,
      price: 28_500,
      quantity: 0.1,
      fee: 2.85,
      pnl: 47.15,
      reason: 'take-profit',
    };
    file.positions = {
      P600: position('P600', 'R1', {
        entryPrice: 28_000,
        initialQty: 0.2,
        qty: 0.1,
        entryFee: 5.6,
        exits: [e1 as never],
      }),
      P601: position('P601', 'R2', { side: -1, stop: null, trailStop: 'inf' }),
    };
    file.buttons = { k1: button(), k2: button({ usedAt: 5, usedBy: 'telegram:1' }) };
    file.subscriptions = {
      'telegram:1': { since: 1, muted: [] },
      'discord:2': { since: 2, muted: ['trades'] },
    };
    const snapshots = [
      {
        at: 1,
        symbol: 'BTC/USDT',
        timeframe: '1h',
        candles: [[0, 1, 2, 0.5, 1.5, 10]],
        indicators: { rsi: 50 },
        orderBook: { bid: 1, bidSize: 2, ask: 3, askSize: 4 },
        correlationBtc: 1,
      },
      {
        at: 2,
        symbol: 'ETH/USDT',
        timeframe: '1h',
        candles: [],
        indicators: {},
        orderBook: null,
        correlationBtc: null,
      },
    ];
    const place = await withFile(JSON.stringify(file));
    writeFileSync(join(place.dir, 'snapshots.json'), JSON.stringify(snapshots));
    const store = await place.open();
    await expectImported(place, file);
    expect(await store.journal.snapshots(10)).toEqual(snapshots);
    expect(existsSync(join(place.dir, 'snapshots.json.v0.1.bak'))).toBe(true);
    expect(existsSync(join(place.dir, 'snapshots.json'))).toBe(false);
    // P600's entry and first exit came with the import; its close adds only the rest.
    const fillsOf = async (id: string) =>
      (await place.rows('fills', 'seq')).filter((f) => f.position_id === id).map((f) => [f.kind, f.quantity]);
    expect(await fillsOf('P600')).toEqual([
      ['entry', 0.2],
      ['exit', 0.1],
    ]);
    await store.update((s) => {
      s.positions.P600!.mark = 28_600;
    });
    const e2 = {
      time: 1_679_446_800_000,
      price: 28_700,
      quantity: 0.1,
      fee: 2.87,
      pnl: 67.13,
      reason: 'signal' as const,
    };
    await store.update((s) => {
      delete s.positions.P600;
      s.log.trades.push(
        trade('P600', 'R1', [e1 as never, e2], { time: 10_800_000, price: 28_000, fee: 5.6 }),
      );
    });
    expect(await fillsOf('P600')).toEqual([
      ['entry', 0.2],
      ['exit', 0.1],
      ['exit', 0.1],
    ]);
  });

  it('of the live book (bosun-live.json, with orders) goes to the live book, apart from the paper one', async () => {
    const place = await withFile();
    const e1 = { time: 30, price: 103, quantity: 1, fee: 0.103, pnl: 2.697, reason: 'take-profit' as const };
    const live = {
      version: 1,
      install: { id: 'live0install', secret: 'L'.repeat(43), createdAt: 3 },
      buttons: {},
      engine: { nextId: 12, peak: { USDT: 1_050 }, replay: { file: 'x.csv', cursor: 99 } },
      runs: { R7: run('R7', { approve: 'manual' }) },
      signals: {
        S7: signal('S7', 'R7', { status: 'ordered' }),
        S8: signal('S8', 'R7', { status: 'filled' }),
      },
      positions: { P8: position('P8', 'R7', { stopOrder: 'bosun-P8-stop', exits: [e1], qty: 1 }) },
      trades: [
        trade('P5', 'R7', [{ time: 20, price: 99, quantity: 2, fee: 0.198, pnl: -2.398, reason: 'stop' }], {
          time: 10,
          price: 100,
          fee: 0.2,
        }),
      ],
      balances: {},
      equity: [
        { time: 10, quote: 'USDT', equity: 1_000 },
        { time: 20, quote: 'USDT', equity: 997.602 },
      ],
      subscriptions: {},
      settings: { risk: { maxOpen: 2 }, pairlist: {} },
      decisions: [
        {
          time: 10,
          runId: 'R7',
          kind: 'entry-signal',
          detail: 'long approved',
          signalId: 'S7',
          indicators: { ema: 1 },
        },
      ],
      orders: {
        'bosun-S7': order('bosun-S7', {
          runId: 'R7',
          positionId: 'P9',
          signalId: 'S7',
          status: 'unknown',
          sentAt: 40,
        }),
        'bosun-P8-stop': order('bosun-P8-stop', {
          runId: 'R7',
          positionId: 'P8',
          purpose: 'stop',
          type: 'stop',
          side: 'sell',
          stopPrice: 97,
          amount: 1,
          exchangeId: '123',
        }),
      },
      live: {
        confirmedBy: 'telegram:1',
        confirmedAt: 5,
        lastSync: 6,
        initial: { USDT: 1_000 },
        reported: ['x'],
      },
    };
    writeFileSync(join(place.dir, 'bosun-live.json'), JSON.stringify(live));
    const paper = await place.open('paper');
    const book = await place.open('live');
    await expectImported(place, live, 'live');
    await expectImported(place, v01(), 'paper');
    expect(book.data.orders).toEqual(live.orders);
    expect(book.data.live).toEqual(live.live);
    expect(Object.keys(paper.data.orders)).toEqual([]);
    // One install for both books: the paper file's, which signed the buttons.
    expect(book.data.install).toEqual(v01().install);
    expect(
      readdirSync(place.dir)
        .filter((f) => f.endsWith('.bak'))
        .sort(),
    ).toEqual(['bosun-live.json.v0.1.bak', 'bosun.json.v0.1.bak']);
  });
});

describe.skipIf(!canMount)('a v0.1 state file on a disk too small for it (SQLite)', () => {
  it('is not half-imported: the journal stays empty, the file in place, and it imports once there is room', async () => {
    const dir = smallDisk(1_536);
    writeFileSync(join(dir, 'bosun.json'), V01_TEXT);
    const line = await oneLine(StateStore.open(dir));
    expect(line).toBe(
      `cannot import ${join(dir, 'bosun.json')} into the journal ${join(dir, 'bosun.db')}: the disk is full; free some space on it`,
    );
    expect(readFileSync(join(dir, 'bosun.json'), 'utf8')).toBe(V01_TEXT);
    expect(existsSync(join(dir, 'bosun.json.v0.1.bak'))).toBe(false);
    // Read on a copy, so that nothing is written to the full disk by the reading.
    const copy = `${dir}-copy`;
    cpSync(dir, copy, { recursive: true });
    const place = { query: queryOn(copy) } as Place;
    expect(await counts(place)).toEqual(NOTHING);
    resize(dir, 64 * 1024);
    const store = await StateStore.open(dir);
    expect(await store.journal.count('decisions')).toBe(499);
    expect(await store.journal.count('equity')).toBe(6048);
    await store.close();
  });
});

function queryOn(dir: string) {
  return async (text: string) => {
    const { default: Sqlite } = await import('better-sqlite3');
    const db = new Sqlite(join(dir, 'bosun.db'));
    try {
      return db.prepare(text).all() as Row[];
    } finally {
      db.close();
    }
  };
}
