/**
 * Outgoing rate limits, kept on our side so a burst of replies never meets the platform's 429s:
 * a token bucket for the whole bot and one per chat. Requests for one chat leave in the order they
 * were made.
 */

export interface BucketSpec {
  /** Requests that may go at once after a quiet spell. */
  burst: number;
  /** Sustained requests per second. */
  perSecond: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly spec: BucketSpec,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = spec.burst;
    this.last = now();
  }

  /** Take a token if there is one (returns 0), else how many ms until there will be. */
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.spec.burst, this.tokens + ((t - this.last) / 1000) * this.spec.perSecond);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.spec.perSecond) * 1000);
  }
}

export interface ThrottleSpec {
  global: BucketSpec;
  /** One-to-one chats. */
  private: BucketSpec;
  /** Groups and channels. */
  group: BucketSpec;
}

/**
 * Telegram's published limits: about 30 messages a second overall, one a second in a chat (short
 * bursts tolerated), 20 a minute in a group.
 */
export const TELEGRAM_LIMITS: ThrottleSpec = {
  global: { burst: 30, perSecond: 30 },
  private: { burst: 5, perSecond: 1 },
  group: { burst: 5, perSecond: 20 / 60 },
};

export class Throttle {
  private readonly global: TokenBucket;
  private readonly chats = new Map<string, { bucket: TokenBucket; tail: Promise<void> }>();

  constructor(
    private readonly spec: ThrottleSpec,
    private readonly now: () => number = Date.now,
  ) {
    this.global = new TokenBucket(spec.global, now);
  }

  /** Resolves when a request for this chat may go. */
  acquire(chatKey: string, group: boolean): Promise<void> {
    let chat = this.chats.get(chatKey);
    if (!chat) {
      chat = {
        bucket: new TokenBucket(group ? this.spec.group : this.spec.private, this.now),
        tail: Promise.resolve(),
      };
      this.chats.set(chatKey, chat);
    }
    const entry = chat;
    const turn = entry.tail.then(async () => {
      for (let wait = entry.bucket.take(); wait > 0; wait = entry.bucket.take()) await sleep(wait);
      for (let wait = this.global.take(); wait > 0; wait = this.global.take()) await sleep(wait);
    });
    entry.tail = turn;
    return turn;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
