import { z } from 'zod';
import { allowed, argInfos, argsFromWords, tokenize, usageLine, validateArgs } from '../src/chat/args.js';
import { type Command, defineCommand } from '../src/chat/command.js';
import { HELP_GROUPS, helpLines } from '../src/chat/registry.js';
import { bold, code, reply } from '../src/chat/reply.js';
import { closest } from '../src/config.js';
import { harmless, shorten } from '../src/echo.js';
import { AppError } from '../src/errors.js';

export default defineCommand({
  name: 'help',
  summary: 'List the commands you may use, or explain one',
  role: 'viewer',
  args: z.object({
    command: z
      .string()
      .regex(/^\/?[a-z0-9_]+$/i)
      .optional()
      .describe('a command name, to explain that one')
      .meta({ complete: 'command' }),
  }),
  positional: ['command'],
  examples: ['help', 'help backtest'],
  run({ command: name }, ctx) {
    const { registry } = ctx.services;
    const role = ctx.caller.role;
    if (name === undefined) {
      const r = reply().line(bold('bosun commands'), ` (you are ${role === 'admin' ? 'an' : 'a'} ${role})`);
      const lines = helpLines(registry, role);
      for (const group of [...HELP_GROUPS.map(([g]) => g), 'More']) {
        const mine = lines.filter((l) => l.group === group);
        if (mine.length === 0) continue;
        r.line('').line(bold(group));
        for (const { usage, summary } of mine) r.line(code(usage)).line(`   ${summary}`);
      }
      return r.line('').line('Send ', code('/help COMMAND'), ' for the arguments of one, with examples.');
    }
    const visible = registry.forRole(role);
    const command = visible.find((c) => c.name === name.replace(/^\//, '').toLowerCase());
    if (!command) {
      const near = closest(
        name,
        visible.map((c) => c.name),
      );
      throw new AppError(
        'NOT_FOUND',
        `there is no /${harmless(shorten(name.replace(/^\//, '')))} for you${near ? ` (did you mean /${near}?)` : ''}; send /help for the list`,
      );
    }
    const r = reply()
      .line(bold(`/${command.name}`), ` - ${command.summary}`)
      .line(code(usageLine(command)));
    const args = argInfos(command);
    if (args.length > 0) {
      r.table(
        args.map((a) => [
          a.rest ? 'name=value' : a.name,
          a.required ? 'required' : a.default !== undefined ? `default ${String(a.default)}` : 'optional',
          a.rest ? (a.description ?? '') : allowed(a),
        ]),
        { header: ['argument', '', 'allowed'] },
      );
    }
    if (command.examples?.length) {
      r.line('Examples:');
      for (const e of command.examples) r.line(code(`/${e}`));
    }
    return r.line(`Needs the ${command.role} role${moreNeeds(command)}.`);
  },
});

/**
 * What some uses of a command need beyond its role, read from its examples through its own `needs`
 * ("; starting a run needs the trader role"), so help never says less than the command will ask.
 */
function moreNeeds(command: Command): string {
  const needs = new Map<string, string>();
  for (const example of command.examples ?? []) {
    try {
      const args = validateArgs(command, argsFromWords(command, tokenize(example).slice(1)));
      const need = command.needs?.(args);
      if (need && need.role !== command.role) needs.set(need.what, need.role);
    } catch {
      // An example that does not parse says nothing about roles (the examples test catches it).
    }
  }
  return [...needs].map(([what, role]) => `; ${what} needs the ${role} role`).join('');
}
