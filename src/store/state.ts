/**
 * bosun's state store: one JSON document in `DATA_DIR/bosun.json`, kept with lowdb.
 *
 * lowdb's own file adapter renames a temporary file but never flushes it to disk, so a power cut can
 * leave an empty file; {@link DurableJsonFile} writes through {@link writeFileAtomic} (fsync of the
 * file and its directory) instead. Every change is written before the caller goes on to announce it.
 * A state file that is empty, not JSON, or not a bosun state stops start-up with a clear message and
 * is never overwritten.
 *
 * Opening checks that DATA_DIR can be written (a read-only mount, a directory where the file should
 * be: one line naming the path and what to do) and removes temporary files that writers killed
 * mid-write left there. A change whose write fails is undone in memory, so what bosun holds is what
 * it saved; the caller gets the one line and announces nothing.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { ensureDir, removeStaleTemps, storageError, type WriteOptions, writeFileAtomic } from './atomic.js';

/** The way out bosun offers when its data directory cannot be written. */
const DATA_DIR_WAY_OUT: WriteOptions = { elsewhere: 'set DATA_DIR to a writable directory' };

const ButtonRecord = z.object({
  command: z.string(),
  args: z.array(z.string()),
  /** `platform:chatId` the button was sent to; a press from another chat is refused. */
  chat: z.string(),
  once: z.boolean(),
  createdAt: z.number(),
  expiresAt: z.number(),
  usedAt: z.number().optional(),
  usedBy: z.string().optional(),
});
export type ButtonRecord = z.infer<typeof ButtonRecord>;

/** NaN and the infinities do not survive JSON; these numbers carry them as null / strings. */
const Num = z.union([z.number(), z.null(), z.literal('inf')]);

const ExitFillRecord = z.object({
  time: z.number(),
  price: z.number(),
  quantity: z.number(),
  fee: z.number(),
  pnl: z.number(),
  reason: z.enum(['signal', 'stop', 'trailing-stop', 'take-profit', 'time', 'end', 'manual']),
});

const RunRecord = z.object({
  id: z.string(),
  strategy: z.string(),
  symbol: z.string(),
  timeframe: z.string(),
  params: z.record(z.string(), z.unknown()),
  approve: z.enum(['auto', 'manual']),
  state: z.enum(['active', 'paused', 'stopped']),
  /** Why the run is paused or stopped. */
  reason: z.string().optional(),
  createdAt: z.number(),
  createdBy: z.string(),
  /** Open time of the last candle this run processed (engine clock). */
  lastBar: z.number().optional(),
  lastSignal: z.object({ id: z.string(), time: z.number(), side: z.string(), status: z.string() }).optional(),
  /** Orders decided at the last close, filled at the next candle's open. */
  pendingExit: z.string().optional(),
  pendingEntry: z.object({ signalId: z.string(), size: z.number() }).optional(),
  realizedPnl: z.number(),
  trades: z.number(),
});
export type RunRecord = z.infer<typeof RunRecord>;

const SignalRecord = z.object({
  id: z.string(),
  runId: z.string(),
  symbol: z.string(),
  timeframe: z.string(),
  strategy: z.string(),
  side: z.enum(['long', 'short']),
  /** Open time of the bar whose close made the signal. */
  barTime: z.number(),
  createdAt: z.number(),
  price: z.number(),
  /** Absolute stop and target the strategy gave (null: none; the exit rules apply). */
  signalStop: z.number().nullable(),
  signalTarget: z.number().nullable(),
  /** Estimated stop and targets at the signal's price. */
  stop: z.number().nullable(),
  targets: z.array(z.number()),
  quantity: z.number(),
  risk: z.number(),
  rewardRisk: z.number().nullable(),
  /** `ordered`: sent to the exchange (live), waiting for the fill. */
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'refused', 'ordered', 'filled', 'skipped']),
  reason: z.string().optional(),
  /** Share of the proposed size taken (0.5 for "half size"). */
  size: z.number().optional(),
  decidedBy: z.string().optional(),
  decidedAt: z.number().optional(),
  /** Wall-clock expiry of a pending approval. */
  expiresAt: z.number().optional(),
  /** Where the signal was announced: `platform:chatId` and the message id, for later edits. */
  messages: z.array(z.object({ chat: z.string(), ref: z.string() })),
  indicators: z.record(z.string(), z.number().nullable()),
  /** The strategy's own words on why it signalled (for ict-confluence: which conditions held). */
  note: z.string().optional(),
  /** The regime the signal was sized in, e.g. "RISK_ON x0.8". */
  regime: z.string().optional(),
});
export type SignalRecord = z.infer<typeof SignalRecord>;

