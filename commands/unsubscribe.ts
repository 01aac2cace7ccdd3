import { z } from 'zod';
import { chatKey, defineCommand } from '../src/chat/command.js';
import { reply } from '../src/chat/reply.js';
import { NOTICE_CATEGORIES } from '../src/chat/categories.js';
import { categories } from './subscribe.js';

export default defineCommand({
  name: 'unsubscribe',
  summary: 'Stop notifications in this chat (all, or mute some categories)',
  role: 'viewer',
  args: z.object({
    categories: z
      .string()
      .optional()
      .describe('categories to mute, comma-separated (see /subscribe), or all (default)'),
  }),
  positional: ['categories'],
  examples: ['unsubscribe', 'unsubscribe reports'],
  async run(args, ctx) {
    const key = chatKey(ctx.chat);
    if (!(key in ctx.services.store.data.subscriptions)) return reply('This chat gets no notifications.');
    const muting = categories(args.categories);
    const left = await ctx.services.store.update((s) => {
      const sub = s.subscriptions[key]!;
      sub.muted = [...new Set([...sub.muted, ...muting])];
      if (sub.muted.length >= NOTICE_CATEGORIES.length) delete s.subscriptions[key];
      return s.subscriptions[key] ? NOTICE_CATEGORIES.filter((c) => !sub.muted.includes(c)) : [];
    });
    return reply(
      left.length === 0
        ? 'This chat gets no more notifications; /subscribe to get them again.'
        : `This chat still gets: ${left.join(', ')}.`,
    );
  },
});
