/**
 * The notifier against a chat slower than the engine (a replay at full speed): each chat's outbox
 * stays short, a newer report replaces the unsent one, notices of a stopped run are dropped, and
 * what had to be dropped is counted in the next message. The chat here lets one message go each
 * time the test says so, which makes every count exact.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatAdapter } from '../../src/chat/adapter.js';
import { Notifier, OUTBOX_LIMIT } from '../../src/chat/notifier.js';
import { plainLine, type Reply } from '../../src/chat/reply.js';
import type { BotEvent as EngineEvent } from '../../src/chat/categories.js';
import { DAY } from '../../src/market/timeframe.js';
import { createLogger } from '../../src/logger.js';
import type { RunRecord, SignalRecord } from '../../src/store/state.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

/** A chat that takes a message only when released. */
class SlowChat implements ChatAdapter {
  readonly platform = 'telegram' as const;
  /** The text of each message taken, oldest first. */
  readonly taken: string[] = [];
  private readonly waiting: Array<() => void> = [];

  status() {
    return { platform: 'telegram' as const, state: 'connected' as const };
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async push(_chatId: string, r: Reply): Promise<string> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.taken.push(r.blocks.flatMap((b) => (b.kind === 'text' ? b.lines.map(plainLine) : [])).join('\n'));
    return String(this.taken.length);
  }
  async edit(): Promise<void> {}

