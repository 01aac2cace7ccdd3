/** `bosun strategies`: every strategy with its timeframes, exits and parameters. */
import { allowedText, describeParams } from '../strategy/params.js';
import { loadAllStrategies } from '../strategy/registry.js';

export async function strategiesCommand(argv: string[]): Promise<number> {
  const strategies = await loadAllStrategies();
  if (argv.includes('--json')) {
    const list = strategies.map((s) => ({
      name: s.name,
      description: s.description,
      timeframes: s.timeframes,
      direction: s.direction ?? 'long',
      params: describeParams(s),
    }));
    console.log(JSON.stringify(list, null, 2));
    return 0;
  }
  for (const s of strategies) {
    const tfs = Object.entries(s.timeframes)
      .map(([k, v]) => (k === 'main' ? v : `${k} ${v}`))
      .join(', ');
    console.log(`${s.name}  (${tfs})\n  ${s.description}`);
    for (const p of describeParams(s)) {
      const def = p.default === undefined ? '' : ` = ${String(p.default)}`;
      console.log(
        `    ${`${p.name}${def}`.padEnd(24)} ${p.description ?? ''}${p.description ? '; ' : ''}${allowedText(p)}`,
      );
    }
    console.log('');
  }
  return 0;
}
