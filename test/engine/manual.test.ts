/**
 * Trades by hand (/buy, /sell, /exit ID SHARE, /adjust), through the chats' dispatcher on a paper
 * bot, and through the live broker against the exchange emulator: a preview with Confirm and
 * nothing sent before it, the risk manager's checks, who did it on the record, a take-profit ladder
 * and a trailing stop on the position, partial closes, and stops and targets moved.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Person } from '../../src/chat/dispatch.js';
import { PLAIN_TEXT, type Reply, renderMessages } from '../../src/chat/reply.js';
import type { ExchangeEmulator } from '../emulators/exchange/server.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';
import { replayEnd } from '../helpers/engine.js';
import { journalRows } from '../helpers/journal.js';
import { emulator, type LiveEngine, liveEngine } from '../helpers/live.js';
import { sliceEndingOnSignal } from '../helpers/signals.js';

const ADA: Person = { platform: 'console', id: 'ada', name: 'Ada', role: 'trader' };
const VIC: Person = { platform: 'console', id: 'vic', name: 'Vic', role: 'viewer' };
const CHAT = { platform: 'console' as const, id: 'local', private: true };

const text = (rs: Reply[]) => rs.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join('\n');
const buttons = (rs: Reply[]) => rs.flatMap((r) => r.actions.flat());

let t: TestBot | undefined;
let live: LiveEngine | undefined;
let emu: ExchangeEmulator | undefined;
afterEach(async () => {
  await t?.bot.stop();
  await live?.engine.stop();
  await emu?.stop();
  t = live = emu = undefined;
});

const bot = () => t!;

async function paper(): Promise<TestBot> {
  t = await startTestBot({ REPLAY_SPEED: '1' });
  return t;
}

/** A live engine on the exchange emulator, its replay played to the end (the market clock stops there). */
async function liveAfterReplay(): Promise<{ emu: ExchangeEmulator; live: LiveEngine }> {
  const e = await emulator();
  const l = await liveEngine(e, await sliceEndingOnSignal('rsi-reversion'));
  const ended = replayEnd(l.engine);
  await l.engine.start();
  await ended;
  return { emu: e, live: l };
}

const say = async (line: string, who: Person = ADA) => {
  const rs = await sendLine(t!, line, who, CHAT);
  return { rs, text: text(rs) };
};

