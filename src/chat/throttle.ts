/**
 * Outgoing rate limits, kept on our side so replies and notices never meet the platform's 429s:
 * sliding windows, one for the whole bot and one per chat. A window lets at most `max` requests go
 * in ANY span of `windowMs`, so a quiet spell earns no extra burst on top of the rate (a token
 * bucket with a burst of 5 and 20 a minute let 24 messages into a group in 57 s, over Telegram's
 * 20). Requests for one chat leave in the order they were made.
 */

export interface WindowSpec {
  /** Requests at most in any span of `windowMs`. */
  max: number;
  windowMs: number;
}

/** When requests went, the last `max` of them: how long until one more may go. */
export class SlidingWindow {
  private readonly sent: number[] = [];

  constructor(
    readonly spec: WindowSpec,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ms until a request may go without breaking the window (0: now). */
  wait(): number {
    const t = this.now();
    while (this.sent.length > 0 && this.sent[0]! <= t - this.spec.windowMs) this.sent.shift();
    return this.sent.length < this.spec.max ? 0 : this.sent[0]! + this.spec.windowMs - t;
  }

  /** A request goes now. */
  record(): void {
    this.sent.push(this.now());
    if (this.sent.length > this.spec.max) this.sent.shift();
  }
}

export interface ThrottleSpec {
  global: WindowSpec;
  /** One-to-one chats. */
  private: WindowSpec;
  /** Groups and channels. */
  group: WindowSpec;
}

/**
 * Telegram's documented limits (Bots FAQ): about 30 messages a second overall; about one a second
 * in a chat (short bursts tolerated: 3 in any 3 s); at most 20 a minute in a group, kept over 61 s
 * so that network delay cannot bunch 21 into Telegram's minute. Edits count like messages.
 */
export const TELEGRAM_LIMITS: ThrottleSpec = {
  global: { max: 30, windowMs: 1_000 },
  private: { max: 3, windowMs: 3_000 },
  group: { max: 20, windowMs: 61_000 },
};

export class Throttle {
  private readonly global: SlidingWindow;
  private readonly chats = new Map<string, { window: SlidingWindow; tail: Promise<void> }>();

  constructor(
    private readonly spec: ThrottleSpec,
    private readonly now: () => number = Date.now,
  ) {
    this.global = new SlidingWindow(spec.global, now);
  }

  /** Resolves when a request for this chat may go (and counts it as gone). */
  acquire(chatKey: string, group: boolean): Promise<void> {
    let chat = this.chats.get(chatKey);
    if (!chat) {
      chat = {
        window: new SlidingWindow(group ? this.spec.group : this.spec.private, this.now),
        tail: Promise.resolve(),
      };
      this.chats.set(chatKey, chat);
    }
    const entry = chat;
    const turn = entry.tail.then(async () => {
      // Both windows are checked and counted at the same moment, so neither counts a request
      // earlier than it really goes.
      for (;;) {
        const wait = Math.max(entry.window.wait(), this.global.wait());
        if (wait <= 0) break;
        await sleep(wait);
      }
      entry.window.record();
      this.global.record();
    });
    entry.tail = turn;
    return turn;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
