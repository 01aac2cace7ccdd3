/** A strategy's note on a signal (ict-confluence: which of its six conditions held) reaches the message. */
import { describe, expect, it } from 'vitest';
import { signalReply } from '../../src/chat/notices.js';
import { renderMessages } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import type { SignalRecord } from '../../src/store/state.js';

const base: SignalRecord = {
  id: 'S7',
  runId: 'R1',
  symbol: 'BTC/USDT',
  timeframe: '15m',
  strategy: 'ict-confluence',
  side: 'long',
  barTime: Date.UTC(2023, 2, 10, 12),
  createdAt: Date.UTC(2023, 2, 10, 12, 15),
  price: 20_000,
  signalStop: 19_800,
  signalTarget: 20_600,
  stop: 19_800,
  targets: [20_600],
  quantity: 0.1,
  risk: 20,
  rewardRisk: 3,
  status: 'pending',
  expiresAt: Date.UTC(2023, 2, 10, 12, 45),
  messages: [],
  indicators: {},
};

describe('signal message', () => {
  it('lists the conditions the strategy gave as its note', () => {
    const note =
      '4/6 (min 3): ✓ 4h bias bullish, ✓ 1h OB, ✓ CHOCH, ✗ FVG, ✓ liquidity sweep, ✗ higher highs and lows';
    const text = renderMessages(signalReply({ ...base, note }, 'UTC', true).blocks, TELEGRAM_HTML).join('\n');
    expect(text).toContain(`Why: ${note}`);
  });

  it('offers no Half size when half would be under the exchange minimums, and says why', () => {
    const labels = (sig: SignalRecord) =>
      signalReply(sig, 'UTC', true)
        .actions.flat()
        .map((x) => x.label);
    expect(labels(base)).toEqual(['Approve', 'Half size', 'Reject']);
    const small = { ...base, noHalf: "half is under the exchange's minimums" };
    expect(labels(small)).toEqual(['Approve', 'Reject']);
    const text = renderMessages(signalReply(small, 'UTC', true).blocks, TELEGRAM_HTML).join('\n');
    expect(text).toContain("Half size: not offered (half is under the exchange's minimums).");
  });

  it('has no Why line when the strategy gave no note', () => {
    const text = renderMessages(signalReply(base, 'UTC', true).blocks, TELEGRAM_HTML).join('\n');
    expect(text).not.toContain('Why:');
  });
});
