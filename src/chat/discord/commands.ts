/**
 * Slash-command definitions generated from the command registry, and their registration: per guild
 * when `DISCORD_GUILD_ID` is set (instant), else global. Registration compares with what Discord
 * already has and only writes when something changed.
 */
import { REST, Routes } from 'discord.js';
import { argInfos, type ArgInfo } from '../args.js';
import type { Command, CommandCatalog } from '../command.js';

/** Discord's application command option types. */
const OPTION_TYPE = { string: 3, integer: 4, boolean: 5, number: 10 } as const;

export interface SlashOption {
  type: number;
  name: string;
  description: string;
  required: boolean;
  choices?: Array<{ name: string; value: string }>;
  autocomplete?: boolean;
  min_value?: number;
  max_value?: number;
}

export interface SlashCommand {
  name: string;
  description: string;
  type: 1;
  options: SlashOption[];
}

function option(a: ArgInfo): SlashOption {
  // Enums (with choices) and a rest of name=value pairs go as text, like strings.
  const type = OPTION_TYPE[a.type as keyof typeof OPTION_TYPE] ?? OPTION_TYPE.string;
  const o: SlashOption = {
    type,
    name: a.name,
    description: (a.description ?? a.name).slice(0, 100),
    required: a.required && !a.rest,
  };
  if (a.type === 'enum' && a.options && a.options.length <= 25)
    o.choices = a.options.map((v) => ({ name: v, value: v }));
  else if (a.complete) o.autocomplete = true;
  if ((a.type === 'integer' || a.type === 'number') && a.min !== undefined) o.min_value = a.min;
  if ((a.type === 'integer' || a.type === 'number') && a.max !== undefined) o.max_value = a.max;
  return o;
}

export function slashCommand(command: Command): SlashCommand {
  const options = argInfos(command).map(option);
  // Discord wants every required option before the optional ones.
  options.sort((x, y) => Number(y.required) - Number(x.required));
  return { name: command.name, description: command.summary, type: 1, options };
}

export function slashCommands(registry: CommandCatalog): SlashCommand[] {
  return registry.all().map(slashCommand);
}

/** The fields Discord echoes back that we set, for comparing with what is registered. */
function comparable(cmds: readonly SlashCommand[]): string {
  const norm = cmds
    .map((c) => ({
      name: c.name,
      description: c.description,
      options: (c.options ?? []).map((o) => ({
        type: o.type,
        name: o.name,
        description: o.description,
        required: Boolean(o.required),
        choices: o.choices ?? [],
        autocomplete: Boolean(o.autocomplete),
        min_value: o.min_value ?? null,
        max_value: o.max_value ?? null,
      })),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return JSON.stringify(norm);
}

export interface DeployResult {
  scope: string;
  count: number;
  changed: boolean;
}

/** Register the slash commands unless Discord already has exactly these. */
export async function deployCommands(
  rest: REST,
  applicationId: string,
  commands: readonly SlashCommand[],
  guildId?: string,
): Promise<DeployResult> {
  const route = guildId
    ? Routes.applicationGuildCommands(applicationId, guildId)
    : Routes.applicationCommands(applicationId);
  const scope = guildId ? `guild ${guildId}` : 'global';
  const existing = (await rest.get(route)) as SlashCommand[];
  if (comparable(existing) === comparable(commands)) return { scope, count: commands.length, changed: false };
  await rest.put(route, { body: commands });
  return { scope, count: commands.length, changed: true };
}

export function restClient(token: string, apiRoot: string): REST {
  return new REST({ api: apiRoot }).setToken(token);
}

export async function applicationId(rest: REST): Promise<string> {
  return ((await rest.get(Routes.currentApplication())) as { id: string }).id;
}
