import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { type PastedSignal, parseSignal } from '../src/chat/pasted.js';
import { price, signalReply } from '../src/chat/notices.js';
import { italic } from '../src/chat/reply.js';
import { badInput } from '../src/errors.js';
import type { AddLevel } from '../src/strategy/define.js';

export default defineCommand({
  name: 'paste',
  summary: 'Read a signal copied from a channel and offer to follow it (on Telegram, just paste it)',
  role: 'trader',
  args: z.object({
    text: z.string().min(3).max(2000).describe('the signal as the channel wrote it, in quotes'),
  }),
  positional: ['text'],
  examples: ['paste "BTC/USDT LONG Entry 27000 TP1 27500 TP2 28000 SL 26000"'],
  async run({ text }, ctx) {
    const parsed = parseSignal(text);
    if (!parsed)
      throw badInput(
        'that does not read as a signal; allowed: one pair with its quote (BTC/USDT), one side (long or short), and an entry or targets',
      );
    const { engine, trading, config } = ctx.services;
    if (parsed.side === 'short' && trading.mode === 'live')
      throw badInput(`${parsed.symbol} short: live trading is spot, shorts need a margin or futures account`);
    const signal = await engine.manualEntry(
      {
        symbol: parsed.symbol,
        side: parsed.side === 'long' ? 1 : -1,
        stop: parsed.stop,
        targets: parsed.targets.length > 0 ? parsed.targets : undefined,
        adds: zoneAdds(parsed),
        source: 'pasted signal',
      },
      ctx.caller.name,
    );
    const r = signalReply(signal, config.timezone, true);
    // What Follow would do differently from the text: nothing to say when there is no Follow.
    if (signal.status === 'pending')
      for (const line of notes(parsed, signal.price, engine.risk().defaultStop)) r.line(italic(line));
    return r;
  },
});

/**
 * An entry zone as an entry ladder: a third at the price when followed, a third resting at each end
 * of the zone (the near end first); an end the price is already at or beyond is bought at once.
 */
function zoneAdds(p: PastedSignal): AddLevel[] | undefined {
  if (!p.entry || p.entry.length < 2 || p.entry[0] === p.entry[1]) return undefined;
  const [lo, hi] = p.entry;
  return [
    { price: hi!, share: 1 / 3 },
    { price: lo, share: 1 / 3 },
  ];
}

/** What bosun does differently from the pasted text, said plainly. */
function notes(p: PastedSignal, now: number, defaultStop: number): string[] {
  const out: string[] = [];
  if (p.stop === undefined)
    out.push(
      defaultStop > 0
        ? `No stop: add one (paste it again with SL, or /adjust after) or the default stop of ${+(defaultStop * 100).toFixed(2)}% applies.`
        : 'No stop: add one (paste it again with SL, or /adjust after); without it the position has none.',
    );
  if (p.entry) {
    const [lo, hi = lo] = p.entry;
    const zone = lo === hi ? price(lo) : `${price(lo)} to ${price(hi)}`;
    if (lo !== hi)
      out.push(
        `Entry zone ${zone}: Follow enters a third at the price then (${price(now)} now) and rests a third at each end; an end the price has passed is entered at once.`,
      );
    else if (now !== lo)
      out.push(`Entry ${zone}: Follow enters at the price then (${price(now)} now), not at ${zone}.`);
  }
  if (p.leverage !== undefined && p.leverage !== 1)
    out.push(`Leverage ${p.leverage}x is not used: bosun trades without leverage, sized by the risk rules.`);
  return out;
}