/** Set a signal's status, and its run's note of its last signal when this is that signal. */
export function markSignal(s: State, sig: SignalRecord, status: SignalRecord['status']): void {
  sig.status = status;
  const run = s.runs[sig.runId];
  if (run?.lastSignal?.id === sig.id) run.lastSignal.status = status;
}

const PositionRecord = z.object({
  id: z.string(),
  runId: z.string(),
  signalId: z.string(),
  symbol: z.string(),
  quote: z.string(),
  side: z.union([z.literal(1), z.literal(-1)]),
  entryIndex: z.number(),
  entryTime: z.number(),
  entryPrice: z.number(),
  initialQty: z.number(),
  qty: z.number(),
  entryFee: z.number(),
  stop: Num,
  targetPrices: z.array(z.number()),
  targetQty: z.array(Num),
  nextTarget: z.number(),
  trailActivation: Num,
  trailOffset: z.number(),
  best: z.number(),
  trailStop: Num,
  /** Live: the client id of the exchange-side stop order protecting it. */
  stopOrder: z.string().optional(),
  /** Live: an exit order is working (its reason). */
  closing: z.string().optional(),
  barsHeld: z.number(),
  exits: z.array(ExitFillRecord),
  /** Last close seen, for unrealised PnL. */
  mark: z.number(),
});
export type PositionRecord = z.infer<typeof PositionRecord>;

const TradeRecord = z.object({
  id: z.string(),
  runId: z.string(),
  symbol: z.string(),
  quote: z.string(),
  side: z.enum(['long', 'short']),
  entryTime: z.number(),
  entryPrice: z.number(),
  exitTime: z.number(),
  exitPrice: z.number(),
  quantity: z.number(),
  pnl: z.number(),
  returnPct: z.number(),
  fees: z.number(),
  exitReason: z.string(),
  bars: z.number(),
  exits: z.array(ExitFillRecord),
});
export type TradeRecord = z.infer<typeof TradeRecord>;

const DecisionRecord = z.object({
  time: z.number(),
  runId: z.string(),
  kind: z.string(),
  detail: z.string(),
  signalId: z.string().optional(),
  indicators: z.record(z.string(), z.number().nullable()),
});
export type DecisionRecord = z.infer<typeof DecisionRecord>;

const EngineRecord = z.object({
  nextId: z.number(),
  /** Set while the drawdown kill-switch holds: no run may trade until an admin resumes. */
  killSwitch: z.object({ at: z.number(), reason: z.string() }).optional(),
  /** Highest account value seen per quote currency (for drawdown). */
  peak: z.record(z.string(), z.number()),
  /** Account value at the start of the current day per quote currency (daily loss limit). */
  day: z.object({ start: z.number(), equity: z.record(z.string(), z.number()) }).optional(),
  /** Replay position: open time of the last candle delivered. */
  replay: z.object({ file: z.string(), cursor: z.number() }).optional(),
  /** Engine-clock time of the last daily report sent. */
  lastReport: z.number().optional(),
});

