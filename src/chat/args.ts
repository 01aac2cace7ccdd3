/**
 * Command arguments at the edge: what each argument is (read from the command's zod schema), how a
 * chat line becomes arguments (positional words and `key=value`, quotes for spaces), and validation
 * that fails with one line naming the argument and what is allowed.
 */
import type { z } from 'zod';
import { closest } from '../config.js';
import { echo, shorten } from '../echo.js';
import { badInput } from '../errors.js';
import {
  allowedText,
  coerceText,
  describeParam,
  type ParamInfo,
  parseParamList,
} from '../strategy/params.js';
import type { Command, Completion } from './command.js';

export interface ArgInfo extends ParamInfo {
  required: boolean;
  positional: boolean;
  /** Collects the `key=value` pairs the schema does not name. */
  rest: boolean;
  complete?: Completion;
}

type AnySchema = z.ZodType & {
  def: { type: string; innerType?: AnySchema };
  meta(): Record<string, unknown> | undefined;
};

const cache = new WeakMap<Command, ArgInfo[]>();

/** The command's arguments: positional ones in their order, then the named ones. */
export function argInfos(command: Command): ArgInfo[] {
  let infos = cache.get(command);
  if (infos) return infos;
  const shape = command.args.shape as Record<string, AnySchema>;
  const positional = command.positional ?? [];
  const names = [...positional, ...Object.keys(shape).filter((n) => !positional.includes(n))];
  infos = names.map((name) => {
    const schema = shape[name]!;
    const base = describeParam(name, schema as never);
    const info: ArgInfo = {
      ...base,
      required: !schema.safeParse(undefined).success,
      positional: positional.includes(name),
      rest: command.rest === name,
    };
    const complete = metaOf(schema, 'complete');
    if (complete !== undefined) info.complete = complete as Completion;
    return info;
  });
  cache.set(command, infos);
  return infos;
}

function metaOf(schema: AnySchema, key: string): unknown {
  for (let s: AnySchema | undefined = schema; s; s = s.def.innerType) {
    const value = s.meta()?.[key];
    if (value !== undefined) return value;
  }
  return undefined;
}

/** `/backtest STRATEGY SYMBOL TIMEFRAME [PERIOD] [sweep=VALUE] [rank=VALUE] [param=value ...]` */
export function usageLine(command: Command): string {
  if (command.usage) return command.usage;
  const parts = [`/${command.name}`];
  for (const a of argInfos(command)) {
    const word = a.rest
      ? 'param=value ...'
      : a.positional
        ? a.name.toUpperCase()
        : // A short choice is spelled out; a long one is in /help NAME.
          `${a.name}=${a.type === 'enum' && (a.options?.length ?? 0) <= 4 ? a.options!.join('|') : 'VALUE'}`;
    parts.push(a.required && !a.rest ? word : `[${word}]`);
  }
  return parts.join(' ');
}

/**
 * Split a chat line into words: spaces separate, double or single quotes keep spaces, and a
 * backslash escapes the next character.
 */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'" || ch === '“' || ch === '”') {
      quote = ch === '“' ? '”' : ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (quote) throw badInput(`a quote (${quote}) is not closed`);
  if (has) out.push(cur);
  return out;
}

/** Turn the words after a command into raw arguments, by position and by `key=value`. */
export function argsFromWords(command: Command, words: readonly string[]): Record<string, unknown> {
  const infos = argInfos(command);
  const byName = new Map(infos.map((a) => [a.name, a]));
  const restArg = infos.find((a) => a.rest);
  const slots = infos.filter((a) => a.positional && !a.rest);
  const raw: Record<string, unknown> = {};
  const rest: Record<string, string> = {};
  let next = 0;
  for (const word of words) {
    const kv = /^([A-Za-z_][\w.-]*)=(.*)$/s.exec(word);
    if (kv) {
      const [, key, value] = kv as unknown as [string, string, string];
      // Names that every object already has (__proto__, constructor, toString) would be dropped or
      // worse on the way to the command: refused here, for every command.
      if (key in Object.prototype)
        throw badInput(`"${key}" is not a name I take; allowed: the names in /help ${command.name}`);
      const info = byName.get(key);
      // With a rest argument (strategy parameters), a key naming a positional argument belongs to
      // the rest: `/backtest rsi-reversion BTC/USDT 1h period=10` sets the strategy's period.
      if (info && !info.rest && !(restArg && info.positional)) {
        if (key in raw) throw badInput(`${shorten(key)} is given twice; give each once`);
        raw[key] = value;
      } else if (restArg) {
        if (key in rest) throw badInput(`${shorten(key)} is given twice; give each once`);
        rest[key] = value;
      } else {
        const names = infos.map((a) => a.name);
        const near = closest(key, names);
        throw badInput(
          `unknown argument ${echo(key)}${near ? ` (did you mean ${near}?)` : ''}; allowed: ${names.join(', ') || 'none'}`,
        );
      }
      continue;
    }
    while (next < slots.length && slots[next]!.name in raw) next++;
    const slot = slots[next++];
    if (!slot) throw badInput(`too many arguments: ${echo(word)} is one more than /${command.name} takes`);
    raw[slot.name] = word;
  }
  if (restArg && Object.keys(rest).length > 0) raw[restArg.name] = rest;
  return raw;
}

/**
 * Validate raw arguments (words from text, or typed options from Discord) against the command's
 * schema. Text is coerced by each argument's type; the first mistake fails with one line.
 */
export function validateArgs(command: Command, raw: Record<string, unknown>): Record<string, unknown> {
  const infos = argInfos(command);
  const coerced: Record<string, unknown> = {};
  for (const info of infos) {
    const value = raw[info.name];
    if (value === undefined || value === '') continue;
    if (info.rest) {
      coerced[info.name] = typeof value === 'string' ? parseParamList(value) : value;
      continue;
    }
    coerced[info.name] = coerceArg(value, info);
  }
  const result = command.args.safeParse(coerced);
  if (result.success) return result.data as Record<string, unknown>;
  const issue = result.error.issues[0]!;
  const name = issue.path[0];
  const info = infos.find((a) => a.name === name);
  if (!info) throw badInput(issue.message);
  if (coerced[info.name] === undefined)
    throw badInput(`${argWord(info)} is missing; allowed: ${allowed(info)}`);
  throw badInput(`${argWord(info)} is ${echo(coerced[info.name])}; allowed: ${allowed(info)}`);
}

function coerceArg(value: unknown, info: ArgInfo): unknown {
  if (typeof value !== 'string') return value;
  if (info.type === 'enum') {
    const text = value.trim();
    return info.options?.find((o) => o.toLowerCase() === text.toLowerCase()) ?? text;
  }
  return coerceText(value, info, () =>
    badInput(`${argWord(info)} is ${echo(value.trim())}; allowed: ${allowed(info)}`),
  );
}

function argWord(info: ArgInfo): string {
  return info.positional ? info.name.toUpperCase() : info.name;
}

/** What an argument accepts, with its description when it says more than the type. */
export function allowed(info: ArgInfo): string {
  const base = allowedText(info);
  return info.type === 'string' && info.description ? info.description : base;
}
