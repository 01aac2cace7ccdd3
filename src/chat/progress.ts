/**
 * A progress message for long commands: sent once, then edited at each 10% step, but no more often
 * than every `minIntervalMs` (chat platforms rate-limit edits, and a fast job needs no running
 * commentary), and always at the end.
 */
import type { CommandContext, SentMessage } from './command.js';
import { reply } from './reply.js';

export interface Progress {
  update(fraction: number, phase: string): Promise<void>;
  /** The last edit: 100% with a closing phrase. */
  done(phase: string): Promise<void>;
}

export async function startProgress(
  ctx: Pick<CommandContext, 'send'>,
  title: string,
  options: { minIntervalMs?: number; now?: () => number } = {},
): Promise<Progress> {
  const minInterval = options.minIntervalMs ?? 1000;
  const now = options.now ?? Date.now;
  const render = (pct: number, phase: string) => reply().line(`${title}: ${bar(pct)} ${pct}% ${phase}`);
  const message: SentMessage = await ctx.send(render(0, 'starting'));
  let shownStep = 0;
  let lastEdit = now();
  return {
    async update(fraction, phase) {
      const step = Math.floor(Math.min(1, Math.max(0, fraction)) * 10);
      if (step <= shownStep || step >= 10 || now() - lastEdit < minInterval) return;
      shownStep = step;
      lastEdit = now();
      await message.edit(render(step * 10, phase));
    },
    async done(phase) {
      await message.edit(render(100, phase));
    },
  };
}

function bar(pct: number): string {
  const filled = Math.round(pct / 10);
  return `[${'#'.repeat(filled)}${'.'.repeat(10 - filled)}]`;
}
