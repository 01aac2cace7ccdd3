/**
 * Inbound webhooks: an alert (JSON or TradingView-style text) becomes a signal of a named run,
 * taken like the run's own (approval in the chats, or the next open), answered with its outcome;
 * a wrong secret, a bad body, an unknown run are each one line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseAlert } from '../../src/http/hooks.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

const SECRET = 'hook0123456789abcdefghijklmnop';

let t: TestBot | undefined;
afterEach(async () => {
  await t?.bot.stop();
  t = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whatever JSON came
type Json = any;

async function hook(body: string, secret = SECRET, method = 'POST'): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${t!.bot.httpUrl}/hooks/signal/${secret}`, {
    method,
    ...(method === 'POST' ? { body } : {}),
  });
  return { status: res.status, json: (await res.json()) as Json };
}

describe('an alert body', () => {
  it('is read as JSON or as a line of text', () => {
    expect(parseAlert('{"run":"r2","side":"buy","stop":"95.5","message":"RSI under 30"}')).toEqual({
      run: 'R2',
      action: 'long',
      stop: 95.5,
      note: 'RSI under 30',
    });
    expect(parseAlert('R1 long stop=95 target=110 breakout on volume')).toEqual({
      run: 'R1',
      action: 'long',
      stop: 95,
      target: 110,
      note: 'breakout on volume',
    });
    expect(parseAlert('R1 close')).toEqual({ run: 'R1', action: 'exit' });
  });

  it('is refused in one line when it is not one', () => {
    expect(parseAlert('R1 sell')).toBe(
      'the action "sell" is ambiguous; allowed: short (open a short) or exit (close the position)',
    );
    expect(parseAlert('R1 moon')).toBe('the action "moon" is not known; allowed: long, short or exit');
    expect(parseAlert('BTC long')).toMatch(/^run is not right \(.*\); allowed: a run \(e\.g\. R1\)/);
    expect(parseAlert('R1 long stop=-3')).toMatch(/^stop is not right/);
    expect(parseAlert('{"run":')).toMatch(/^the body is not JSON; allowed: /);
  });
});

describe('POST /hooks/signal/SECRET', () => {
  it('makes a signal of a manual run that waits for approval, with the alert in its note', async () => {
    t = await startTestBot({
      HTTP_PORT: '0',
      HOOK_SECRET: SECRET,
      REPLAY_RUNS: 'rsi-reversion BTC/USDT 15m approve=manual',
      REPLAY_SPEED: '1',
    });
    const price = await t.bot.services.engine.feed.price('BTC/USDT');
    const stop = Math.round(price * 0.98);
    const r = await hook(`R1 long stop=${stop} oversold on the 15m`);
    expect(r.status).toBe(200);
    expect(r.json.signal).toMatchObject({ status: 'pending', side: 'long', price, stop });
    expect(r.json.detail).toBe(`signal ${r.json.signal.id} waits for approval in the chats`);
    const sig = t.bot.services.engine.state.signals[r.json.signal.id]!;
    expect(sig.note).toBe('alert from webhook: oversold on the 15m');
    expect(t.logText()).not.toContain(SECRET);
  });

  it("queues an auto run's signal for the next open, where it fills; an exit closes it at the one after", async () => {
    t = await startTestBot({
      HTTP_PORT: '0',
      HOOK_SECRET: SECRET,
      REPLAY_RUNS: 'rsi-reversion BTC/USDT 15m approve=auto',
      REPLAY_SPEED: '60',
    });
    const r = await hook(JSON.stringify({ run: 'R1', action: 'long' }));
    expect(r.json.signal.status).toBe('approved');
    const engine = () => t!.bot.services.engine;
    let deadline = Date.now() + 10_000;
    while (Object.keys(engine().state.positions).length === 0 && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
    const pos = Object.values(engine().state.positions)[0]!;
    expect(pos.signalId).toBe(r.json.signal.id);
    expect(await hook('R1 long')).toEqual({
      status: 400,
      json: { error: `run R1 already holds ${pos.id}; send an exit first` },
    });
    expect((await hook('R1 exit')).json).toEqual({ detail: `${pos.id} exits at the next open` });
    deadline = Date.now() + 10_000;
    while (engine().state.positions[pos.id] && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
    const trades = await engine().store.journal.trades();
    expect(trades.map((x) => [x.id, x.exitReason])).toEqual([[pos.id, 'signal']]);
  }, 30_000);

  it('refuses a second entry while one waits, calls it off on an exit, and allows a reversal after an exit', async () => {
    t = await startTestBot({
      HTTP_PORT: '0',
      HOOK_SECRET: SECRET,
      REPLAY_RUNS: 'rsi-reversion BTC/USDT 2h approve=auto',
      REPLAY_SPEED: '0.1',
    });
    const first = (await hook('R1 long')).json.signal;
    expect(first.status).toBe('approved');
    expect(await hook('R1 long')).toEqual({
      status: 400,
      json: { error: `run R1 already has ${first.id} waiting for the next open; send an exit to cancel it` },
    });
    expect(await hook('R1 exit')).toEqual({ status: 200, json: { detail: `${first.id} called off` } });
    const s = t.bot.services.engine.state;
    expect(s.signals[first.id]).toMatchObject({
      status: 'skipped',
      reason: 'called off by an exit alert from webhook',
    });
    expect(s.runs.R1!.pendingEntry).toBeUndefined();
    expect(await hook('R1 exit')).toEqual({
      status: 400,
      json: { error: 'run R1 has no open position or waiting entry to exit' },
    });
    expect((await hook('R1 long')).json.signal.status).toBe('approved');
  });

  it('refuses a wrong secret, a wrong method, a bad body and an unknown run, in one line each', async () => {
    t = await startTestBot({ HTTP_PORT: '0', HOOK_SECRET: SECRET, REPLAY_RUNS: 'none' });
    expect(await hook('R1 long', 'wrong0123456789abcdefghijklmnop')).toEqual({
      status: 401,
      json: { error: 'that hook is not known; allowed: /hooks/signal/ with HOOK_SECRET' },
    });
    expect((await hook('', SECRET, 'GET')).status).toBe(405);
    expect((await hook('R1 sell')).status).toBe(400);
    expect(await hook('R7 long')).toEqual({ status: 404, json: { error: 'no run R7; no run yet' } });
  });

  it('is not there without HOOK_SECRET', async () => {
    t = await startTestBot({ HTTP_PORT: '0', REPLAY_RUNS: 'none' });
    expect((await hook('R1 long')).status).toBe(404);
  });
});