describe('trades by hand on paper', () => {
  it('previews a /buy with Confirm and Cancel, sends nothing before Confirm, then opens it with the ladder and trail asked for', async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const price = await engine.feed.price('BTC/USDT');
    const tp1 = Math.round(price * 1.05);
    const tp2 = Math.round(price * 1.1);
    const stop = Math.round(price * 0.97);
    const { rs, text: preview } = await say(`/buy BTC/USDT 0.05 stop=${stop} tp=${tp1},${tp2} trail=2%`);
    for (const part of ['Buy S', 'by hand, for Ada', 'Entry', 'Stop', 'Targets', 'Size', 'Risk', 'R:R'])
      expect(preview).toContain(part);
    expect(preview).toMatch(/Trailing stop: 2% behind the best price/);
    expect(preview).toMatch(/Nothing is sent before Confirm/);
    expect(buttons(rs).map((b) => `${b.label}:${b.command}`)).toEqual(['Confirm:approve', 'Cancel:reject']);
    expect(Object.keys(engine.state.positions)).toEqual([]);

    const sigId = buttons(rs)[0]!.args[0]!;
    expect((await say(`/approve ${sigId}`)).text).toContain(sigId);
    const [pos] = Object.values(engine.state.positions);
    expect(pos).toBeDefined();
    expect(pos!.qty).toBe(0.05);
    expect(pos!.stop).toBe(stop);
    expect(pos!.targetPrices).toEqual([tp1, tp2]);
    // Half at each target, the last one taking what is left.
    expect(pos!.targetQty).toEqual([0.025, 'inf']);
    // The trailing stop follows from the entry on.
    expect(pos!.trailActivation).toBe(pos!.entryPrice);
    const sig = engine.state.signals[sigId]!;
    expect(sig.manual).toEqual({ by: 'Ada', quantity: 0.05, trail: 0.02 });
    expect(sig.decidedBy).toBe('Ada');
    expect(sig.strategy).toBe('manual');
  });

  it('cuts a size it chose to the exposure limit rather than refusing it (a tight stop)', async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const price = await engine.feed.price('BTC/USDT');
    const { rs, text: preview } = await say(`/buy BTC/USDT stop=${+(price * 0.997).toFixed(2)}`);
    expect(preview).not.toMatch(/Refused/);
    const sig = engine.state.signals[buttons(rs)[0]!.args[0]!]!;
    // 50 % of the 10,000 equity at most on one market.
    expect(sig.quantity * price).toBeLessThanOrEqual(5000 + 1e-6);
    expect(sig.quantity * price).toBeGreaterThan(4900);
  });

  it('says when the default stop applies, and cancels on Cancel', async () => {
    await paper();
    const { rs, text: preview } = await say('/buy BTC/USDT');
    expect(preview).toMatch(/No stop given: the default stop of 2% applies \(stop=PRICE sets your own\)\./);
    const id = buttons(rs)[1]!.args[0]!;
    await say(`/reject ${id}`);
    expect(t!.bot.services.engine.state.signals[id]!.status).toBe('rejected');
    expect(Object.keys(t!.bot.services.engine.state.positions)).toEqual([]);
  });

  it('refuses bad trades in one line each, saying what is allowed', async () => {
    const bot = await paper();
    const price = await bot.bot.services.engine.feed.price('BTC/USDT');
    const cases: Array<[string, RegExp]> = [
      ['/buy XXX/USDT', /the replay feed plays BTC\/USDT only; allowed symbol: BTC\/USDT/],
      [
        `/buy BTC/USDT stop=${Math.round(price * 1.1)}`,
        /the stop \d+ is on the wrong side of the price [\d.]+; allowed: a stop below it/,
      ],
      [
        `/buy BTC/USDT tp=${Math.round(price * 0.9)}`,
        /the target \d+ is on the wrong side of the price [\d.]+; allowed: a target above it/,
      ],
      ['/buy BTC/USDT 100', /100 BTC is over the risk limits: at most [\d.]+ now/],
      [
        `/buy BTC/USDT 0.05 stop=${Math.round(price * 0.5)}`,
        /0\.05 BTC risks [\d.]+ USDT over its stop, more than the 1% per trade \([\d.]+\); allowed: at most [\d.]+ BTC with this stop, or a closer stop/,
      ],
      [
        '/buy BTC/USDT 5DOGE',
        /size 5DOGE: DOGE is neither BTC nor USDT; allowed: 0\.01, 0\.01BTC or 250USDT/,
      ],
      ['/buy BTC/USDT trail=80%', /trail=80% is out of range; allowed: 0\.1% to 50%/],
      ['/exit P99', /no open position P99; none is open/],
      ['/adjust P99', /nothing to change; allowed: stop=PRICE, tp=PRICE\[,PRICE\.\.\.\] or both/],
    ];
    for (const [line, want] of cases) {
      const { text: said } = await say(line);
      expect(said, line).toMatch(want);
    }
    expect((await say('/buy BTC/USDT', VIC)).text).toBe('/buy needs the trader role; you are a viewer.');
    expect(Object.keys(bot.bot.services.engine.state.positions)).toEqual([]);
  });

  it('closes a share with /exit ID 50%, and moves the stop and targets with /adjust, on the record', async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const { rs } = await say('/buy BTC/USDT 0.04');
    await say(`/approve ${buttons(rs)[0]!.args[0]}`);
    const id = Object.keys(engine.state.positions)[0]!;
    const cash = engine.state.balances.USDT!;
    const part = await say(`/exit ${id} 50%`);
    expect(part.text).toMatch(
      new RegExp(`Closed 0.02 of ${id} BTC/USDT at [\\d,.]+: [-+][\\d.]+ USDT; 0.02 stays open.`),
    );
    expect(engine.state.positions[id]!.qty).toBe(0.02);
    expect(engine.state.balances.USDT!).toBeGreaterThan(cash);

    const price = await engine.feed.price('BTC/USDT');
    const wrong = await say(`/adjust ${id} stop=${Math.round(price * 1.01)}`);
    expect(wrong.text).toMatch(/allowed: a stop below it/);
    // A stop just under the price: the next candle whose low reaches it closes the position there.
    const stop = Math.round(price * 0.999);
    const moved = await say(`/adjust ${id} stop=${stop} tp=${Math.round(price * 1.2)}`);
    expect(moved.text).toMatch(
      new RegExp(`Adjusted ${id} stop [\\d,.]+ → [\\d,.]+, targets [\\d,.]+, by Ada\\.`),
    );
    expect(engine.state.positions[id]!.stop).toBe(stop);
    // Who did what is in the journal's decisions.
    const decisions = journalRows(bot.dataDir, 'decisions').map((d) => JSON.stringify(d));
    expect(decisions.some((d) => d.includes('50% closed by Ada'))).toBe(true);
    expect(decisions.some((d) => new RegExp(`${id} stop .* by Ada`).test(d))).toBe(true);
  }, 60_000);
});

