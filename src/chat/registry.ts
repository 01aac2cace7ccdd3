/**
 * The command registry: every file in `commands/` is one command, named like its file. Loading
 * checks each module against the contract (a malformed one stops start-up with the file and the
 * reason), rejects two commands with one name, and derives help and usage from the schemas.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AppError } from '../errors.js';
import { moduleFiles } from '../paths.js';
import { argInfos, usageLine } from './args.js';
import { type Command, type CommandCatalog, isCommand, ROLES, type Role, roleAllows } from './command.js';

/** `commands/` beside `src/` (in the source tree and in dist/ alike). */
export const COMMANDS_DIR = fileURLToPath(new URL('../../commands/', import.meta.url));

const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;

export class CommandRegistry implements CommandCatalog {
  private readonly byName = new Map<string, Command>();

  constructor(commands: readonly Command[], origins: readonly string[] = []) {
    commands.forEach((command, i) => {
      const origin = origins[i] ?? command.name;
      checkCommand(command, origin);
      if (this.byName.has(command.name))
        throw new AppError('INTERNAL', `${origin}: a command named "${command.name}" is already defined`);
      this.byName.set(command.name, command);
    });
  }

  get(name: string): Command | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** Every command, sorted by name. */
  all(): Command[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The commands a role may run. */
  forRole(role: Role): Command[] {
    return this.all().filter((c) => roleAllows(role, c.role));
  }
}

/** Load and check every command in a directory. */
export async function loadCommands(dir = COMMANDS_DIR): Promise<CommandRegistry> {
  const commands: Command[] = [];
  const origins: string[] = [];
  for (const [name, path] of moduleFiles(dir, 'commands')) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    } catch (err) {
      throw new AppError('INTERNAL', `${path}: cannot be loaded (${(err as Error).message})`, { cause: err });
    }
    if (!isCommand(mod.default))
      throw new AppError(
        'INTERNAL',
        `${path}: the default export must be a command made with defineCommand()`,
      );
    if (mod.default.name !== name)
      throw new AppError(
        'INTERNAL',
        `${path}: command is named "${mod.default.name}" but its file is ${name}; they must match`,
      );
    commands.push(mod.default);
    origins.push(path);
  }
  return new CommandRegistry(commands, origins);
}

/** Check a command against the contract; the message names the origin and the rule broken. */
function checkCommand(command: Command, origin: string): void {
  const fail = (why: string) => new AppError('INTERNAL', `${origin}: ${why}`);
  if (!NAME_RE.test(command.name))
    throw fail(`name "${command.name}" must be 1-32 lower case letters, digits or _`);
  if (typeof command.summary !== 'string' || command.summary.length < 3 || command.summary.length > 100)
    throw fail('summary must be 3 to 100 characters');
  if (!ROLES.includes(command.role)) throw fail(`role must be one of ${ROLES.join(', ')}`);
  if (typeof command.run !== 'function') throw fail('run must be a function');
  const shape = (command.args as { shape?: unknown } | undefined)?.shape;
  if (typeof shape !== 'object' || shape === null) throw fail('args must be a z.object');
  const names = Object.keys(shape);
  for (const p of command.positional ?? []) {
    if (!names.includes(p)) throw fail(`positional argument "${p}" is not in args`);
  }
  if (command.rest !== undefined && !names.includes(command.rest))
    throw fail(`rest argument "${command.rest}" is not in args`);
  let optionalSeen = false;
  for (const a of argInfos(command)) {
    if (!NAME_RE.test(a.name)) throw fail(`argument "${a.name}" must be lower case letters, digits or _`);
    if (!a.description || a.description.length > 100)
      throw fail(`argument "${a.name}" needs a description of at most 100 characters (.describe())`);
    if (a.positional && !a.rest) {
      if (a.required && optionalSeen) throw fail(`required positional "${a.name}" follows an optional one`);
      if (!a.required) optionalSeen = true;
    }
  }
}

/** Help for one role: a usage line and summary per command it may run. */
export function helpLines(
  registry: CommandCatalog,
  role: Role,
): Array<{ usage: string; summary: string; group: string }> {
  return registry
    .forRole(role)
    .map((c) => ({ usage: usageLine(c), summary: c.summary, group: groupOf(c.name) }));
}

/**
 * What a person wants to do, and the commands that do it, in the order /help shows them. A command
 * not named here (one added in commands/ without a place yet) is listed under "More".
 */
export const HELP_GROUPS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['See how things stand', ['status', 'positions', 'balance', 'pnl', 'trades', 'stats', 'daily', 'web']],
  ['Trade by hand', ['buy', 'sell', 'paste', 'exit', 'adjust', 'close', 'panic']],
  ['Decide on signals and be told', ['approve', 'reject', 'alert', 'alerts', 'subscribe', 'unsubscribe']],
  ['Run strategies', ['start', 'stop', 'runs', 'strategies']],
  ['Research a market', ['chart', 'scan', 'regime', 'pairlist', 'backtest', 'backtests', 'compare']],
  ['Settings', ['risk', 'settings', 'mode', 'help']],
];

export function groupOf(command: string): string {
  return HELP_GROUPS.find(([, names]) => names.includes(command))?.[0] ?? 'More';
}
