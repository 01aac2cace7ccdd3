import { z } from 'zod';
import { chatKey, defineCommand } from '../src/chat/command.js';
import { reply } from '../src/chat/reply.js';
import { NOTICE_CATEGORIES } from '../src/chat/categories.js';
import { badInput } from '../src/errors.js';

/** `signals,fills` -> the categories, checked. */
export function categories(text: string | undefined): string[] {
  if (text === undefined || text === 'all') return [...NOTICE_CATEGORIES];
  const list = text
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.find((c) => !(NOTICE_CATEGORIES as readonly string[]).includes(c));
  if (bad !== undefined)
    throw badInput(
      `"${bad}" is not a notification category; allowed: ${NOTICE_CATEGORIES.join(', ')} or all`,
    );
  return list;
}

export default defineCommand({
  name: 'subscribe',
  summary: 'Send notifications to this chat (all, or some categories)',
  role: 'viewer',
  args: z.object({
    categories: z
      .string()
      .optional()
      .describe(`comma-separated: ${NOTICE_CATEGORIES.join(', ')}, or all (default)`),
  }),
  positional: ['categories'],
  examples: ['subscribe', 'subscribe signals,approvals,alerts'],
  async run(args, ctx) {
    const wanted = categories(args.categories);
    const key = chatKey(ctx.chat);
    const muted = await ctx.services.store.update((s) => {
      const sub = (s.subscriptions[key] ??= { since: Date.now(), muted: [...NOTICE_CATEGORIES] });
      sub.muted = sub.muted.filter((c) => !wanted.includes(c));
      return [...sub.muted];
    });
    const on = NOTICE_CATEGORIES.filter((c) => !muted.includes(c));
    return reply(`This chat gets: ${on.join(', ')}.${muted.length ? ` Muted: ${muted.join(', ')}.` : ''}`);
  },
});
