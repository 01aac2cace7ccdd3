import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { alertText, parseAlert } from '../src/chat/price-alerts.js';
import { reply } from '../src/chat/reply.js';
import { AppError, badInput } from '../src/errors.js';

const word = (what: string) => z.string().max(40).optional().describe(what);

export default defineCommand({
  name: 'alert',
  summary: 'Be told when a price, an indicator or a position crosses a level; off ID removes one',
  role: 'trader',
  args: z.object({
    subject: z.string().max(40).describe('a market like BTC/USDT, a position like P12, or off'),
    a: word(
      'the condition, word by word: > 70000, rsi14 < 30, pnl > 5%, near stop 1%, or an alert id after off',
    ),
    b: word('the condition, continued'),
    c: word('the condition, continued'),
    d: word('the condition, continued: on 1h'),
    e: word('the condition, continued'),
    f: word('repeat, to be told at every crossing'),
  }),
  positional: ['subject', 'a', 'b', 'c', 'd', 'e', 'f'],
  usage: '/alert SYMBOL|ID CONDITION [on TIMEFRAME] [repeat], or /alert off ID',
  examples: [
    'alert BTC/USDT > 70000',
    'alert ETH/USDT rsi14 < 30 on 1h',
    'alert P12 pnl > 5%',
    'alert P12 near stop 1% repeat',
    'alert off A7',
  ],
  async run({ subject, a, b, c, d, e, f }, ctx) {
    const alerts = ctx.services.alerts;
    if (!alerts) throw new AppError('INTERNAL', 'alerts are not running yet; try again in a moment');
    const words = [a, b, c, d, e, f].filter((x): x is string => x !== undefined);
    if (subject.toLowerCase() === 'off') {
      if (words.length !== 1 || !/^A\d+$/i.test(words[0]!))
        throw badInput('which one? /alert off ID, the ids are in /alerts');
      const gone = await alerts.remove(words[0]!);
      if (!gone) throw new AppError('NOT_FOUND', `no alert ${words[0]!.toUpperCase()}; /alerts lists them`);
      return reply(`Alert ${words[0]!.toUpperCase()} removed.`);
    }
    const ask = parseAlert([subject, ...words]);
    const chat = `${ctx.chat.platform}:${ctx.chat.id}`;
    const made = await alerts.add(ask, chat, ctx.caller.name);
    return reply(
      `Alert ${made.id} set: ${alertText(made)}. I will tell this chat${made.repeat ? ' at each crossing' : ' once'}.`,
    ).line(`/alerts lists them; /alert off ${made.id} removes it.`);
  },
});
