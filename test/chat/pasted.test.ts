/**
 * The pasted-signal reader on a corpus shaped like real channels' signals (test/fixtures/pasted):
 * each signal reads as written down, and each text that is not one (chat, a report, a signal with
 * no side or two pairs, levels on the wrong side) is left alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSignal } from '../../src/chat/pasted.js';
import { TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { type TestBot, telegramTestBot } from '../helpers/bot.js';
import { ROOT } from '../helpers/fixtures.js';

const corpus = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/pasted/corpus.json'), 'utf8')) as {
  signals: Array<{ name: string; text: string; parsed: unknown }>;
  notSignals: Array<{ name: string; text: string }>;
};

describe('pasted signals', () => {
  it('has a corpus of at least 30 signals and 10 texts that are not', () => {
    expect(corpus.signals.length).toBeGreaterThanOrEqual(30);
    expect(corpus.notSignals.length).toBeGreaterThanOrEqual(10);
  });

  it.each(corpus.signals.map((s) => [s.name, s] as const))('reads %s', (_name, s) => {
    expect(parseSignal(s.text)).toEqual(s.parsed);
  });

  it.each(corpus.notSignals.map((s) => [s.name, s] as const))('leaves %s alone', (_name, s) => {
    expect(parseSignal(s.text)).toBeUndefined();
  });
});

describe('a signal pasted into Telegram', () => {
  const TOM: TgUser = { id: 3002, first_name: 'Tom', username: 'tom' };
  let tg: TelegramEmulator | undefined;
  let t: TestBot | undefined;
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    t = tg = stop = undefined;
  });

  it('is read back with the risk manager size and Follow / Ignore, and Follow makes the position with its targets and stop', async () => {
    ({ tg, t, stop } = await telegramTestBot(`${TOM.id}:trader`, { REPLAY_SPEED: '1' }));
    const now = await t.bot.services.engine.feed.price('BTC/USDT');
    const r = (f: number) => Math.round(now * f);
    // Chatter that is not a signal is left alone; one without a stop waits, with the default stop said.
    tg.userSends(TOM, 'ETH looks strong today, I might buy some later');
    tg.userSends(TOM, `BTC/USDT SHORT\nEntry: ${r(1)}\nTP: ${r(0.95)}`);
    const noStop = await tg.waitFor(
      () => tg!.chatMessages(TOM.id).find((m) => /No stop: add one/.test(m.text ?? '')),
      'the stopless one',
    );
    expect(noStop!.text).toMatch(/or the default stop of 2% applies/);
    expect(tg.chatMessages(TOM.id).some((m) => /Send \/help/.test(m.text ?? ''))).toBe(true);
    tg.userSends(
      TOM,
      `#BTC/USDT\nSignal Type: Regular (Long)\nLeverage: Cross (20X)\nEntry Targets:\n1) ${r(1)}\nTake-Profit Targets:\n1) ${r(1.03)}\n2) ${r(1.06)}\nStop Targets:\n1) ${r(0.97)}`,
    );
    const preview = await tg.waitFor(
      () =>
        tg!
          .chatMessages(TOM.id)
          .find((m) => /Buy S\d+[\s\S]*by hand, for @tom \(pasted signal\)/.test(m.text ?? '')),
      'the parsed signal',
    );
    const text = preview!.text!;
    for (const part of ['Entry', 'Stop', 'Targets', 'Size', 'Risk', 'R:R']) expect(text).toContain(part);
    expect(text).toMatch(/Leverage 20x is not used/);
    const buttons = TelegramEmulator.buttons(preview!);
    expect(buttons.map((b) => b.text)).toEqual(['Follow', 'Ignore']);
    expect(Object.keys(t.bot.services.engine.state.positions)).toEqual([]);
    tg.userPresses(TOM, preview!, buttons[0]!.data);
    await tg.waitFor(() => Object.keys(t!.bot.services.engine.state.positions).length === 1, 'the position');
    const pos = Object.values(t.bot.services.engine.state.positions)[0]!;
    expect(pos.stop).toBe(r(0.97));
    expect(pos.targetPrices).toEqual([r(1.03), r(1.06)]);
  }, 30_000);
});
