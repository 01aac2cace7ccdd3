/**
 * Every reply reads at phone width: no monospaced line over 40 characters on Telegram or Discord,
 * for every command, with realistic data (a replay that has traded: runs, positions, trades, a sweep,
 * the pairlist, risk, help). Tables too wide become stacked cards; the console keeps its tables.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRef } from '../../src/chat/command.js';
import type { Person } from '../../src/chat/dispatch.js';
import { DISCORD_MARKDOWN } from '../../src/chat/discord/index.js';
import {
  type Block,
  cardLines,
  type Dialect,
  PHONE_WIDTH,
  type Reply,
  renderMessages,
  tableFor,
  wrapLine,
} from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { startTestBot, type TestBot } from '../helpers/bot.js';

/** The monospaced lines of rendered messages: inside <pre> (Telegram) or ``` fences (Discord). */
function monospaced(messages: string[], dialect: Dialect): string[] {
  const out: string[] = [];
  const unescape = (t: string) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of messages) {
    const re = dialect === TELEGRAM_HTML ? /<pre>([\s\S]*?)<\/pre>/g : /```\n([\s\S]*?)\n```/g;
    for (const match of m.matchAll(re))
      out.push(...match[1]!.split('\n').map((l) => (dialect === TELEGRAM_HTML ? unescape(l) : l)));
  }
  return out;
}

describe('phone-width layout', () => {
  it('wraps long lines at spaces, indenting what follows', () => {
    expect(wrapLine('short', 40)).toEqual(['short']);
    const lines = wrapLine('alpha beta gamma delta epsilon zeta eta theta iota kappa', 20);
    expect(lines.every((l) => l.length <= 20)).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith('  '))).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toBe(
      'alpha beta gamma delta epsilon zeta eta theta iota kappa',
    );
    // A word longer than the width is cut.
    expect(wrapLine('x'.repeat(50), 20).map((l) => l.trim().length)).toEqual([20, 18, 12]);
  });

  it('keeps a table that fits, and turns a wider one into one card per row', () => {
    const narrow: Extract<Block, { kind: 'table' }> = {
      kind: 'table',
      header: ['ID', 'PnL'],
      rows: [['R1', '+1.2%']],
    };
    expect(tableFor(narrow, 40)).toEqual(['ID    PnL', '--  -----', 'R1  +1.2%']);
    const wide: Extract<Block, { kind: 'table' }> = {
      kind: 'table',
      header: ['ID', 'Strategy', 'Symbol', 'TF', 'State', 'Last signal', 'PnL'],
      rows: [
        ['R1', 'ema-cross', 'BTC/USDT', '15m', 'running', 'S4 long 2023-03-01 12:00', '+12.34 USDT'],
        ['R2', 'rsi-reversion', 'ETH/USDT', '1h', 'stopped', '-', '-3.10 USDT'],
      ],
    };
    const cards = tableFor(wide, 40);
    expect(cards.every((l) => l.length <= 40)).toBe(true);
    expect(cards).toEqual(cardLines(wide, 40));
    expect(cards.slice(0, 7)).toEqual([
      'R1',
      '  Strategy     ema-cross',
      '  Symbol       BTC/USDT',
      '  TF           15m',
      '  State        running',
      '  Last signal  S4 long 2023-03-01 12:00',
      '  PnL          +12.34 USDT',
    ]);
    // A dash means nothing to show: left out of the card.
    expect(cards.slice(8)).toEqual([
      'R2',
      '  Strategy     rsi-reversion',
      '  Symbol       ETH/USDT',
      '  TF           1h',
      '  State        stopped',
      '  PnL          -3.10 USDT',
    ]);
    // No width (the console): the table as it is.
    expect(tableFor(wide, undefined)[0]).toMatch(/^ID {2}Strategy +Symbol/);
  });
});

describe('every command at phone width', () => {
  let t: TestBot;
  const replies: Array<[string, Reply]> = [];
  const chat: ChatRef = { platform: 'telegram', id: '42', private: true };
  const admin: Person = { platform: 'telegram', id: '42', name: 'admin', role: 'admin' };

  beforeAll(async () => {
    t = await startTestBot({
      REPLAY_SPEED: '5000',
      // /status then shows the retention and its prunes.
      RETENTION_DECISIONS: '1d',
      REPLAY_RUNS:
        'ema-cross BTC/USDT 5m fast=5 slow=13 approve=auto; rsi-reversion BTC/USDT 15m approve=manual; momentum BTC/USDT 15m approve=auto',
    });
    // Let the replay trade until it has closed trades and holds a position, then hold it there, so
    // every table has rows: runs, positions, trades.
    const store = t.bot.services.store;
    const deadline = Date.now() + 40_000;
    const booked = () => Object.values(store.data.runs).reduce((n, r) => n + r.trades, 0);
    const ready = () => booked() >= 6 && Object.keys(store.data.positions).length > 0;
    while (Date.now() < deadline && !ready()) await new Promise((r) => setTimeout(r, 20));
    await t.bot.services.engine.stop();
    expect((await store.journal.tradeCounts()).trades).toBeGreaterThanOrEqual(6);
    expect(Object.keys(store.data.positions).length).toBeGreaterThan(0);
    const transport = {
      send: async (r: Reply) => {
        replies.push([current, r]);
        return { edit: async (next: Reply) => void replies.push([`${current} (edit)`, next]) };
      },
    };
    let current = '';
    const commands = [
      'help',
      'help backtest',
      'help start',
      'start',
      'status',
      'strategies',
      'strategies ict-confluence',
      'runs',
      'runs all',
      'positions',
      'trades',
      'trades 30',
      'balance',
      'pnl',
      'pnl all',
      'daily',
      'risk',
      'risk riskPerTrade=1.5%',
      'settings',
      'settings history',
      'subscribe',
      'unsubscribe reports',
      'pairlist',
      'regime',
      'scan 2h 5',
      'mode',
      'backtest ema-cross BTC/USDT 4h 1y',
      'backtest ema-cross BTC/USDT 4h 1y fast=5..20:5 slow=20..60:10',
      'chart BTC/USDT 1h ema20,rsi',
      'start ema-cross BTC/USDT 1h fast=9 slow=21',
      'backtest nosuch BTC/USDT 1h',
      'start ema-cross BTC/USDT 1h fast=30 slow=10',
      'panic',
    ];
    for (const c of commands) {
      current = c;
      const [command, ...words] = c.split(' ');
      await t.bot.dispatcher.run({ command: command!, words, person: admin, chat, transport });
    }
  }, 120_000);

  afterAll(async () => {
    await t?.bot.stop();
  });

  it.each([
    ['Telegram', TELEGRAM_HTML],
    ['Discord', DISCORD_MARKDOWN],
  ])('%s: no monospaced line of any reply is over 40 characters', (_name, dialect) => {
    expect(replies.length).toBeGreaterThan(30);
    const over: string[] = [];
    let tables = 0;
    for (const [command, r] of replies) {
      tables += r.blocks.filter((b) => b.kind === 'table' || b.kind === 'pre').length;
      for (const line of monospaced(renderMessages(r.blocks, dialect), dialect))
        if (line.length > PHONE_WIDTH) over.push(`/${command}: ${line.length}: ${line}`);
    }
    expect(tables).toBeGreaterThan(10); // the check saw real tables
    if (process.env.PHONE_DUMP)
      writeFileSync(
        `${process.env.PHONE_DUMP}-${_name}.txt`,
        replies
          .map(([c, r]) => `### /${c}\n${renderMessages(r.blocks, dialect).join('\n---\n')}`)
          .join('\n\n'),
      );
    expect(over).toEqual([]);
  });
});