describe('entry ladders by hand', () => {
  it('turns a pasted entry zone into a ladder: a third now with the near end the price is past, the far end resting', async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const price = await engine.feed.price('BTC/USDT');
    const lo = Math.round(price * 0.98);
    const hi = Math.round(price * 1.01);
    const { rs, text: preview } = await say(
      `/paste "BTC/USDT LONG\nEntry zone: ${lo} - ${hi}\nTargets: ${Math.round(price * 1.3)}\nStop: ${Math.round(price * 0.9)}"`,
    );
    expect(preview).toMatch(/Adds: [\d,.]+ \(reached: now\) 33\.3%, [\d,.]+ 33\.3%; first fill 33\.3%/);
    expect(preview).toMatch(/Entry zone .*: Follow enters a third at the price then/);
    await say(`/approve ${buttons(rs)[0]!.args[0]!}`);
    const [pos] = Object.values(engine.state.positions);
    // The near end (above the price) is bought with the first fill; the far end rests.
    expect(pos!.adds?.prices).toEqual([lo]);
    expect(pos!.adds!.amounts[0]! / (pos!.qty + pos!.adds!.amounts[0]!)).toBeCloseTo(1 / 3, 3);
  });

  it('takes adds=dca on /buy, and refuses a ladder that leaves the first fill nothing', async () => {
    await paper();
    const price = await bot().bot.services.engine.feed.price('BTC/USDT');
    const { text: ok } = await say(`/buy BTC/USDT 0.03 stop=${Math.round(price * 0.9)} adds=dca:2:2%`);
    expect(ok).toMatch(/Adds: .*\(-2(\.00)?%\) 33\.3%, .*\(-4(\.00)?%\) 33\.3%; first fill 33\.3%/);
    const { text: bad } = await say('/buy BTC/USDT 0.03 adds=2%:60%,4%:50%');
    expect(bad).toMatch(/the adds take 110% of the position; allowed: less than 100%/);
    expect((await say('/buy BTC/USDT 0.03 adds=lots')).text).toMatch(/adds= "lots" is not DISTANCE:SHARE/);
  });
});

