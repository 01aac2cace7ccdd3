/**
 * `npm run discord:deploy`: register bosun's slash commands with Discord, in the guild of
 * `DISCORD_GUILD_ID` (instant) or globally. Nothing is written when Discord already has exactly
 * these commands. The bot also does this at start, so this is for deploying ahead of a restart.
 */
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseCommandArgs } from './args.js';

export const DISCORD_DEPLOY_USAGE =
  'Usage: npm run discord:deploy (needs DISCORD_BOT_TOKEN; DISCORD_GUILD_ID for one server)';

export async function discordDeployCommand(argv: string[], config: Config, _logger: Logger): Promise<number> {
  parseCommandArgs('discord:deploy', argv, { verbose: { type: 'boolean' } } as const);
  if (!config.discord.token)
    throw new AppError(
      'BAD_CONFIG',
      'DISCORD_BOT_TOKEN is not set; allowed: the bot token from the Discord developer portal',
    );
  const { applicationId, deployCommands, restClient, slashCommands } =
    await import('../chat/discord/commands.js');
  const { loadCommands } = await import('../chat/registry.js');
  const rest = restClient(config.discord.token, config.discord.apiRoot);
  let appId: string;
  try {
    appId = await applicationId(rest);
  } catch (err) {
    throw new AppError('NETWORK', `Discord refused or did not answer (${(err as Error).message})`, {
      cause: err,
    });
  }
  const result = await deployCommands(
    rest,
    appId,
    slashCommands(await loadCommands()),
    config.discord.guildId,
  );
  console.log(
    result.changed
      ? `Registered ${result.count} slash commands (${result.scope}).`
      : `Discord already has these ${result.count} slash commands (${result.scope}); nothing to do.`,
  );
  return 0;
}
