/**
 * bosun's state store: one JSON document in `DATA_DIR/bosun.json`, kept with lowdb.
 *
 * lowdb's own file adapter renames a temporary file but never flushes it to disk, so a power cut can
 * leave an empty file; {@link DurableJsonFile} writes through {@link writeFileAtomic} (fsync of the
 * file and its directory) instead. Every change is written before the caller goes on to announce it.
 * A state file that is empty, not JSON, or not a bosun state stops start-up with a clear message and
 * is never overwritten.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';

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

const StateSchema = z.looseObject({
  version: z.literal(1),
  install: z.object({
    id: z.string().min(8),
    /** Signs chat buttons (HMAC); never leaves this file. */
    secret: z.string().min(32),
    createdAt: z.number(),
  }),
  buttons: z.record(z.string(), ButtonRecord),
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
  };
}

/** A lowdb adapter that reads strictly and writes atomically and durably. */
export class DurableJsonFile implements Adapter<State> {
  constructor(readonly path: string) {}

  async read(): Promise<State | null> {
    if (!existsSync(this.path)) return null;
    const text = readFileSync(this.path, 'utf8');
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
    return parsed.data;
  }

  async write(data: State): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileAtomic(this.path, `${JSON.stringify(data, null, 1)}\n`);
  }
}

export class StateStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Low<State>,
    readonly path: string,
  ) {}

  /** Open (or create) the state file in `dataDir`. Throws BAD_DATA for a damaged file. */
  static async open(dataDir: string, now = Date.now()): Promise<StateStore> {
    const path = join(dataDir, 'bosun.json');
    const db = new Low<State>(new DurableJsonFile(path), freshState(now));
    await db.read();
    const store = new StateStore(db, path);
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
      await this.db.write();
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
