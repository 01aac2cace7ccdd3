/**
 * The words of a trade by hand, shared by /buy and /sell (and the pasted-signal reader): a size in
 * the base currency or an amount of the quote (`0.01`, `0.01BTC`, `250USDT`), a take-profit ladder
 * (`tp=71000,72500`) and a trailing stop as a percentage (`trail=2%`). Each mistake is one line that
 * says what is allowed.
 */
import { z } from 'zod';
import { badInput } from '../errors.js';
import { checkAdds } from '../backtest/run.js';
import { parseAdds } from '../cli/args.js';
import type { AddLevel } from '../strategy/define.js';
import { baseOf, quoteOf } from '../market/symbol.js';
import { defineCommand } from './command.js';
import { signalReply } from './notices.js';

/** The zod fields /buy and /sell share. */
export const manualArgs = {
  symbol: z
    .string()
    .regex(/^[A-Za-z0-9]{2,15}\/[A-Za-z0-9]{2,10}$/)
    .describe('the market, e.g. BTC/USDT')
    .meta({ complete: 'symbol' }),
  size: z
    .string()
    .regex(/^\d+(\.\d+)?([A-Za-z]{2,10})?$/)
    .optional()
    .describe('how much: 0.01 (base), 0.01BTC, or 250USDT (quote); none: the risk manager sizes it'),
  stop: z.number().positive().optional().describe('the stop price (none: the default stop applies)'),
  tp: z
    .string()
    .regex(/^\d+(\.\d+)?(,\d+(\.\d+)?){0,9}$/)
    .optional()
    .describe('take-profit prices, nearest first, comma-separated: each closes an equal share'),
  trail: z
    .string()
    .regex(/^\d+(\.\d+)?%$/)
    .optional()
    .describe('a trailing stop this far behind the best price, e.g. 2%'),
  adds: z
    .string()
    .max(200)
    .optional()
    .describe('adds after the first fill: dca:TIMES:STEP (dca:2:1.5%) or DISTANCE:SHARE,... (2%:25%,4%:25%)'),
};

/** An `adds=` as add levels, checked (at most 10, shares leaving the first fill some). */
export function addsOf(text: string | undefined): AddLevel[] | undefined {
  if (text === undefined) return undefined;
  try {
    const adds = parseAdds(text, 'adds');
    checkAdds(adds);
    return adds;
  } catch (err) {
    // The CLI's words for the option, as this chat writes it.
    if (err instanceof Error) err.message = err.message.replaceAll('--adds', 'adds=');
    throw err;
  }
}

/** The quantity in the base currency a size asks for, at `price`; undefined: the risk manager's. */
export function quantityOf(size: string | undefined, symbol: string, price: number): number | undefined {
  if (size === undefined) return undefined;
  const [, amount, unit] = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(size)!;
  const n = Number(amount);
  if (!(n > 0)) throw badInput(`size ${size} is not above zero; allowed: a positive amount`);
  const base = baseOf(symbol);
  const quote = quoteOf(symbol);
  const u = (unit ?? '').toUpperCase();
  if (u === '' || u === base) return n;
  if (u === quote) return n / price;
  throw badInput(
    `size ${size}: ${u} is neither ${base} nor ${quote}; allowed: 0.01, 0.01${base} or 250${quote}`,
  );
}

/** The take-profit ladder a `tp=` gives. */
export function ladderOf(tp: string | undefined): number[] | undefined {
  return tp === undefined ? undefined : tp.split(',').map(Number);
}

/** A `trail=2%` as a fraction (0.02), between 0.1 % and 50 %. */
export function trailOf(trail: string | undefined): number | undefined {
  if (trail === undefined) return undefined;
  const pct = Number(trail.slice(0, -1));
  if (!(pct >= 0.1 && pct <= 50)) throw badInput(`trail=${trail} is out of range; allowed: 0.1% to 50%`);
  return pct / 100;
}

/**
 * /buy or /sell: a trade by hand, shown as a preview (entry, stop, targets, size, risk, R:R) with
 * Confirm and Cancel; nothing is sent before the Confirm.
 */
export function tradeCommand(side: 'buy' | 'sell') {
  const long = side === 'buy';
  return defineCommand({
    name: side,
    summary: long
      ? 'Buy by hand: a long sized and checked by the risk rules, after your Confirm'
      : 'Sell short by hand (paper only: live is spot), checked by the risk rules, after your Confirm',
    role: 'trader',
    args: z.object(manualArgs),
    positional: ['symbol', 'size'],
    examples: long
      ? [
          'buy BTC/USDT',
          'buy BTC/USDT 0.01 stop=58000 tp=66000,70000',
          'buy ETH/USDT 250USDT trail=3%',
          'buy BTC/USDT 0.03 stop=55000 adds=dca:2:2%',
        ]
      : ['sell BTC/USDT', 'sell ETH/USDT 0.5 stop=3900 tp=3500'],
    async run(a, ctx) {
      const { engine, trading, config } = ctx.services;
      if (!long && trading.mode === 'live')
        throw badInput(
          'live trading is spot: shorts need a margin or futures account; allowed: /buy, and /exit ID to sell a position',
        );
      const symbol = a.symbol.toUpperCase();
      const price = await engine.feed.price(symbol).catch(() => Number.NaN);
      const signal = await engine.manualEntry(
        {
          symbol,
          side: long ? 1 : -1,
          quantity: a.size === undefined ? undefined : quantityOf(a.size, symbol, price),
          stop: a.stop,
          targets: ladderOf(a.tp),
          trail: trailOf(a.trail),
          adds: addsOf(a.adds),
        },
        ctx.caller.name,
      );
      const r = signalReply(signal, config.timezone, true);
      if (signal.signalStop === null && signal.status !== 'refused')
        r.line(
          signal.stop === null
            ? 'No stop: add one with stop=PRICE; without it the position has none.'
            : `No stop given: the default stop of ${+(engine.risk().defaultStop * 100).toFixed(2)}% applies (stop=PRICE sets your own).`,
        );
      return r;
    },
  });
}
