/** Parsing command-line values at the edge: one clear line for each bad value. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { closest } from '../config.js';
import { badInput } from '../errors.js';
import { type AddLevel, dcaLevels, type ExitRules, type TakeProfitLevel } from '../strategy/define.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into one line that lists the allowed options. */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    const names = Object.keys(options).map((o) => `--${o}`);
    if (unknown) {
      const near = closest(unknown, names);
      throw badInput(
        `${command}: unknown option ${unknown}${near ? ` (did you mean ${near}?)` : ''}; allowed: ${names.join(', ')}`,
      );
    }
    if (/Unexpected argument '([^']+)'/.test(message)) {
      throw badInput(
        `${command}: unexpected argument ${/'([^']+)'/.exec(message)![1]}; options take the form --name value (allowed: ${names.join(', ')})`,
      );
    }
    throw badInput(`${command}: ${message.split('\n')[0]}`);
  }
}

export function numberOption(
  name: string,
  text: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw badInput(`--${name} is "${text}"; allowed: a number from ${min} to ${max}`);
  }
  return v;
}

/** "1.5%" or "0.015" -> 0.015. */
export function fraction(name: string, text: string): number {
  const percent = text.endsWith('%');
  const v = Number(percent ? text.slice(0, -1) : text);
  if (text.trim() === '' || !Number.isFinite(v) || v < 0)
    throw badInput(`--${name}: "${text}" is not a fraction (0.02) or a percentage (2%)`);
  return percent ? v / 100 : v;
}

/** "1.5%:30%,3%:40%,5%:30%" or "0.015:0.3,..." -> levels. */
export function parseTakeProfit(text: string): TakeProfitLevel[] {
  return text.split(',').map((part) => {
    const [at, close, extra] = part.split(':');
    if (at === undefined || close === undefined || extra !== undefined) {
      throw badInput(`--take-profit level "${part}" is not GAIN:SHARE (e.g. 1.5%:30% or 0.015:0.3)`);
    }
    return { at: fraction('take-profit', at), close: fraction('take-profit', close) };
  });
}

/**
 * Adds after the first fill: `dca:3:2%` (3 adds, each 2 % further, equal shares with the first fill),
 * or a ladder `2%:25%,4%:25%` (DISTANCE:SHARE, each a share of the full size).
 */
export function parseAdds(text: string, name = 'adds'): AddLevel[] {
  const dca = /^dca:(\d+):([^:]+)$/i.exec(text.trim());
  if (dca) {
    const times = Number(dca[1]);
    if (!(times >= 1 && times <= 10))
      throw badInput(`--${name} ${text}: ${times} adds; allowed: dca:TIMES:STEP with TIMES from 1 to 10`);
    return dcaLevels(times, fraction(name, dca[2]!));
  }
  return text.split(',').map((part) => {
    const [at, share, extra] = part.split(':');
    if (at === undefined || share === undefined || extra !== undefined || at === '' || share === '')
      throw badInput(
        `--${name} "${part}" is not DISTANCE:SHARE (e.g. 2%:25%,4%:25%) or dca:TIMES:STEP (e.g. dca:3:2%)`,
      );
    return { at: fraction(name, at), share: fraction(name, share) };
  });
}

/** "2%:1%" -> { activation: 0.02, offset: 0.01 }. */
export function parseTrailing(text: string): NonNullable<ExitRules['trailing']> {
  const [activation, offset, extra] = text.split(':');
  if (activation === undefined || offset === undefined || extra !== undefined) {
    throw badInput(`--trailing "${text}" is not ACTIVATION:OFFSET (e.g. 2%:1%)`);
  }
  return { activation: fraction('trailing', activation), offset: fraction('trailing', offset) };
}

export function oneOf<T extends string>(
  name: string,
  text: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (text === undefined) return undefined;
  if (!allowed.includes(text as T)) throw badInput(`--${name} is "${text}"; allowed: ${allowed.join(', ')}`);
  return text as T;
}

/**
 * Write a file the command was asked for; a failure is one line naming it and why (`--json out.json:
 * cannot write (EACCES)`), never a stack.
 */
export function writing(label: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    throw badInput(
      `${label}: cannot write (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}