describe('trades by hand, between people', () => {
  const BOB: Person = { platform: 'console', id: 'bob', name: 'Bob', role: 'trader' };

  it("keeps each person's preview theirs: another's /buy does not replace it, and only its asker confirms it", async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const price = await engine.feed.price('BTC/USDT');
    // Targets given out of order are met nearest first.
    const ada = await say(`/buy BTC/USDT 0.01 tp=${Math.round(price * 1.1)},${Math.round(price * 1.05)}`);
    const adaId = buttons(ada.rs)[0]!.args[0]!;
    expect(engine.state.signals[adaId]!.targets).toEqual([Math.round(price * 1.05), Math.round(price * 1.1)]);
    const bob = await say('/buy BTC/USDT 0.01', BOB);
    const bobId = buttons(bob.rs)[0]!.args[0]!;
    expect(engine.state.signals[adaId]!.status).toBe('pending');
    expect((await say(`/approve ${adaId}`, BOB)).text).toBe(
      `${adaId} is Ada's trade by hand; only they confirm or cancel it.`,
    );
    expect(engine.state.signals[adaId]!.status).toBe('pending');
    await say(`/approve ${adaId}`);
    expect(engine.state.signals[adaId]!.status).toBe('filled');
    // The market's one position by hand is Ada's: Bob's confirm finds it taken.
    await say(`/approve ${bobId}`, BOB);
    expect(engine.state.signals[bobId]!.status).toBe('skipped');
    expect(Object.keys(engine.state.positions)).toHaveLength(1);
  });

  it('turns a trailing stop off when a person moves the stop, and cuts new targets to whole steps', async () => {
    const bot = await paper();
    const engine = bot.bot.services.engine;
    const { rs } = await say('/buy BTC/USDT 0.0123 trail=2%');
    await say(`/approve ${buttons(rs)[0]!.args[0]}`);
    const id = Object.keys(engine.state.positions)[0]!;
    const price = await engine.feed.price('BTC/USDT');
    const moved = await say(
      `/adjust ${id} stop=${Math.round(price * 0.97)} tp=${Math.round(price * 1.1)},${Math.round(price * 1.05)},${Math.round(price * 1.2)}`,
    );
    expect(moved.text).toMatch(/\(trailing stop off\)/);
    const pos = engine.state.positions[id]!;
    expect(pos.trailActivation).toBeNull();
    expect(pos.targetPrices).toEqual([
      Math.round(price * 1.05),
      Math.round(price * 1.1),
      Math.round(price * 1.2),
    ]);
    // BTC/USDT's amount step on the replay's exchange is 0.00001: 0.0123 in three is 0.0041 each.
    expect(pos.targetQty).toHaveLength(3);
    expect(pos.targetQty[0]).toBeCloseTo(0.0041, 10);
    expect(pos.targetQty[1]).toBeCloseTo(0.0041, 10);
    expect(pos.targetQty[2]).toBe('inf');
  });
});