/** A live order, recorded before it is sent; its client id (`id`) is what makes a retry safe. */
const OrderRecord = z.object({
  /** The client order id sent to the exchange, derived from the signal or position. */
  id: z.string(),
  exchangeId: z.string().optional(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['market', 'limit', 'stop']),
  amount: z.number(),
  price: z.number().optional(),
  stopPrice: z.number().optional(),
  purpose: z.enum(['entry', 'exit', 'stop']),
  /** Why an exit is made (the position's exit reason). */
  reason: z.string().optional(),
  positionId: z.string(),
  runId: z.string(),
  signalId: z.string().optional(),
  /**
   * `new`: recorded, not known to have reached the exchange; `open`: working there; `unknown`: sent,
   * outcome not learned yet (reconciliation looks it up by client id); the rest are final.
   */
  status: z.enum(['new', 'open', 'unknown', 'filled', 'cancelled', 'rejected']),
  /** Quantity filled and booked into the position so far, its average price and fees (quote). */
  filled: z.number(),
  average: z.number().optional(),
  fee: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** Limit entries: wall-clock time after which the rest is cancelled (then market or nothing). */
  deadline: z.number().optional(),
  /**
   * Wall-clock time of the last request that carried it, written before the request leaves. Absent:
   * never sent. A restart that finds it and no such order on the exchange waits out the resend grace
   * before sending it again, as the request may still be carried out.
   */
  sentAt: z.number().optional(),
  error: z.string().optional(),
  note: z.string().optional(),
});
export type OrderRecord = z.infer<typeof OrderRecord>;

const StateSchema = z.looseObject({
  version: z.literal(1),
  install: z.object({
    id: z.string().min(8),
    /** Signs chat buttons (HMAC); never leaves this file. */
    secret: z.string().min(32),
    createdAt: z.number(),
  }),
  buttons: z.record(z.string(), ButtonRecord),
  engine: EngineRecord.default({ nextId: 1, peak: {} }),
  runs: z.record(z.string(), RunRecord).default({}),
  signals: z.record(z.string(), SignalRecord).default({}),
  positions: z.record(z.string(), PositionRecord).default({}),
  trades: z.array(TradeRecord).default([]),
  /** Paper cash per quote currency. */
  balances: z.record(z.string(), z.number()).default({}),
  /** Account value per quote currency over time (engine clock), one point per closed bar at most. */
  equity: z.array(z.object({ time: z.number(), quote: z.string(), equity: z.number() })).default([]),
  /** Chats that get notifications: `platform:chatId` -> muted categories. */
  subscriptions: z
    .record(z.string(), z.object({ since: z.number(), muted: z.array(z.string()) }))
    .default({}),
  settings: z
    .object({
      risk: z.record(z.string(), z.unknown()).default({}),
      /** Admins' changes to the market filters, by filter name, as typed. */
      pairlist: z.record(z.string(), z.string()).default({}),
    })
    .default({ risk: {}, pairlist: {} }),
  /** The market regime after hysteresis, and its recent changes. */
  regime: z
    .object({
      state: z.enum(['RISK_ON', 'RISK_OFF', 'CHOP', 'DECOUPLED']),
      since: z.number(),
      history: z.array(
        z.object({
          at: z.number(),
          from: z.enum(['RISK_ON', 'RISK_OFF', 'CHOP', 'DECOUPLED']).nullable(),
          to: z.enum(['RISK_ON', 'RISK_OFF', 'CHOP', 'DECOUPLED']),
          confidence: z.number(),
          why: z.string(),
        }),
      ),
    })
    .optional(),
  decisions: z.array(DecisionRecord).default([]),
  /** Live orders by client id (paper trading has none). */
  orders: z.record(z.string(), OrderRecord).default({}),
  /** Live trading: who confirmed it; what reconciliation already reported (said once). */
  live: z
    .object({
      confirmedBy: z.string().optional(),
      confirmedAt: z.number().optional(),
      lastSync: z.number().optional(),
      /** Quote cash at the first sync, per currency: where "since start" counts from. */
      initial: z.record(z.string(), z.number()).default({}),
      reported: z.array(z.string()).default([]),
    })
    .default({ initial: {}, reported: [] }),
});
export type State = z.infer<typeof StateSchema>;

