import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { reply } from '../src/chat/reply.js';
import { AppError } from '../src/errors.js';

export default defineCommand({
  name: 'web',
  summary: 'A link to the web view (works once, within 5 minutes; private chats only)',
  role: 'viewer',
  args: z.object({}),
  async run(_args, ctx) {
    const web = ctx.services.web;
    if (!web)
      throw new AppError(
        'BAD_CONFIG',
        'the web view is off: it needs the HTTP server (HTTP_PORT) and the address your browser reaches it at (WEB_URL)',
      );
    // Whoever opens the link first is signed in as you: never in a group.
    if (!ctx.chat.private)
      return reply('Send /web in a private chat with me: a link in a group could be opened by anyone.');
    const link = web.link({
      platform: ctx.caller.platform,
      id: ctx.caller.id,
      name: ctx.caller.name,
      role: ctx.caller.role,
    });
    return reply('Your web view link (it works once, within 5 minutes):').line(link).privately();
  },
});
