/**
 * `bosun backtests`: the kept backtests. `list` (the default) shows the newest; `show ID` prints one
 * again as it ran, without recomputing (`--chart FILE.png` writes its chart as it was drawn, `--json
 * FILE` the whole of it); `compare ID ID [ID]` prints them side by side (`--chart FILE.png` draws their
 * equity curves on one chart).
 */
import { writeFileSync } from 'node:fs';
import { compareRows, keptRows, listLines, overlapNote } from '../backtest/kept.js';
import type { Config } from '../config.js';
import { badInput } from '../errors.js';
import { tableLines } from '../chat/reply.js';
import type { KeptBacktest } from '../store/backtests.js';
import { numberOption, parseCommandArgs, writing } from './args.js';
import { pngPath, renderChartFile } from './charts.js';
import { printRows, printTogether } from './backtest.js';

export const BACKTESTS_USAGE = `Usage: npm run backtests [-- list [--limit N]]
  npm run backtests -- show ID [--chart FILE.png] [--json FILE]
  npm run backtests -- compare ID ID [ID] [--chart FILE.png]   (or --show ID, --compare ID ID)`;

const OPTIONS = {
  limit: { type: 'string' },
  chart: { type: 'string' },
  json: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

const ACTIONS = ['list', 'show', 'compare'] as const;

/** `--compare ID ID` and `--show ID` are the actions `compare` and `show` written as options. */
function actionOptions(argv: string[]): string[] {
  const k = argv.findIndex((a) => a === '--compare' || a === '--show');
  if (k < 0) return argv;
  let end = k + 1;
  while (end < argv.length && !argv[end]!.startsWith('--')) end++;
  return [argv[k]!.slice(2), ...argv.slice(k + 1, end), ...argv.slice(0, k), ...argv.slice(end)];
}

export async function backtestsCommand(given: string[], config: Config): Promise<number> {
  const argv = actionOptions(given);
  const words: string[] = [];
  while (argv.length > 0 && !argv[0]!.startsWith('--')) words.push(argv.shift()!);
  const [action = 'list', ...ids] = words;
  if (!(ACTIONS as readonly string[]).includes(action))
    throw badInput(`backtests: "${action}" is not an action; allowed: ${ACTIONS.join(', ')}`);
  const { values: v } = parseCommandArgs('backtests', argv, OPTIONS);
  // The journal's drivers load only here: the CLI's other commands start without them.
  const { openArchive } = await import('../store/backtests.js');
  const { archive, close } = await openArchive({
    dataDir: config.dataDir,
    url: config.store.url,
    instance: config.store.instance,
  });
  try {
    if (action === 'list') {
      if (ids.length > 0) throw badInput('backtests list takes no ids; show ID or compare ID ID do');
      const limit = numberOption('limit', v.limit, 1, 10_000) ?? 20;
      const list = await archive.list(limit);
      if (list.length === 0) {
        console.log('No backtests kept yet: every npm run backtest (and /backtest in chat) is kept.');
        return 0;
      }
      const total = await archive.count();
      for (const b of listLines(list)) console.log(`${b.id}  ${b.what}  ${b.result}  (${b.when})`);
      if (total > list.length) console.log(`(the newest ${list.length} of ${total}; --limit N for more)`);
      return 0;
    }
    if (action === 'show') {
      if (ids.length !== 1)
        throw badInput('backtests show takes one id, like B7K2QF (npm run backtests lists them)');
      if (v.chart !== undefined) pngPath(v.chart);
      const k = await archive.get(ids[0]!);
      printRows(keptRows(k));
      printTogether(k);
      if (v.json) {
        const { chart: _c, ...whole } = k;
        const json = v.json;
        writing(json, () => writeFileSync(json, `${JSON.stringify(whole, null, 2)}\n`));
        console.log(`\nWrote ${v.json}`);
      }
      if (v.chart) {
        // The chart as it was drawn; a run that drew none gets one from its kept equity curve.
        if (k.chart) {
          const [path, png] = [v.chart, k.chart];
          writing(path, () => writeFileSync(path, png));
        } else await renderChartFile(await keptChartOf([k], config), v.chart, config);
        console.log(
          `${v.json ? '' : '\n'}Wrote chart ${v.chart}${k.chart ? '' : ' (its equity curve: the run drew no chart)'}`,
        );
      }
      return 0;
    }
    if (ids.length < 2 || ids.length > 3)
      throw badInput('backtests compare takes two or three ids, like compare B7K2QF B3MX9A');
    const wanted = ids.map((id) => id.toUpperCase());
    if (new Set(wanted).size < wanted.length)
      throw badInput(`${wanted.join(', ')}: give different backtests to compare`);
    if (v.chart !== undefined) pngPath(v.chart);
    const kept: KeptBacktest[] = [];
    for (const id of wanted) kept.push(await archive.get(id));
    const rows = compareRows(kept);
    const table = { kind: 'table' as const, rows: rows.slice(1), header: rows[0]! };
    for (const line of tableLines(table)) console.log(line);
    const apart = overlapNote(kept);
    if (apart) console.log(`\n${apart}`);
    if (v.chart) {
      await renderChartFile(await keptChartOf(kept, config), v.chart, config);
      console.log(`\nWrote chart ${v.chart}`);
    }
    return 0;
  } finally {
    await close();
  }
}

/** The kept backtests' chart, the chart modules loaded only when one is asked for. */
async function keptChartOf(kept: readonly KeptBacktest[], config: Config) {
  const { chartStyle, keptChart } = await import('../charts/index.js');
  return keptChart(kept, chartStyle(config));
}
