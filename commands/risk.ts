import { z } from 'zod';
import { defineCommand } from '../src/chat/command.js';
import { bold, reply } from '../src/chat/reply.js';
import { RISK_HELP, type RiskSettings } from '../src/engine/risk.js';
import { echo } from '../src/echo.js';
import { badInput } from '../src/errors.js';
import { coerceText } from '../src/strategy/params.js';

const show = (r: RiskSettings) =>
  (Object.keys(RISK_HELP) as Array<keyof RiskSettings>).map((k) => [k, String(r[k]), RISK_HELP[k]]);

export default defineCommand({
  name: 'risk',
  summary: 'Show the risk rules; admins change them (name=value) or clear the kill-switch (resume)',
  role: 'viewer',
  args: z.object({
    action: z
      .enum(['show', 'resume'])
      .default('show')
      .describe('show (default), or resume after the kill-switch (admins)'),
    changes: z
      .record(z.string(), z.string())
      .optional()
      .describe('settings to change as name=value, e.g. riskPerTrade=0.005 (admins)'),
  }),
  positional: ['action'],
  rest: 'changes',
  needs: ({ action, changes }) =>
    action === 'resume' || Object.keys(changes ?? {}).length > 0
      ? { role: 'admin', what: 'changing risk settings' }
      : undefined,
  examples: ['risk', 'risk maxOpenPositions=3 riskPerTrade=0.005', 'risk resume'],
  async run({ action, changes }, ctx) {
    const engine = ctx.services.engine;
    if (action === 'resume') {
      const cleared = await engine.resume(ctx.caller.name);
      return reply(
        cleared
          ? 'Kill-switch cleared. Runs stay stopped: /start them again when ready.'
          : 'The kill-switch is not on.',
      );
    }
    if (changes && Object.keys(changes).length > 0) {
      const typed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(changes)) {
        if (!Object.hasOwn(RISK_HELP, k))
          throw badInput(`unknown risk setting ${echo(k)}; allowed: ${Object.keys(RISK_HELP).join(', ')}`);
        const help = RISK_HELP[k as keyof RiskSettings];
        // Text to a finite number here: Number('NaN') would reach the rules as NaN, shown as null.
        typed[k] = coerceText(v, { type: k === 'sizing' ? 'string' : 'number' }, () =>
          badInput(`risk setting ${k} is ${echo(v)}; allowed: ${help}`),
        );
      }
      const now = await engine.setRisk(typed, ctx.caller.name);
      return reply()
        .line(
          bold('Risk settings changed'),
          ` by ${ctx.caller.name}: ${Object.entries(changes)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        )
        .table(show(now), { header: ['Setting', 'Value', 'Meaning'] });
    }
    const kill = ctx.services.engine.state.engine.killSwitch;
    const r = reply().line(bold('Risk rules'));
    if (kill) r.line(bold('Kill-switch on: '), kill.reason);
    return r.table(show(engine.risk()), { header: ['Setting', 'Value', 'Meaning'] });
  },
});
