/** /start warns when the feed can never supply a run's warm-up (a 1d run on a three-week replay). */
import { afterAll, describe, expect, it } from 'vitest';
import type { ChatRef } from '../../src/chat/command.js';
import type { Person } from '../../src/chat/dispatch.js';
import { plainLine, type Reply } from '../../src/chat/reply.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

describe('/start on a replay', () => {
  let t: TestBot | undefined;
  afterAll(async () => {
    await t?.bot.stop();
  });

  it('warns that a run whose warm-up the replay cannot supply will never signal', async () => {
    // The bundled 1m file: 1 March 00:00 to 22 March 00:00 2023, 21 days; ema-cross warms up on
    // 3 x slow = 78 bars and signals from the 79th.
    t = await startTestBot({ REPLAY_SPEED: '1' });
    const said: string[] = [];
    const transport = {
      send: async (r: Reply) => {
        for (const b of r.blocks) if (b.kind === 'text') said.push(...b.lines.map(plainLine));
        return { edit: async () => undefined };
      },
    };
    const chat: ChatRef = { platform: 'console', id: 'local', private: true };
    const admin: Person = { platform: 'console', id: 'local', name: 'ada', role: 'admin' };
    const start = (words: string[]) =>
      t!.bot.dispatcher.run({ command: 'start', words, person: admin, chat, transport });
    await start(['ema-cross', 'BTC/USDT', '1d']);
    expect(said).toContain(
      'Warning: R1 needs 79 1d candles to warm up, and the replay holds 21: it will never signal. A shorter timeframe or a longer REPLAY_FILE would.',
    );
    said.length = 0;
    await start(['ema-cross', 'BTC/USDT', '1h']);
    expect(said[0]).toMatch(/^Run R2 started/);
    expect(said.some((l) => l.startsWith('Warning'))).toBe(false);
    // Stopped runs are not "no runs": /runs points at /runs all.
    await t.bot.dispatcher.run({ command: 'stop', words: ['all'], person: admin, chat, transport });
    said.length = 0;
    await t.bot.dispatcher.run({ command: 'runs', words: [], person: admin, chat, transport });
    expect(said[0]).toBe(
      'No active runs (2 stopped: /runs all lists them). Start one with /start STRATEGY SYMBOL TIMEFRAME, e.g. /start ema-cross BTC/USDT 15m.',
    );
  });
});
