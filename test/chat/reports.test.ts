/**
 * Reports when the chart renderer is down: /daily and the scheduled report still send their
 * numbers, with one line saying the chart could not be drawn. Real grammY against the Telegram
 * emulator, real quickchart-js against the QuickChart emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuickChartStub } from '../emulators/quickchart/server.js';
import { type BotMessage, TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN: TgUser = { id: 5001, first_name: 'Ada', username: 'ada' };
const NO_CHART = 'The chart could not be drawn this time (the chart renderer failed); the numbers are above.';

let tg: TelegramEmulator;
let qc: QuickChartStub;
let t: TestBot;

const plain = (m: BotMessage) => (m.text ?? '').replace(/<[^>]+>/g, '');

/** What the bot sends to the admin after `act`, once a message matching `last` has arrived. */
async function after(act: () => unknown, last: RegExp): Promise<BotMessage[]> {
  const before = tg.chatMessages(ADMIN.id).length;
  await act();
  await tg.waitFor(
    () =>
      tg
        .chatMessages(ADMIN.id)
        .slice(before)
        .find((m) => last.test(plain(m)) || (m.photo && last.test(m.caption ?? ''))),
    `a message matching ${last}`,
  );
  await new Promise((r) => setTimeout(r, 100)); // anything more would arrive now
  return tg.chatMessages(ADMIN.id).slice(before);
}

describe('reports with the chart renderer down', () => {
  beforeAll(async () => {
    qc = await new QuickChartStub().start();
    tg = await new TelegramEmulator({ limits: BUSY_TELEGRAM.limits }).start();
    t = await startTestBot(
      {
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin`,
        CHART_RENDERER: 'quickchart',
        QUICKCHART_URL: qc.url,
      },
      BUSY_TELEGRAM.options,
    );
  });
  afterAll(async () => {
    await t?.bot.stop();
    await tg?.stop();
    await qc?.stop();
  });

  it('draws the /daily chart with QuickChart while it is up', async () => {
    const sent = await after(() => tg.userSends(ADMIN, '/daily'), /equity and daily PnL/);
    expect(sent.map((m) => (m.photo ? 'photo' : 'text'))).toEqual(['text', 'photo']);
    expect(qc.requests.length).toBeGreaterThan(0);
  });

  it('sends /daily’s numbers with one line about the chart when QuickChart answers 500', async () => {
    qc.failNext(10);
    const sent = await after(() => tg.userSends(ADMIN, '/daily'), /could not be drawn/);
    expect(sent).toHaveLength(1);
    const lines = plain(sent[0]!).split('\n');
    expect(lines[0]).toMatch(/^Report so far today · USDT · /);
    expect(lines).toContainEqual(expect.stringMatching(/^PnL in period +[+-]\d/));
    expect(lines.at(-1)).toBe(NO_CHART);
    expect(t.logs.some((l) => l.msg === 'report chart failed; sending the numbers alone')).toBe(true);
  });

  it('sends the scheduled report’s numbers with the same line when QuickChart is down', async () => {
    await after(() => tg.userSends(ADMIN, '/subscribe reports'), /This chat gets/);
    await qc.stop();
    const engine = t.bot.services.engine;
    const sent = await after(() => engine.sendReport(engine.feed.now()), /could not be drawn/);
    expect(sent).toHaveLength(1);
    expect(plain(sent[0]!)).toMatch(/^Daily report · USDT · /);
    expect(plain(sent[0]!).split('\n').at(-1)).toBe(NO_CHART);
  });
});
