/**
 * Strategy parameters at the edge: parsing `fast=9,slow=21` (CLI) or `fast=9 slow=21` (chat),
 * coercing text by each parameter's schema, validating with one clear line per mistake, and
 * describing parameters for help and `npm run strategies`.
 */
import type { z } from 'zod';
import { closest } from '../config.js';
import { echo, shorten } from '../echo.js';
import { badInput } from '../errors.js';
import type { ParamsSchema, Strategy } from './define.js';

export interface ParamInfo {
  name: string;
  type: 'integer' | 'number' | 'boolean' | 'enum' | 'string';
  default: unknown;
  min?: number;
  max?: number;
  options?: readonly string[];
  description?: string;
}

type AnySchema = z.ZodType & { def: { type: string } & Record<string, unknown>; description?: string };

function shapeOf(schema: ParamsSchema): Record<string, AnySchema> {
  const shape = (schema as unknown as { shape?: Record<string, AnySchema> }).shape;
  if (!shape) throw new TypeError('strategy params must be a z.object');
  return shape;
}

/** What a parameter is, read from its zod schema. */
export function describeParam(name: string, schema: AnySchema): ParamInfo {
  let s: AnySchema = schema;
  let description = s.description;
  let def: unknown;
  for (;;) {
    description ??= s.description;
    const t = s.def.type;
    if (t === 'default') {
      def = s.def.defaultValue;
      s = s.def.innerType as AnySchema;
    } else if (t === 'optional' || t === 'nullable') {
      s = s.def.innerType as AnySchema;
    } else break;
  }
  const info: ParamInfo = { name, type: 'string', default: def };
  if (description) info.description = description;
  const t = s.def.type;
  if (t === 'number') {
    const n = s as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
    info.type = n.isInt ? 'integer' : 'number';
    if (n.minValue !== null && Number.isFinite(n.minValue)) info.min = n.minValue;
    if (n.maxValue !== null && Number.isFinite(n.maxValue)) info.max = n.maxValue;
  } else if (t === 'boolean') {
    info.type = 'boolean';
  } else if (t === 'enum') {
    info.type = 'enum';
    info.options = (s as unknown as { options: string[] }).options;
  }
  return info;
}

export function describeParams(strategy: Strategy): ParamInfo[] {
  return Object.entries(shapeOf(strategy.params)).map(([name, schema]) => describeParam(name, schema));
}

/** "a whole number from 2 to 500", "one of sma, ema", ... */
export function allowedText(p: ParamInfo): string {
  const range =
    p.min !== undefined && p.max !== undefined
      ? ` from ${p.min} to ${p.max}`
      : p.min !== undefined
        ? ` of at least ${p.min}`
        : p.max !== undefined
          ? ` of at most ${p.max}`
          : '';
  switch (p.type) {
    case 'integer':
      return `a whole number${range}`;
    case 'number':
      return `a number${range}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${p.options?.join(', ')}`;
    default:
      return 'text';
  }
}

/** Split `fast=9,slow=21` or `fast=9 slow=21` into a record. */
export function parseParamList(text: string | readonly string[]): Record<string, string> {
  const tokens = (typeof text === 'string' ? [text] : text).flatMap((t) => t.split(/[,\s]+/)).filter(Boolean);
  const out: Record<string, string> = {};
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0 || eq === token.length - 1)
      throw badInput(`parameter ${echo(token)} is not name=value (e.g. fast=12)`);
    const name = token.slice(0, eq);
    if (name in Object.prototype)
      throw badInput(`parameter ${echo(name)} is not a name I take; allowed: the strategy's parameters`);
    if (name in out) throw badInput(`${shorten(name)} is given twice; give each once`);
    out[name] = token.slice(eq + 1);
  }
  return out;
}

/**
 * Validate parameters for a strategy: unknown names, text that is not of the parameter's type, and
 * values out of bounds each fail with one line that names the parameter and what is allowed.
 */
export function parseParams(
  strategy: Strategy,
  raw: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const infos = describeParams(strategy);
  const byName = new Map(infos.map((p) => [p.name, p]));
  const coerced: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const info = byName.get(name);
    if (!info) {
      const names = infos.map((p) => p.name);
      const near = closest(name, names);
      throw badInput(
        `unknown parameter ${echo(name)} for ${strategy.name}${near ? ` (did you mean ${near}?)` : ''}; allowed: ${names.join(', ') || 'none'}`,
      );
    }
    coerced[name] = coerce(value, info, strategy.name);
  }
  const result = strategy.params.safeParse(coerced);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.path[0];
  if (typeof name === 'string' && byName.has(name)) {
    throw badInput(
      `${strategy.name}: ${name} is ${echo(coerced[name])}; allowed: ${allowedText(byName.get(name)!)}`,
    );
  }
  throw badInput(`${strategy.name}: ${issue.message}`);
}

function coerce(value: unknown, info: ParamInfo, strategy: string): unknown {
  if (typeof value !== 'string') return value;
  return coerceText(value, info, () =>
    badInput(`${strategy}: ${info.name} is ${echo(value.trim())}; allowed: ${allowedText(info)}`),
  );
}

/**
 * Text from a command line or chat, as the value of a parameter of this type: a finite number for
 * numbers, true/yes/on/1 or false/no/off/0 for booleans, the trimmed text otherwise. `fail` makes
 * the error for text that is not of the type.
 */
export function coerceText(text: string, info: Pick<ParamInfo, 'type'>, fail: () => Error): unknown {
  const t = text.trim();
  switch (info.type) {
    case 'integer':
    case 'number': {
      const n = t === '' ? Number.NaN : Number(t);
      if (!Number.isFinite(n)) throw fail();
      return n;
    }
    case 'boolean':
      if (/^(true|yes|on|1)$/i.test(t)) return true;
      if (/^(false|no|off|0)$/i.test(t)) return false;
      throw fail();
    default:
      return t;
  }
}
