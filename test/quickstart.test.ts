/**
 * The README's Quick start, to the letter: `npm start` (which runs `node dist/src/main.js`) on a
 * fresh data directory, no tokens, the console chat on a piped stdin that stays open. Within a
 * minute the console must show a signal, an approval to answer with numbered choices (answered by
 * typing its number), a position and a daily report. And a replay that reaches the end of its file
 * says how to start it over, and doing so plays it again from its start.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startBot } from '../src/main.js';
import { quietLogger, sampleSlice } from './helpers/engine.js';
import { ROOT } from './helpers/fixtures.js';

const MINUTE = 60_000;

describe('the Quick start', () => {
  it('shows a signal, an approval to answer, a position and a daily report within a minute of npm start', async () => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      // No tokens, nothing configured: the embedded defaults.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NO_COLOR: '1',
        DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-quickstart-')),
        CHAT_CONSOLE: 'on',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const promised: Record<string, RegExp> = {
      signal: /^Signal S\d+ · (LONG|SHORT) BTC\/USDT 15m · /,
      approval: /^Choose: \[(\d+)\.1\] Approve {2}\[\1\.2\] Half size {2}\[\1\.3\] Reject$/,
      approved: /^Signal S\d+ approved\.$/,
      position: /^Opened P\d+ (long|short) [\d.]+ BTC\/USDT at /,
      report: /^Daily report · USDT · /,
    };
    const seenAt: Record<string, number> = {};
    let out = '';
    let pending = '';
    const allSeen = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          for (const [what, pattern] of Object.entries(promised))
            if (seenAt[what] === undefined && pattern.test(line)) seenAt[what] = Date.now() - started;
          // Approve, typed as shown: the message's number and the choice.
          const approve = promised.approval!.exec(line);
          if (approve) child.stdin.write(`${approve[1]}.1\n`);
        }
        if (Object.keys(promised).every((what) => seenAt[what] !== undefined)) resolve();
      });
    });
    const minute = new Promise<void>((resolve) => setTimeout(resolve, MINUTE - (Date.now() - started)));
    await Promise.race([allSeen, minute]);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const missing = Object.keys(promised).filter((what) => !(seenAt[what]! <= MINUTE));
    expect(missing, `not within a minute; seen at ${JSON.stringify(seenAt)} ms in:\n${out}`).toEqual([]);
  }, 90_000);

  it('says at the end of a replay how to start it over, and starting over plays it again from its start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bosun-replay-end-'));
    const config = loadConfig({
      env: {
        DATA_DIR: dataDir,
        // Two days of 1m candles, as fast as they go.
        REPLAY_FILE: sampleSlice('binanceus_BTC-USDT_1m_2023-03.csv', 2 * 1440),
        REPLAY_SPEED: '1000000',
        REPLAY_RUNS: 'ema-cross BTC/USDT 15m approve=auto',
        CHAT_CONSOLE: 'on',
      },
      dotenv: false,
    });
    const playToEnd = async () => {
      const input = new PassThrough();
      const output = new PassThrough();
      let text = '';
      output.on('data', (d: Buffer) => (text += d.toString()));
      const bot = await startBot({ config, logger: quietLogger(), input, output, interactive: false });
      await new Promise<void>((resolve) => {
        const off = bot.services.trading.on((e) => {
          if (e.type === 'feed' && !e.up) {
            off();
            resolve();
          }
        });
      });
      const trades = (await bot.services.store.journal.trades()).map((t) => ({ ...t }));
      await bot.stop();
      input.end();
      return { text, trades };
    };

    const first = await playToEnd();
    expect(first.trades.length).toBeGreaterThan(0);
    expect(first.text).toContain(
      'Market data problem: the replay reached the end of its file; runs wait for candles. To start it over, stop bosun, delete bosun.db* in DATA_DIR (the journal of this replay: runs, trades and balances) and start it again.',
    );

    // Doing what it says: the same runs play the same file again from its first candle.
    for (const f of readdirSync(dataDir)) if (f.startsWith('bosun.db')) rmSync(join(dataDir, f));
    const again = await playToEnd();
    expect(again.trades).toEqual(first.trades);
  }, 120_000);
});