  /** Let the message in flight go, and let the notifier move on to the next. */
  async release(): Promise<void> {
    for (let i = 0; i < 20 && this.waiting.length === 0; i++) await new Promise((r) => setImmediate(r));
    this.waiting.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
}

const CHAT = 'telegram:7001';
let t: TestBot;
let chat: SlowChat;
let notifier: Notifier;
let emit: (e: EngineEvent) => void;

async function drain(): Promise<void> {
  while (notifier.backlog(CHAT) > 0) await chat.release();
  await notifier.idle();
}

const RUN = (id: string, state: RunRecord['state']): RunRecord => ({
  id,
  strategy: 'ema-cross',
  symbol: 'BTC/USDT',
  timeframe: '1h',
  params: {},
  approve: 'manual',
  state,
  reason: state === 'stopped' ? 'stopped by @ada' : undefined,
  createdAt: 0,
  createdBy: '@ada',
  realizedPnl: 0,
  trades: 0,
});

const SIGNAL = (id: string, runId: string): SignalRecord => ({
  id,
  runId,
  symbol: 'BTC/USDT',
  timeframe: '1h',
  strategy: 'ema-cross',
  side: 'long',
  barTime: 0,
  createdAt: 0,
  price: 100,
  signalStop: null,
  signalTarget: null,
  stop: 98,
  targets: [],
  quantity: 1,
  risk: 2,
  rewardRisk: null,
  status: 'pending',
  expiresAt: Date.now() + 60_000,
  messages: [],
  indicators: {},
});

describe('the notifier with a chat slower than the engine', () => {
  beforeAll(async () => {
    t = await startTestBot({});
    await t.bot.services.store.update((s) => {
      s.subscriptions[CHAT] = { since: 0, muted: [] };
    });
  });
  afterAll(async () => {
    await t?.bot.stop();
  });
  beforeEach(() => {
    chat = new SlowChat();
    const listeners = new Set<(e: EngineEvent) => void>();
    emit = (e) => listeners.forEach((l) => l(e));
    notifier = new Notifier(
      {
        engine: t.bot.services.engine,
        on: (l) => (listeners.add(l), () => listeners.delete(l)),
      },
      t.bot.services,
      () => [chat],
      createLogger({ level: 'silent', format: 'json' }),
    );
    notifier.start();
  });

  it('sends the newest report, never a queue of old ones, however fast the days pass', async () => {
    const engine = t.bot.services.engine;
    const day0 = Date.UTC(2024, 0, 1);
    let most = 0;
    // 200 replayed days; the chat takes one message while ten days pass.
    for (let k = 1; k <= 200; k++) {
      const report = {
        ...(await engine.performance('USDT', day0 + (k - 1) * DAY, day0 + k * DAY)),
        days: [],
      };
      emit({ type: 'report', report, title: 'Daily report' });
      most = Math.max(most, notifier.backlog(CHAT));
      if (k % 10 === 0) await chat.release();
    }
    await drain();
    // One report in flight and the newest waiting, at most.
    expect(most).toBe(2);
    expect(chat.taken.length).toBeLessThanOrEqual(21);
    expect(chat.taken.at(-1)).toMatch(/^Daily report · USDT · 2024-07-18 00:00 to 2024-07-19 00:00 UTC/);
  });

  it('sends the newest scan of a timeframe, not every unsent one', async () => {
    const scan = (k: number, timeframe: string): EngineEvent => ({
      type: 'scan',
      top: 3,
      result: { at: Date.UTC(2024, 0, 1, k), timeframe, rows: [], skipped: [], source: 'the test' },
    });
    for (let k = 0; k < 10; k++) emit(scan(k, '1h'));
    emit(scan(10, '4h'));
    expect(notifier.backlog(CHAT)).toBe(3); // 1h 00:00 in flight, the newest 1h, the 4h
    await drain();
    expect(chat.taken.map((m) => m.split(':').slice(0, 2).join(':'))).toEqual([
      'Momentum scan 1h at 2024-01-01 00:00 UTC',
      'Momentum scan 1h at 2024-01-01 09:00 UTC',
      'Momentum scan 4h at 2024-01-01 10:00 UTC',
    ]);
  });

  it('drops the queued notices of a run once it is stopped', async () => {
    emit({ type: 'signal', signal: SIGNAL('S901', 'R90'), run: RUN('R90', 'active') });
    for (let k = 2; k <= 6; k++)
      emit({ type: 'signal', signal: SIGNAL(`S90${k}`, 'R90'), run: RUN('R90', 'active') });
    emit({ type: 'entry-skipped', signal: SIGNAL('S907', 'R90'), reason: 'no cash' });
    emit({ type: 'signal', signal: SIGNAL('S911', 'R91'), run: RUN('R91', 'active') });
    expect(notifier.backlog(CHAT)).toBe(8);
    emit({ type: 'run', run: RUN('R90', 'stopped'), what: 'stopped' });
    // In flight S901, then the other run's signal and the stop notice.
    expect(notifier.backlog(CHAT)).toBe(3);
    await drain();
    expect(chat.taken.map((m) => m.split('\n')[0])).toEqual([
      'Signal S901 · LONG BTC/USDT 1h · ema-cross (R90)',
      'Signal S911 · LONG BTC/USDT 1h · ema-cross (R91)',
      'Run R90 (ema-cross BTC/USDT 1h) stopped: stopped by @ada. Its positions keep their stops; /runs shows it.',
    ]);
  });

  it('keeps at most OUTBOX_LIMIT notices, dropping the oldest, and says how many it dropped', async () => {
    for (let k = 0; k < 50; k++) emit({ type: 'exchange', up: false, detail: `timeout ${k}` });
    expect(notifier.backlog(CHAT)).toBe(OUTBOX_LIMIT + 1);
    await drain();
    // timeout 0 was in flight; 1 to 29 made room for 30 to 49.
    expect(chat.taken).toHaveLength(1 + OUTBOX_LIMIT);
    expect(chat.taken[0]).toBe('\u26a0 Exchange: timeout 0.');
    expect(chat.taken[1]).toBe(
      '\u26a0 Exchange: timeout 30.\n(29 older notices were skipped: they came faster than this chat takes messages.)',
    );
    expect(chat.taken.at(-1)).toBe('\u26a0 Exchange: timeout 49.');
  });

  it('lets a shutdown wait a bounded time, then drops what is unsent', async () => {
    for (let k = 0; k < 5; k++) emit({ type: 'exchange', up: false, detail: `timeout ${k}` });
    const started = Date.now();
    await notifier.idle(100); // the chat takes nothing: the wait ends all the same
    expect(Date.now() - started).toBeLessThan(2_000);
    notifier.stop();
    expect(notifier.backlog(CHAT)).toBe(1); // the one in flight
    await drain();
    expect(chat.taken).toEqual(['\u26a0 Exchange: timeout 0.']);
    emit({ type: 'exchange', up: true, detail: 'back' });
    expect(notifier.backlog(CHAT)).toBe(0);
  });
});