describe('trades by hand, live', () => {
  it('turns a confirmed /buy into one market order with its ladder, and /exit 50% into a sell of half', async () => {
    ({ emu, live } = await liveAfterReplay());
    const price = emu.price('BTC/USDT');
    const sig = await live.engine.manualEntry(
      {
        symbol: 'BTC/USDT',
        side: 1,
        quantity: 0.01,
        stop: price * 0.95,
        targets: [price * 1.05, price * 1.1],
      },
      'alice',
    );
    expect(sig.status).toBe('pending');
    expect(emu.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order')).toHaveLength(0);
    await live.engine.decide(sig.id, 'approve', 'alice');
    await live.broker.idle();
    const pos = Object.values(live.store.data.positions)[0]!;
    expect(pos.targetPrices).toHaveLength(2);
    expect(pos.stopOrder).toBeDefined();
    const held = pos.qty;
    await live.engine.closePositions(pos.id, 'alice', 0.5);
    await live.broker.idle();
    const exits = Object.values(live.store.data.orders).filter((o) => o.purpose === 'exit');
    expect(exits).toHaveLength(1);
    expect(exits[0]!.amount).toBeCloseTo(held / 2, 4);
    const rest = live.store.data.positions[pos.id]!;
    expect(rest.qty).toBeCloseTo(held - exits[0]!.amount, 8);
    // A share the exchange would refuse (under its minimum order value) is refused before sending.
    const tiny = await live.engine.closePositions(pos.id, 'alice', 0.001);
    expect(tiny.refused[0]?.reason).toMatch(/minimum|smallest|under/);
    // The rest is guarded again on the exchange, for what is left.
    expect(rest.stopOrder).toBeDefined();
    expect(emu.ordersByClientId(rest.stopOrder!)[0]!.origQty).toBeCloseTo(rest.qty, 5);
    // /adjust moves the stop resting on the exchange: the old order cancelled, a new one at the new price.
    const before = rest.stopOrder!;
    const moved = Math.round(price * 0.97 * 100) / 100;
    await live.engine.adjust(pos.id, { stop: moved }, 'alice');
    await live.broker.idle();
    const now = live.store.data.positions[pos.id]!;
    expect(now.stopOrder).not.toBe(before);
    expect(emu.ordersByClientId(before)[0]!.status).toBe('CANCELED');
    const placed = emu.ordersByClientId(now.stopOrder!)[0]!;
    expect(placed.status).toBe('NEW');
    expect(placed.stopPrice).toBeCloseTo(moved, 2);
    expect(placed.origQty).toBeCloseTo(now.qty, 5);
  }, 60_000);
});

describe('an entry ladder, live', () => {
  it('rests the add as a limit order after the first fill, books its fill into the average, and guards the whole with a new stop', async () => {
    ({ emu, live } = await liveAfterReplay());
    const t0 = emu.now();
    const price = emu.price('BTC/USDT');
    // An add the next candles reach: just above their lowest low, well above the stop.
    const candles = emu.market('BTCUSDT')!.candles;
    const k = candles.findIndex((c) => c.time > t0);
    const low = Math.min(...candles.slice(k, k + 6).map((c) => c.low));
    expect(low).toBeLessThan(price);
    const addAt = Math.round((low + (price - low) * 0.2) * 100) / 100;
    const stop = Math.round(Math.min(low * 0.9, price * 0.9));
    const sig = await live.engine.manualEntry(
      { symbol: 'BTC/USDT', side: 1, quantity: 0.02, stop, adds: [{ price: addAt, share: 0.5 }] },
      'alice',
    );
    expect(sig.status).toBe('pending');
    expect(sig.adds).toEqual([{ price: addAt, share: 0.5 }]);
    await live.engine.decide(sig.id, 'approve', 'alice');
    await live.broker.idle();
    const pos = Object.values(live.store.data.positions)[0]!;
    // The first fill bought half (less the fee the exchange took in BTC); the other half rests on
    // the exchange as a limit buy at the add.
    expect(pos.qty).toBeCloseTo(0.01, 4);
    expect(pos.adds?.prices).toEqual([addAt]);
    const add = Object.values(live.store.data.orders).find((o) => o.purpose === 'add')!;
    expect(add).toMatchObject({ side: 'buy', type: 'limit', price: addAt, amount: 0.01, level: 0 });
    expect(emu.ordersByClientId(add.id)[0]!.status).toBe('NEW');
    const firstStop = pos.stopOrder!;
    expect(emu.ordersByClientId(firstStop)[0]!.origQty).toBeCloseTo(pos.qty, 8);

    // The market falls to the add: the exchange fills it, reconciliation books it.
    emu.now = () => candles[k + 5]!.time + 1;
    await live.broker.reconcile();
    await live.broker.idle();
    const after = live.store.data.positions[pos.id]!;
    const first = after.adds!.fills[0]!;
    const filled = after.adds!.fills[1]!;
    const whole = first.quantity + filled.quantity;
    expect(after.qty).toBeCloseTo(whole, 8);
    expect(whole).toBeCloseTo(0.02, 4);
    expect(filled.price).toBeLessThanOrEqual(addAt);
    expect(after.entryPrice).toBeCloseTo(
      (first.price * first.quantity + filled.price * filled.quantity) / whole,
      6,
    );
    expect(after.entryFee).toBeCloseTo(first.fee + filled.fee, 8);
    // The stop now guards the whole: the old stop order cancelled, a new one for 0.02 in its place.
    expect(after.stopOrder).not.toBe(firstStop);
    expect(emu.ordersByClientId(firstStop)[0]!.status).toBe('CANCELED');
    expect(emu.ordersByClientId(after.stopOrder!)[0]!.origQty).toBeCloseTo(after.qty, 5);
    expect(live.events.some((e) => e.type === 'add')).toBe(true);
  }, 60_000);

  it('withdraws an add not filled at the position first exit: cancelled on the exchange', async () => {
    ({ emu, live } = await liveAfterReplay());
    const price = emu.price('BTC/USDT');
    const sig = await live.engine.manualEntry(
      { symbol: 'BTC/USDT', side: 1, quantity: 0.02, stop: price * 0.8, adds: [{ at: 0.1, share: 0.5 }] },
      'alice',
    );
    await live.engine.decide(sig.id, 'approve', 'alice');
    await live.broker.idle();
    const pos = Object.values(live.store.data.positions)[0]!;
    const add = Object.values(live.store.data.orders).find((o) => o.purpose === 'add')!;
    expect(emu.ordersByClientId(add.id)[0]!.status).toBe('NEW');
    await live.engine.closePositions(pos.id, 'alice');
    await live.broker.idle();
    expect(live.store.data.positions[pos.id]).toBeUndefined();
    expect(emu.ordersByClientId(add.id)[0]!.status).toBe('CANCELED');
    expect(live.store.data.orders[add.id]?.status ?? 'cancelled').toBe('cancelled');
  }, 60_000);
});
