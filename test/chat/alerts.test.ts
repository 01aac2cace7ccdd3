/**
 * People's alerts (/alert, /alerts) through Telegram and the emulator, on a replay: a price crossing
 * told once to the chat that set it, with a chart of the level; an indicator on its closed candles;
 * a position's PnL; kept in the journal; and every malformed alert refused in one line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseAlert } from '../../src/chat/price-alerts.js';
import { type TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { type TestBot, telegramTestBot } from '../helpers/bot.js';
import { journalDocument } from '../helpers/journal.js';

const TOM: TgUser = { id: 3002, first_name: 'Tom', username: 'tom' };
let tg: TelegramEmulator | undefined;
let t: TestBot | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  t = tg = stop = undefined;
});

async function boot(speed: string): Promise<void> {
  ({ tg, t, stop } = await telegramTestBot(`${TOM.id}:trader`, { REPLAY_SPEED: speed }));
}

/** A message as a person reads it: tags removed, entities decoded. */
const plain = (m: { text?: string; caption?: string }) =>
  (m.text ?? m.caption ?? '')
    .replace(/<[^>]+>/g, '')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&');
const said = (re: RegExp) => tg!.chatMessages(TOM.id).filter((m) => re.test(plain(m)));

describe('alerts', () => {
  it('tells a price crossing once, with a chart, to the chat that set it; an indicator on its closes; kept in the journal', async () => {
    await boot('300');
    const now = await t!.bot.services.engine.feed.price('BTC/USDT');
    // Whichever way the replay goes, one of the two is crossed soon.
    tg!.userSends(TOM, `/alert BTC/USDT > ${+(now * 1.002).toFixed(2)}`);
    tg!.userSends(TOM, `/alert BTC/USDT < ${+(now * 0.998).toFixed(2)}`);
    tg!.userSends(TOM, '/alert BTC/USDT rsi14 > 1 on 1h');
    await tg!.waitFor(() => said(/Alert A\d+ set/).length === 3, 'the three alerts set');
    await tg!.waitFor(() => said(/Alert A\d+: BTC\/USDT [<>]/).length >= 1, 'a price alert told', 30_000);
    await tg!.waitFor(
      () => said(/^Alert A\d+: BTC\/USDT rsi14 > 1 on 1h/).length === 1,
      'the rsi alert',
      30_000,
    );
    const told = said(/^Alert A\d+: /);
    // Each with its chart: a PNG of the market with the level.
    await tg!.waitFor(() => said(/^alert A\d+$/).filter((m) => m.photo).length === told.length, 'the charts');
    for (const m of told) expect(plain(m)).toMatch(/It is off now/);
    // Fired once each: later crossings say nothing more.
    const count = told.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(said(/^Alert A\d+: /)).toHaveLength(count);
    // Kept: in the journal, with who set it, where, and that it fired.
    const kept = journalDocument<Record<string, { by: string; chat: string; fired: number; armed: boolean }>>(
      t!.dataDir,
      'alerts',
    )!;
    const fired = Object.values(kept).filter((a) => a.fired === 1);
    expect(fired.length).toBe(count);
    for (const a of fired) expect(a).toMatchObject({ by: '@tom', chat: `telegram:${TOM.id}`, armed: false });
    tg!.userSends(TOM, '/alerts');
    await tg!.waitFor(() => said(/Alerts \(3\)/).length === 1, 'the list');
  }, 60_000);

  it("tells a position's PnL, and ends with the position", async () => {
    await boot('30');
    const engine = t!.bot.services.engine;
    const sig = await engine.manualEntry({ symbol: 'BTC/USDT', side: 1, quantity: 0.01 }, '@tom');
    await engine.decide(sig.id, 'approve', '@tom');
    const id = Object.keys(engine.state.positions)[0]!;
    tg!.userSends(TOM, `/alert ${id} pnl > -50%`);
    tg!.userSends(TOM, `/alert ${id} near stop 90% repeat`);
    await tg!.waitFor(() => said(/Alert A\d+ set/).length === 2, 'both set');
    await tg!.waitFor(
      () => said(new RegExp(`^Alert A\\d+: ${id} pnl > -50%`)).length === 1,
      'the pnl alert',
      30_000,
    );
    await engine.closePositions(id, '@tom');
    // The next price finds the position gone: its alerts end, and the list says why.
    const mine = () => Object.values(t!.bot.services.store.data.alerts).filter((a) => a.position === id);
    const deadline = Date.now() + 10_000;
    while (mine().some((a) => a.armed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(mine().find((a) => a.kind === 'near-stop')).toMatchObject({ armed: false, why: `${id} closed` });
    tg!.userSends(TOM, '/alerts');
    await tg!.waitFor(() => said(new RegExp(`Alerts \\(2\\)[\\s\\S]*${id} closed`)).length === 1, 'the list');
  }, 60_000);

  it('refuses a malformed alert in one line that says what is allowed', () => {
    const cases: Array<[string, RegExp]> = [
      ['BTC/USDT rsi99x < 30', /there is no indicator "rsi99x" for alerts; allowed: rsiN, emaN or smaN/],
      ['BTC/USDT >> 5', /">>" is not > or <; allowed: /],
      ['BTC/USDT > -5', /price -5 is not a positive number/],
      ['BTC/USDT rsi14 < 130', /rsi14 runs from 0 to 100/],
      ['P12 pnl > 5', /pnl takes a percentage like 5%/],
      ['P12 nearly', /for a position: P12 pnl > 5% or P12 near stop 1%/],
      ['BTC/USDT > 5 on 7q', /"on" takes a timeframe at the end, like on 1h/],
      ['hello > 5', /"hello" is neither a market like BTC\/USDT nor a position like P12/],
    ];
    for (const [line, want] of cases) expect(() => parseAlert(line.split(' ')), line).toThrow(want);
    expect(parseAlert('ETH/USDT rsi14 < 30 on 1h repeat'.split(' '))).toEqual({
      kind: 'indicator',
      symbol: 'ETH/USDT',
      indicator: 'rsi14',
      op: '<',
      level: 30,
      repeat: true,
      timeframe: '1h',
    });
    expect(parseAlert('P12 pnl < -3%'.split(' '))).toMatchObject({
      kind: 'pnl',
      position: 'P12',
      op: '<',
      level: -0.03,
    });
  });
});
