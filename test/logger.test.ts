import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  const CANARY_KEY = 'CANARY-KEY-7f3a9b';
  const CANARY_TOKEN = '123456:CANARY-bot-token';

  it('redacts secret fields and configured secret values wherever they appear', () => {
    const { lines, stream } = capture();
    const log = createLogger({
      level: 'info',
      format: 'json',
      secrets: [CANARY_KEY, CANARY_TOKEN],
      destination: stream,
    });
    log.info({ exchange: { apiKey: 'field-value', secret: 'other' }, token: 'tok' }, 'connecting');
    log.error(
      { err: new Error(`request to https://api.telegram.org/bot${CANARY_TOKEN}/getMe failed`) },
      `key ${CANARY_KEY} refused`,
    );
    const out = lines.join('');
    expect(out).not.toContain(CANARY_KEY);
    expect(out).not.toContain(CANARY_TOKEN);
    expect(out).not.toContain('field-value');
    expect(out).toContain('[REDACTED]');
    expect(JSON.parse(lines[0]!).exchange.apiKey).toBe('[REDACTED]');
  });

  it('writes JSON lines when not on a terminal, pretty text when asked', () => {
    const json = capture();
    createLogger({ level: 'info', format: 'auto', isTTY: false, destination: json.stream }).info('hello');
    expect(JSON.parse(json.lines[0]!).msg).toBe('hello');
    const pretty = capture();
    createLogger({ level: 'info', format: 'pretty', isTTY: false, destination: pretty.stream }).info(
      { apiKey: 'zzz-secret' },
      'hello',
    );
    const text = pretty.lines.join('');
    expect(text).toMatch(/INFO.*hello/);
    expect(text).not.toContain('zzz-secret');
  });

  it('respects the level', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', format: 'json', destination: stream });
    log.info('quiet');
    log.warn('loud');
    expect(lines).toHaveLength(1);
  });
});
