import { describe, expect, it } from 'vitest';
import type { ReplayFeed } from '../../src/engine/feed.js';
import type { ClockedFeed } from '../../src/engine/watch-schedule.js';
import { TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot } from '../helpers/bot.js';
import { makeEngine, NO_LIMITS, replayEnd, sampleSlice } from '../helpers/engine.js';

const ROWS = 12_000;

/** An engine replaying 1m candles at full speed with a bb-breakout run on 15m candles made from them. */
async function fullSpeed(options: { sliceMs?: number } = {}) {
  const file = sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', ROWS);
  const t = await makeEngine({ file, risk: { ...NO_LIMITS, sizing: 'fraction', fraction: 0.5 }, ...options });
  await t.engine.startRun(
    { strategy: 'bb-breakout', symbol: 'BTC/USDT', timeframe: '15m', params: {}, approve: 'auto' },
    'test',
  );
  return t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('a full-speed replay', () => {
  it('lets timers and commands in between candles while it plays', async () => {
    const t = await fullSpeed();
    const ended = replayEnd(t.engine);
    // A timer that sets itself again each time it fires, noting where the replay stood and how
    // long it waited.
    const turns: Array<{ position: number; waited: number }> = [];
    let done = false;
    const probe = () => {
      const at = performance.now();
      setTimeout(() => {
        turns.push({ position: t.feed.position, waited: performance.now() - at });
        if (!done) probe();
      }, 0);
    };
    await t.engine.start();
    probe();
    // A command during the replay: it goes through the same state queue as the candles.
    const answered = new Promise<number>((resolve) =>
      setTimeout(() => void t.engine.setRisk({ riskPerTrade: 0.01 }).then(() => resolve(t.feed.position)), 1),
    );
    await ended;
    done = true;
    await t.engine.stop();

    const during = turns.filter((x) => x.position < ROWS);
    // Before: nothing but the replay ran until it ended. Now the timer fires again and again while
    // the replay moves on, and the command is answered before the replay's end.
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(new Set(during.map((x) => x.position)).size).toBeGreaterThanOrEqual(10);
    expect(await answered).toBeLessThan(ROWS);
    // A timer waits about one slice of the replay's work (10 ms), not the replay.
    expect(median(during.map((x) => x.waited))).toBeLessThan(100);
  }, 60_000);

  it('with a zero slice, gives the event loop a turn after every source candle', async () => {
    const t = await fullSpeed({ sliceMs: 0 });
    const ended = replayEnd(t.engine);
    const seen: number[] = [];
    let done = false;
    const probe = () =>
      setImmediate(() => {
        seen.push(t.feed.position);
        if (!done) probe();
      });
    await t.engine.start();
    probe();
    await ended;
    done = true;
    await t.engine.stop();
    const during = seen.filter((p) => p < ROWS);
    // Each turn finds the replay at most one source candle further on.
    const gaps = during.slice(1).map((p, k) => p - during[k]!);
    expect(during.length).toBeGreaterThan(ROWS / 2);
    // (Many turns: a commit's wait for the disk is spent off the event loop, which turns meanwhile.)
    expect(gaps.reduce((m, g) => Math.max(m, g), 0)).toBeLessThanOrEqual(1);
  }, 60_000);

  it('stops promptly when asked mid-replay, like on SIGTERM', async () => {
    const t = await fullSpeed();
    let ended = false;
    void replayEnd(t.engine).then(() => (ended = true));
    await t.engine.start();
    const stopped = await new Promise<{ asked: number; after: number }>((resolve) =>
      setTimeout(() => {
        const asked = t.feed.position;
        void t.engine.stop().then(() => resolve({ asked, after: t.feed.position }));
      }, 20),
    );
    // The stop came while the replay was under way, and it finished at most the candle in hand.
    expect(stopped.asked).toBeLessThan(ROWS);
    expect(stopped.after - stopped.asked).toBeLessThanOrEqual(1);
    expect(ended).toBe(false);
  }, 60_000);

  it('on the whole bot at REPLAY_SPEED=1000000: /status is answered on Telegram, and the bot stops, while it plays', async () => {
    const ADMIN: TgUser = { id: 1001, first_name: 'Ada' };
    const tg = await new TelegramEmulator({ limits: BUSY_TELEGRAM.limits }).start();
    const bot = await startTestBot(
      {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin`,
        REPLAY_SPEED: '1000000',
        REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto; bb-breakout BTC/USDT 15m approve=auto',
      },
      BUSY_TELEGRAM.options,
    );
    // The engine's feed is the replay behind the regime's clock (ClockedFeed).
    const feed = (bot.bot.services.engine.feed as ClockedFeed).inner as ReplayFeed;
    const end = feed.source.length;
    try {
      while (feed.position < 100) await new Promise((resolve) => setTimeout(resolve, 5));
      const said = (what: string) => tg.chatMessages(ADMIN.id).filter((m) => m.text?.includes(what));
      tg.userSends(ADMIN, '/subscribe');
      await tg.waitFor(() => said('This chat gets').length > 0, 'the answer to /subscribe');
      // Twenty questions, each asked when the last is answered. Before, the replay gave way about
      // once a second (when its pacing fell a second behind), so they outlasted the replay.
      for (let k = 1; k <= 20; k++) {
        tg.userSends(ADMIN, '/status');
        await tg.waitFor(() => said('bosun status').length >= k, `answer ${k} to /status`);
      }
      // And the notifier is not starved: the runs' notices reach the chat while the replay plays.
      const notices = () =>
        tg.chatMessages(ADMIN.id).filter((m) => !/bosun status|This chat gets/.test(m.text ?? ''));
      await tg.waitFor(() => notices().length > 0, 'a notice of the runs');
      expect(feed.position).toBeLessThan(end);
    } finally {
      await bot.bot.stop();
      await tg.stop();
    }
    // The stop (as on SIGTERM) did not wait for the rest of the file.
    expect(feed.position).toBeLessThan(end);
  }, 60_000);
});
