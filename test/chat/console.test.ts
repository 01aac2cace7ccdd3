/**
 * The console's choices stay bound to the message they came with: `6.1` presses message 6's first
 * button, and a number alone is taken only when it cannot point at a message the reader did not
 * see (a newer message with choices came in between: refused).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleChat } from '../../src/chat/console/index.js';
import type { Dispatcher } from '../../src/chat/dispatch.js';
import { type Reply, reply } from '../../src/chat/reply.js';

/** A dispatcher that signs a button as its command and arguments, and records presses. */
function recorder() {
  const pressed: string[] = [];
  const dispatcher = {
    signButtons: async (r: Reply) =>
      r.actions.map((row) => row.map((b) => ({ label: b.label, payload: [b.command, ...b.args].join(' ') }))),
    press: async (payload: string) => {
      pressed.push(payload);
      return {};
    },
    run: async () => undefined,
  } as unknown as Dispatcher;
  return { dispatcher, pressed };
}

function approval(signal: string): Reply {
  return reply(`Signal ${signal}: long BTC/USDT`).buttons([
    { label: 'Approve', command: 'approve', args: [signal] },
    { label: 'Reject', command: 'reject', args: [signal] },
  ]);
}

async function consoleWith(interactive = false) {
  const { dispatcher, pressed } = recorder();
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (d) => (printed += String(d)));
  const chat = new ConsoleChat(dispatcher, { input, output, outDir: '/nonexistent', interactive });
  await chat.start();
  const type = async (line: string) => {
    input.write(`${line}\n`);
    await new Promise((r) => setTimeout(r, 20));
  };
  return { chat, pressed, type, printed: () => printed };
}

describe('console choices', () => {
  it('names each choice by its message, and presses exactly the one typed', async () => {
    const c = await consoleWith();
    const s61 = Number(await c.chat.push('local', approval('S61')));
    const s62 = Number(await c.chat.push('local', approval('S62')));
    expect(c.printed()).toContain(`Choose: [${s61}.1] Approve  [${s61}.2] Reject`);
    expect(c.printed()).toContain(`Choose: [${s62}.1] Approve  [${s62}.2] Reject`);
    await c.type(`${s61}.1`);
    expect(c.pressed).toEqual(['approve S61']);
    // Used: its choices are closed.
    await c.type(`${s61}.2`);
    expect(c.pressed).toEqual(['approve S61']);
    expect(c.printed()).toContain(`No choice ${s61}.2 here`);
    await c.chat.stop();
  });

  it('refuses a number alone when a newer message has taken the numbers (S61 read, S62 arrived)', async () => {
    const c = await consoleWith();
    await c.type('/status'); // the reader is at the prompt
    await c.chat.push('local', approval('S61'));
    await c.chat.push('local', approval('S62'));
    await c.type('1');
    expect(c.pressed).toEqual([]);
    expect(c.printed()).toMatch(
      /More than one message has choices \(\d+, \d+\); type the message's number too/,
    );
    await c.chat.stop();
  });

  it('takes a number alone for the one message with choices since the last line typed', async () => {
    const c = await consoleWith();
    await c.type('/status');
    const s61 = await c.chat.push('local', approval('S61'));
    await c.type('1');
    expect(c.pressed).toEqual(['approve S61']);
    // An older open message and a newer one read since: the newer one is what a number means.
    await c.chat.push('local', approval('S70'));
    await c.type('/status');
    await c.chat.push('local', approval('S71'));
    await c.type('2');
    expect(c.pressed).toEqual(['approve S61', 'reject S71']);
    // An edit without buttons (decided, expired) closes that message's choices.
    const s72 = await c.chat.push('local', approval('S72'));
    await c.chat.edit('local', s72, reply('Signal S72: expired'));
    await c.type(`${s72}.1`);
    expect(c.pressed).toEqual(['approve S61', 'reject S71']);
    expect(s61).not.toBe(s72);
    await c.chat.stop();
  });

  it('redraws an edited message in place only while nothing was typed under it', async () => {
    const c = await consoleWith(true);
    const up = new RegExp(String.raw`\x1b\[\d+A\x1b\[0J`);
    const first = await c.chat.push('local', reply('Backtest: [..........] 0%'));
    await c.chat.edit('local', first, reply('Backtest: [#####.....] 50%'));
    expect(c.printed()).toMatch(up); // the progress line redrawn in place
    const second = await c.chat.push('local', reply('Backtest: [..........] 0%'));
    const before = c.printed().length;
    await c.type('/status'); // a line typed under it
    await c.chat.edit('local', second, reply('Backtest: [##########] 100%'));
    const after = c.printed().slice(before);
    expect(after).toContain('Backtest: [##########] 100%');
    expect(after).not.toMatch(up); // printed anew: erasing would take the typed line and more
    await c.chat.stop();
  });
});