function freshState(now: number): State {
  return {
    version: 1,
    install: {
      id: randomBytes(6).toString('hex'),
      secret: randomBytes(32).toString('base64url'),
      createdAt: now,
    },
    buttons: {},
    engine: { nextId: 1, peak: {} },
    runs: {},
    signals: {},
    positions: {},
    trades: [],
    balances: {},
    equity: [],
    subscriptions: {},
    settings: { risk: {}, pairlist: {} },
    decisions: [],
    orders: {},
    live: { initial: {}, reported: [] },
  };
}

/** A lowdb adapter that reads strictly and writes atomically and durably. */
export class DurableJsonFile implements Adapter<State> {
  /** The text last read or written: the state as it is on disk. */
  private saved: string | undefined;

  constructor(readonly path: string) {}

  async read(): Promise<State | null> {
    if (!existsSync(this.path)) return null;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new AppError(
        'STORAGE',
        `cannot read state file ${this.path} (${code}); give bosun's user access to it, or ${DATA_DIR_WAY_OUT.elsewhere}`,
        { cause: err },
      );
    }
    const stop = (why: string) =>
      new AppError(
        'BAD_DATA',
        `state file ${this.path} ${why}; bosun will not start on it and will not overwrite it: restore it from a backup, or move it away to start afresh`,
      );
    if (text.trim() === '') throw stop('is empty');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw stop(`is not valid JSON (${(err as Error).message})`);
    }
    const parsed = StateSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw stop(`is not a bosun state (${issue.path.join('.') || 'top level'}: ${issue.message})`);
    }
    this.saved = text;
    return parsed.data;
  }

  async write(data: State): Promise<void> {
    const text = `${JSON.stringify(data, null, 1)}\n`;
    ensureDir(dirname(this.path), DATA_DIR_WAY_OUT);
    writeFileAtomic(this.path, text, DATA_DIR_WAY_OUT);
    this.saved = text;
  }

  /** The state as last read or written, as a restart would see it. */
  savedState(): State | undefined {
    return this.saved === undefined ? undefined : StateSchema.parse(JSON.parse(this.saved));
  }
}

export class StateStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Low<State>,
    private readonly file: DurableJsonFile,
    readonly path: string,
  ) {}

  /**
   * Open (or create) the state file in `dataDir`. Throws BAD_DATA for a damaged file, STORAGE when
   * `dataDir` cannot be written or the state path is a directory; removes stale temporary files.
   */
  static async open(dataDir: string, now = Date.now(), file = 'bosun.json'): Promise<StateStore> {
    const path = join(dataDir, file);
    checkWritable(dataDir, path);
    removeStaleTemps(dataDir);
    const adapter = new DurableJsonFile(path);
    const db = new Low<State>(adapter, freshState(now));
    await db.read();
    const store = new StateStore(db, adapter, path);
    if (!existsSync(path)) await db.write();
    return store;
  }

  /** The current state, read-only by convention: change it through {@link update}. */
  get data(): Readonly<State> {
    return this.db.data;
  }

  /**
   * Change the state and write it durably; resolves after the write, so the change can then be
   * announced. Updates run one at a time, in call order.
   */
  update<T>(change: (state: State) => T): Promise<T> {
    const run = this.queue.then(async () => {
      const result = change(this.db.data);
      try {
        await this.db.write();
      } catch (err) {
        // Not saved, so it did not happen: back to the state on disk.
        const saved = this.file.savedState();
        if (saved) this.db.data = saved;
        throw err;
      }
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** DATA_DIR exists (or is made), can be written, and the state path is not a directory: else one line. */
function checkWritable(dataDir: string, path: string): void {
  ensureDir(dataDir, DATA_DIR_WAY_OUT);
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // No state file yet.
  }
  if (isDir)
    throw new AppError(
      'STORAGE',
      `state file ${path} is a directory; move it away (bosun keeps its state in a file of that name), or ${DATA_DIR_WAY_OUT.elsewhere}`,
    );
  try {
    accessSync(dataDir, constants.W_OK);
  } catch (err) {
    throw storageError(err, path, DATA_DIR_WAY_OUT);
  }
}
