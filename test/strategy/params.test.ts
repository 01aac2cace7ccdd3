import { describe, expect, it } from 'vitest';
import type { AppError } from '../../src/errors.js';
import { allowedText, describeParams, parseParamList, parseParams } from '../../src/strategy/params.js';
import { loadStrategy } from '../../src/strategy/registry.js';

describe('strategy parameters', async () => {
  const emaCross = await loadStrategy('ema-cross');
  const maTrend = await loadStrategy('ma-trend');

  it('parses name=value lists from the command line and from chat', () => {
    expect(parseParamList('fast=9,slow=21')).toEqual({ fast: '9', slow: '21' });
    expect(parseParamList(['fast=9', 'slow=21'])).toEqual({ fast: '9', slow: '21' });
    expect(() => parseParamList('fast')).toThrow('parameter "fast" is not name=value (e.g. fast=12)');
  });

  it('fills in defaults and coerces text by each parameter type', () => {
    expect(parseParams(emaCross, {})).toEqual({ fast: 12, slow: 26 });
    expect(parseParams(emaCross, { fast: '9', slow: '21' })).toEqual({ fast: 9, slow: 21 });
    expect(parseParams(maTrend, { type: 'ema' })).toMatchObject({ type: 'ema', fast: 44, slow: 125 });
  });

  it('refuses bad parameters with one line that names the parameter and what is allowed', () => {
    const msg = (raw: Record<string, unknown>, s = emaCross) => {
      try {
        parseParams(s, raw);
      } catch (err) {
        expect((err as AppError).code).toBe('BAD_INPUT');
        return (err as AppError).message;
      }
      throw new Error('expected an error');
    };
    expect(msg({ fats: '9' })).toBe(
      'unknown parameter "fats" for ema-cross (did you mean fast?); allowed: fast, slow',
    );
    expect(msg({ fast: '1' })).toBe('ema-cross: fast is 1; allowed: a whole number from 2 to 500');
    expect(msg({ fast: '9.5' })).toBe('ema-cross: fast is 9.5; allowed: a whole number from 2 to 500');
    expect(msg({ fast: 'nine' })).toBe('ema-cross: fast is "nine"; allowed: a whole number from 2 to 500');
    expect(msg({ fast: '30', slow: '20' })).toBe('ema-cross: fast must be smaller than slow');
    expect(msg({ type: 'wma' }, maTrend)).toBe('ma-trend: type is "wma"; allowed: one of sma, ema');
  });

  it('describes parameters for help: type, default, bounds, description', () => {
    const [fast] = describeParams(emaCross);
    expect(fast).toEqual({
      name: 'fast',
      type: 'integer',
      default: 12,
      min: 2,
      max: 500,
      description: 'fast EMA period',
    });
    expect(allowedText(fast!)).toBe('a whole number from 2 to 500');
    const type = describeParams(maTrend).find((p) => p.name === 'type')!;
    expect(allowedText(type)).toBe('one of sma, ema');
  });
});
