#!/usr/bin/env node
/**
 * The `bosun` command line: backtest, download, chart, strategies, bench, export, discord:deploy. Each bad input ends with one line
 * on stderr that says what was wrong and what is allowed, and exit code 2; anything else that fails
 * exits 1. `--verbose` adds the stack trace.
 */
import { pathToFileURL } from 'node:url';
import { BACKTEST_USAGE, backtestCommand } from './cli/backtest.js';
import { BACKTESTS_USAGE, backtestsCommand } from './cli/backtests.js';
import { CHART_USAGE, chartCommand } from './cli/chart.js';
import { DISCORD_DEPLOY_USAGE, discordDeployCommand } from './cli/discord-deploy.js';
import { DOWNLOAD_USAGE, downloadCommand } from './cli/download.js';
import { EXPORT_USAGE, exportCommand } from './cli/export.js';
import { strategiesCommand } from './cli/strategies.js';
import { type Config, loadConfig, secretValues } from './config.js';
import { badInput, toAppError } from './errors.js';
import { createLogger, type Logger, redactor } from './logger.js';

const HELP = `bosun: a crypto trading bot you steer from chat

Commands:
  backtest     run a strategy over candles and print its metrics (each run is kept)
  backtests    list, show again and compare the kept backtests
  download     fetch candles from an exchange into the cache
  chart        draw a market chart (candles, volume, indicators) as a PNG
  strategies   list strategies and their parameters
  bench        measure backtest, indicator, loading, replay and journal speed
  export       write the journal's history (decisions, trades, ...) as CSV, JSON lines or Parquet
  discord:deploy  register the chat commands with Discord

${BACKTEST_USAGE}
${BACKTESTS_USAGE}
${DOWNLOAD_USAGE}
${CHART_USAGE}
Usage: npm run strategies [-- --json]
Usage: npm run bench [-- --json] [--quick] [--only backtest,sweep,rules,replay,journal] [--journal-scale F]
${EXPORT_USAGE}
${DISCORD_DEPLOY_USAGE}`;

type Command = (argv: string[], config: Config, logger: Logger) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  backtest: backtestCommand,
  backtests: (argv, config) => backtestsCommand(argv, config),
  download: downloadCommand,
  chart: chartCommand,
  strategies: (argv) => strategiesCommand(argv),
  bench: async (argv, config) => (await import('./bench/index.js')).benchCommand(argv, config.dataDir),
  export: (argv, config) => exportCommand(argv, config),
  'discord:deploy': discordDeployCommand,
};

export async function runCli(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  // Output piped into a reader that stopped (`| head`) ends the command quietly, as in any tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  // The error line goes through the log's redaction too (a URL in a library's message, a key).
  let scrub = redactor();
  try {
    const [name, ...rest] = argv;
    if (
      name === undefined ||
      name === 'help' ||
      name === '--help' ||
      name === '-h' ||
      rest.includes('--help')
    ) {
      console.log(HELP);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) throw badInput(`unknown command "${name}"; allowed: ${Object.keys(COMMANDS).join(', ')}`);
    const config = loadConfig();
    scrub = redactor(secretValues(config));
    const logger = createLogger({
      level: verbose ? 'debug' : config.logLevel,
      format: config.logFormat,
      secrets: secretValues(config),
    });
    return await command(rest, config, logger);
  } catch (err) {
    const e = toAppError(err);
    process.stderr.write(`error: ${scrub(e.message)}\n`);
    if (verbose && e.stack)
      process.stderr.write(`${scrub((e.cause as Error | undefined)?.stack ?? e.stack)}\n`);
    return e.isUserError ? 2 : 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
