import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineOptions } from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { type Regime, regimeGate } from '../../src/engine/regime.js';
import { performance, winRate } from '../../src/engine/report.js';
import { parseRiskSettings } from '../../src/engine/risk.js';
import { type State, StateStore, type TradeRecord } from '../../src/store/state.js';
import { makeEngine, NO_LIMITS, replayEnd, sampleSlice } from '../helpers/engine.js';
import { journalRows } from '../helpers/journal.js';

const DAY = 86_400_000;

/**
 * The candles of `file` with each open moved to the previous close (highs and lows widened to hold
 * it): an auto-approved entry then fills at the very price its signal was priced at.
 */
function seamless(file: string): string {
  const [header, ...rows] = readFileSync(file, 'utf8').trimEnd().split('\n');
  let prevClose: number | undefined;
  const out = rows.map((row) => {
    const [time, o, h, l, c, v] = row.split(',').map(Number) as number[];
    const open = prevClose ?? o!;
    prevClose = c!;
    return [time, open, Math.max(h!, open), Math.min(l!, open), c, v].join(',');
  });
  const path = file.replace(/\.csv$/, '') + '-seamless/' + file.split('/').pop()!;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${[header, ...out].join('\n')}\n`);
  return path;
}
const D1 = Date.UTC(2024, 4, 1);

async function replay(
  file: string,
  risk: Record<string, unknown>,
  runs: Array<Record<string, unknown>>,
  dir?: string,
  regimeGate?: EngineOptions['regimeGate'],
) {
  const t = await makeEngine({ file, risk, ...(dir ? { dir } : {}), ...(regimeGate ? { regimeGate } : {}) });
  const events: EngineEvent[] = [];
  t.engine.on((e) => events.push(e));
  for (const r of runs)
    await t.engine.startRun(
      {
        strategy: 'ema-cross',
        symbol: 'BTC/USDT',
        timeframe: '2h',
        params: {},
        approve: 'auto',
        ...r,
      } as never,
      'test',
    );
  const ended = replayEnd(t.engine);
  await t.engine.start();
  await ended;
  await t.engine.stop();
  return { ...t, events };
}

describe('the engine', () => {
  it('trips the drawdown kill-switch: every run stops, the chats are told, no entry follows', async () => {
    const file = sampleSlice('binance_BTC-USDT_2h.csv', 1200);
    const { store, events } = await replay(
      file,
      { ...NO_LIMITS, sizing: 'fraction', fraction: 1, maxDrawdown: 0.03 },
      [{}, { strategy: 'rsi-reversion' }],
    );
    const kill = store.data.engine.killSwitch!;
    expect(kill.reason).toMatch(/USDT equity .* below its peak .* \(limit 3.00%\)/);
    expect(Object.values(store.data.runs).map((r) => [r.state, r.reason])).toEqual([
      ['stopped', 'kill-switch'],
      ['stopped', 'kill-switch'],
    ]);
    expect(events.filter((e) => e.type === 'kill-switch')).toHaveLength(1);
    expect((await store.journal.trades()).every((t) => t.entryTime <= kill.at)).toBe(true);
    expect(Object.values(store.data.positions).every((p) => p.entryTime <= kill.at)).toBe(true);
  }, 60_000);

  it('refuses a signal by a risk rule, records why, and says so in the event', async () => {
    const file = sampleSlice('binance_BTC-USDT_2h.csv', 800);
    const { store, events, dir } = await replay(
      file,
      { ...NO_LIMITS, sizing: 'fraction', fraction: 0.4, maxOpenPositions: 1 },
      [{}, { params: { fast: 5, slow: 30 } }],
    );
    const refused = Object.values(store.data.signals).filter((s) => s.status === 'refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.reason).toBe('max open positions: 1 open, the limit is 1');
    const ev = events.find((e) => e.type === 'signal' && e.signal.status === 'refused');
    expect(ev && ev.type === 'signal' && ev.signal.reason).toBe(refused[0]!.reason);
    // Each decision keeps the indicator values it was made on.
    const decision = journalRows(dir, 'decisions').find((d) => d.signal_id === refused[0]!.id)!;
    expect(Object.keys(JSON.parse(String(decision.indicators))).sort()).toEqual(
      refused[0]!.runId === 'R1' ? ['ema12', 'ema26'] : ['ema30', 'ema5'],
    );
  }, 60_000);

  it('gates entries by the regime of the replay clock: none in CHOP, no longs in RISK_OFF, half size when DECOUPLED', async () => {
    const file = sampleSlice('binance_BTC-USDT_2h.csv', 800);
    const risk = { ...NO_LIMITS, sizing: 'fraction', fraction: 0.4 };
    const ungated = await replay(file, risk, [{}]);
    const times = Object.values(ungated.store.data.signals).map((s) => s.barTime);
    expect(times.length).toBeGreaterThanOrEqual(8);
    // CHOP until the 3rd signal's bar, RISK_OFF until the 6th, then DECOUPLED.
    const [t1, t2] = [times[2]!, times[5]!];
    const stateAt = (now: number): Regime => (now <= t1 ? 'CHOP' : now <= t2 ? 'RISK_OFF' : 'DECOUPLED');
    const calls: Array<{ now: number; state: Regime }> = [];
    let engineNow = () => 0;
    const gate: EngineOptions['regimeGate'] = (side, confidence) => {
      const now = engineNow();
      const state = stateAt(now);
      calls.push({ now, state });
      const g = regimeGate(state, side, confidence);
      return g.ok ? { ...g, state } : g;
    };
    const t = await makeEngine({ file, risk, regimeGate: gate });
    engineNow = () => t.engine.now();
    const events: EngineEvent[] = [];
    t.engine.on((e) => events.push(e));
    await t.engine.startRun(
      { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'auto' },
      'test',
    );
    const ended = replayEnd(t.engine);
    await t.engine.start();
    await ended;
    await t.engine.stop();

    const signals = Object.values(t.store.data.signals);
    // The gate is asked once per entry the risk rules allow, at the clock of the signal's bar close.
    expect(calls).toHaveLength(signals.length);
    signals.forEach((sig, k) => {
      const { now, state } = calls[k]!;
      expect(now).toBe(sig.barTime + 2 * 3_600_000);
      if (state === 'CHOP') {
        expect(sig).toMatchObject({
          status: 'refused',
          reason: 'regime CHOP: no entries while the market ranges',
          quantity: 0,
        });
      } else if (state === 'RISK_OFF') {
        expect(sig).toMatchObject({ status: 'refused', reason: 'regime RISK_OFF: no longs', quantity: 0 });
      } else {
        expect(sig.regime).toBe('DECOUPLED x0.5');
        expect(sig.status).toBe('filled');
      }
    });
    expect(new Set(calls.map((c) => c.state))).toEqual(new Set(['CHOP', 'RISK_OFF', 'DECOUPLED']));
    const refusedEvent = events.find((e) => e.type === 'signal' && e.signal.status === 'refused');
    expect(refusedEvent && refusedEvent.type === 'signal' && refusedEvent.signal.reason).toMatch(/^regime /);
    // Nothing was bought before the regime let it. The first entry after is half what the account
    // would buy ungated: until then it is untouched, like the ungated run at its first signal, and
    // fraction sizing buys equity x fraction / price.
    const entries = [...(await t.store.journal.trades()), ...Object.values(t.store.data.positions)];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((p) => p.entryTime > t2)).toBe(true);
    const first = signals.find((s) => s.status !== 'refused')!;
    const base = Object.values(ungated.store.data.signals)[0]!;
    expect(base.status).toBe('filled');
    expect((first.quantity * first.price) / (base.quantity * base.price)).toBeCloseTo(0.5, 12);
  }, 60_000);

  it('fills the size it announced, regime factor included: auto, manual approve and half size', async () => {
    const file = seamless(sampleSlice('binance_BTC-USDT_2h.csv', 800));
    const risk = { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.01, defaultStop: 0.02 };
    const gate: EngineOptions['regimeGate'] = () => ({ ok: true, factor: 0.7, state: 'RISK_ON' });
    const run = async (approve: 'auto' | 'manual', regimeGate: typeof gate | null = gate) => {
      const t = await makeEngine({
        file,
        risk,
        settings: { slippageBps: 5 },
        ...(regimeGate ? { regimeGate } : {}),
      });
      const entries: Array<Extract<EngineEvent, { type: 'entry' }>> = [];
      let k = 0;
      t.engine.on((e) => {
        if (e.type === 'entry') entries.push(e);
        // Manual: approve one signal, take the next at half size, and so on.
        if (e.type === 'signal' && e.signal.status === 'pending')
          void t.engine.decide(e.signal.id, k++ % 2 === 0 ? 'approve' : 'half', 'tester');
      });
      await t.engine.startRun(
        { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve },
        'test',
      );
      const ended = replayEnd(t.engine);
      await t.engine.start();
      await ended;
      await t.engine.stop();
      return { entries, signals: Object.values(t.store.data.signals) };
    };

    const auto = await run('auto');
    expect(auto.entries.length).toBeGreaterThanOrEqual(4);
    for (const { position, signal } of auto.entries) {
      expect(signal.regime).toBe('RISK_ON x0.7');
      expect(position.initialQty).toBeCloseTo(signal.quantity, 12);
    }
    const manual = await run('manual');
    const shares = manual.entries.map(({ signal }) => signal.size);
    expect(shares).toContain(1);
    expect(shares).toContain(0.5);
    for (const { position, signal } of manual.entries)
      expect(position.initialQty).toBe(signal.quantity * signal.size!);
    // The announced size is the risk rules' size times 0.7: the first signal, on an untouched
    // account, is 0.7 of the ungated one's.
    const base = (await run('auto', null)).signals[0]!;
    expect(base.regime).toBeUndefined();
    expect(auto.signals[0]!.quantity / base.quantity).toBeCloseTo(0.7, 12);
    // And so is the risk it announces: 1% of equity ungated, 0.7% gated (it showed the ungated 1%).
    expect(base.risk).toBeCloseTo(100, 6);
    expect(auto.signals[0]!.risk / base.risk).toBeCloseTo(0.7, 12);
  }, 60_000);

  it('takes back, at start, a stored /risk change that no longer passes the bounds (it failed every candle)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bosun-risk-'));
    const before = await StateStore.open(dir);
    await before.update((s) => {
      s.settings.risk = { maxOpenPositions: 2.5, riskPerTrade: 0.02 };
    });
    const t = await makeEngine({ file: sampleSlice('binance_BTC-USDT_2h.csv', 300), dir });
    await t.engine.startRun(
      { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'auto' },
      'test',
    );
    const ended = replayEnd(t.engine);
    await t.engine.start();
    await ended;
    await t.engine.stop();
    // The whole number of positions went back to the configured one; the good change stays.
    expect(t.store.data.settings.risk).toEqual({ riskPerTrade: 0.02 });
    expect(t.engine.risk().maxOpenPositions).toBe(parseRiskSettings({}).maxOpenPositions);
    expect(Object.values(t.store.data.runs).map((r) => r.state)).toEqual(['active']);
  });

  it("sends a replay's daily reports only while a run is active or a position open", async () => {
    const day = async (stopFirst: boolean) => {
      const t = await makeEngine({ file: sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 3 * 1440) });
      const events: EngineEvent[] = [];
      t.engine.on((e) => events.push(e));
      const run = await t.engine.startRun(
        { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '15m', params: {}, approve: 'auto' },
        'test',
      );
      if (stopFirst) await t.engine.stopRun(run.id, 'test');
      const ended = replayEnd(t.engine);
      await t.engine.start();
      await ended;
      await t.engine.stop();
      return events.filter((e) => e.type === 'report').length;
    };
    // Three replayed days from 1 March 00:00: the clock passes midnight on 2, 3 and 4 March (the
    // last candle closes at 4 March 00:00), a report each while the run is on.
    expect(await day(false)).toBe(3);
    // Stopped before its first candle (no position): no reports at all.
    expect(await day(true)).toBe(0);
  });

  it('resumes after a stop mid-replay and ends with the trades of an uninterrupted replay', async () => {
    const file = sampleSlice('binance_BTC-USDT_2h.csv', 900);
    const risk = { ...NO_LIMITS, sizing: 'risk', riskPerTrade: 0.02, defaultStop: 0.03 };
    const whole = await replay(file, risk, [{ strategy: 'rsi-reversion' }]);

    const first = await makeEngine({ file, risk });
    await first.engine.startRun(
      { strategy: 'rsi-reversion', symbol: 'BTC/USDT', timeframe: '2h', params: {}, approve: 'auto' },
      'test',
    );
    await first.engine.start();
    await new Promise<void>((resolve) => {
      const off = first.engine.on(() => {
        if (first.feed.position > 450) {
          off();
          resolve();
        }
      });
    });
    await first.engine.stop();
    expect((await first.store.journal.trades()).length).toBeLessThan(
      (await whole.store.journal.trades()).length,
    );
    const second = await makeEngine({ file, risk, dir: first.dir });
    expect(second.feed.position).toBeGreaterThan(400);
    const ended = replayEnd(second.engine);
    await second.engine.start();
    await ended;
    await second.engine.stop();
    const strip = (t: TradeRecord[]) => t.map(({ id: _id, ...rest }) => rest);
    expect(strip(await second.store.journal.trades())).toEqual(strip(await whole.store.journal.trades()));
    expect(second.store.data.balances).toEqual(whole.store.data.balances);
  }, 60_000);
});

describe('performance numbers', () => {
  it('match a hand count: day PnL, realised, cumulative, win rates, unrealised, daily points', async () => {
    const trade = (exitTime: number, pnl: number): TradeRecord => ({
      id: `P${exitTime}`,
      runId: 'R1',
      symbol: 'BTC/USDT',
      quote: 'USDT',
      side: 'long',
      entryTime: exitTime - 3_600_000,
      entryPrice: 100,
      exitTime,
      exitPrice: 100,
      quantity: 1,
      pnl,
      returnPct: pnl / 100,
      fees: 0,
      exitReason: pnl > 0 ? 'take-profit' : 'stop',
      bars: 1,
      exits: [
        { time: exitTime, price: 100, quantity: 1, fee: 0, pnl, reason: pnl > 0 ? 'take-profit' : 'stop' },
      ],
    });
    // The history goes into a real journal; the open position is only in memory, as it would be.
    const store = await StateStore.open(mkdtempSync(join(tmpdir(), 'bosun-perf-')));
    await store.update((st) => {
      st.log.trades.push(
        trade(D1 + 10 * 3_600_000, 100),
        trade(D1 + DAY + 3_600_000, -40),
        trade(D1 + DAY + 5 * 3_600_000, 25),
        // Out at its entry price without fees: neither a win nor a loss.
        trade(D1 + DAY + 5.5 * 3_600_000, 0),
      );
      st.log.equity.push(
        { time: D1 + 12 * 3_600_000, quote: 'USDT', equity: 10_100 },
        { time: D1 + DAY, quote: 'USDT', equity: 10_100 },
        { time: D1 + DAY + 6 * 3_600_000, quote: 'USDT', equity: 10_085 },
      );
    });
    const s = {
      // After the trades: 10,000 + 100 - 40 + 25 = 10,085; then 0.5 BTC bought at 20,000 with a fee of 10.
      balances: { USDT: 75 },
      positions: {
        P9: {
          id: 'P9',
          runId: 'R2',
          symbol: 'BTC/USDT',
          quote: 'USDT',
          side: 1,
          qty: 0.5,
          entryPrice: 20_000,
          mark: 20_500,
          stop: 19_000,
          trailStop: null,
          targetPrices: [21_000],
          nextTarget: 0,
          exits: [],
        },
      },
    } as unknown as State;
    const now = D1 + DAY + 20 * 3_600_000;
    const rep = await performance(s, store.journal, {
      quote: 'USDT',
      initial: 10_000,
      cash: 75,
      from: D1 + DAY,
      to: now,
      tz: 'UTC',
    });
    // Equity: 75 cash + 0.5 x 20,500 = 10,325.
    expect(rep.equity).toBe(10_325);
    expect(rep.cumulativePnl).toBe(325);
    // The day began at 10,100 (the snapshot at midnight): 10,325 - 10,100.
    expect(rep.windowPnl).toBe(225);
    expect(rep.windowRealized).toBe(-15);
    expect([rep.windowTrades, rep.windowWins, rep.windowLosses]).toEqual([3, 1, 1]);
    expect([rep.allTrades, rep.allWins, rep.allLosses]).toEqual([4, 2, 1]);
    // Win rates count decided trades only: 1 of 2 in the window, 2 of 3 overall.
    expect(winRate(rep.windowWins, rep.windowLosses)).toBe(0.5);
    expect(winRate(rep.allWins, rep.allLosses)).toBeCloseTo(2 / 3, 12);
    expect(winRate(0, 0)).toBeUndefined();
    expect(rep.open).toEqual([
      expect.objectContaining({
        id: 'P9',
        side: 'long',
        quantity: 0.5,
        mark: 20_500,
        unrealized: 250,
        stop: 19_000,
        targets: [21_000],
      }),
    ]);
    expect(rep.days).toEqual([
      { time: D1, pnl: 100, equity: 10_100 },
      { time: D1 + DAY, pnl: 225, equity: 10_325 },
    ]);
  });
});
