/**
 * The outgoing throttle on a fake clock: whatever the pattern of requests, no chat gets more than
 * Telegram's documented limits in ANY window (a group 20 in 60 s, a private chat about one a
 * second, the bot 30 a second), and requests go as soon as the window allows.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlidingWindow, TELEGRAM_LIMITS, Throttle } from '../../src/chat/throttle.js';

/** The most of `times` that fall in any span of `windowMs` (a span [t, t + windowMs)). */
function busiest(times: readonly number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

let sent: Map<string, number[]>;
let throttle: Throttle;

/** Ask for `count` sends to a chat at the current (fake) time; record when each may go. */
function ask(chat: string, count = 1): void {
  for (let k = 0; k < count; k++)
    void throttle.acquire(chat, chat.startsWith('-')).then(() => {
      sent.set(chat, [...(sent.get(chat) ?? []), Date.now()]);
    });
}

describe('the outgoing throttle (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    sent = new Map();
    throttle = new Throttle(TELEGRAM_LIMITS);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts by hand: at most 2 in any 1000 ms, the third when the first leaves the window', () => {
    let now = 0;
    const w = new SlidingWindow({ max: 2, windowMs: 1000 }, () => now);
    w.record();
    now = 400;
    w.record();
    expect(w.wait()).toBe(600); // the first went at 0: a third may go at 1000
    now = 1000;
    expect(w.wait()).toBe(0);
    w.record();
    expect(w.wait()).toBe(400); // the second went at 400: next at 1400
  });

  it('keeps a group to 20 in any minute, however the messages come (24 in 57 s before)', async () => {
    // A burst of 5 after a quiet spell, then one every 2.5 s for four minutes: more than 20 a minute.
    ask('-100200', 5);
    for (let k = 0; k < 96; k++) {
      await vi.advanceTimersByTimeAsync(2_500);
      ask('-100200');
    }
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const times = sent.get('-100200')!;
    expect(times).toHaveLength(101);
    expect(busiest(times, 60_000)).toBe(20);
    // Sent as soon as the window allows: the 21st, 41st, ... exactly 61 s after the 1st, 21st, ...
    for (let k = 20; k < times.length; k++) expect(times[k]! - times[k - 20]!).toBeGreaterThanOrEqual(61_000);
    expect(times[20]! - times[0]!).toBe(61_000);
  });

  it('keeps a private chat to about one a second: 3 in any 3 s, 60 in any minute', async () => {
    ask('42', 200);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    const times = sent.get('42')!;
    expect(times).toHaveLength(200);
    expect(busiest(times, 3_000)).toBe(3);
    expect(busiest(times, 60_000)).toBeLessThanOrEqual(60);
    expect(times.slice(0, 3)).toEqual([0, 0, 0]);
  });

  it('keeps the whole bot to 30 in any second across chats', async () => {
    for (let c = 1; c <= 100; c++) ask(String(c), 2);
    await vi.advanceTimersByTimeAsync(60_000);
    const all = [...sent.values()].flat();
    expect(all).toHaveLength(200);
    expect(busiest(all, 1_000)).toBe(30);
  });
});
