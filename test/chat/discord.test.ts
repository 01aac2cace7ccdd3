import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DcMessage,
  type DcUser,
  DiscordEmulator,
  type Interaction,
} from '../emulators/discord/server.js';
import { COMMAND_NAMES, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN: DcUser = { id: '100000000000000001', username: 'ada' };
const VIEWER: DcUser = { id: '100000000000000002', username: 'vic' };
const TRADER_BY_ROLE: DcUser = { id: '100000000000000003', username: 'tess' };
const STRANGER: DcUser = { id: '100000000000000666', username: 'eve' };
const TRADERS_ROLE = '930000000000000001';
const buttons = DiscordEmulator.buttons;
const EPHEMERAL = 64;

let dc: DiscordEmulator;
let t: TestBot;

async function boot(): Promise<void> {
  dc = await new DiscordEmulator({ heartbeatMs: 500, roles: [TRADERS_ROLE] }).start();
  t = await startTestBot({
    DISCORD_BOT_TOKEN: dc.token,
    DISCORD_API_ROOT: dc.apiRoot,
    DISCORD_GUILD_ID: dc.guildId,
    DISCORD_ALLOWED_USERS: `${ADMIN.id}:admin,${VIEWER.id}:viewer`,
    DISCORD_ALLOWED_ROLES: `${TRADERS_ROLE}:trader`,
  });
}

/** Wait until an interaction has produced `count` messages (not counting a deferral placeholder's emptiness). */
async function settled(ix: Interaction, count = 1, what = 'replies'): Promise<DcMessage[]> {
  await dc.waitFor(
    () =>
      ix.messages.filter((m) => !m.deleted && (m.content !== '' || m.attachments.length > 0)).length >= count,
    what,
  );
  await new Promise((r) => setTimeout(r, 50));
  return ix.messages.filter((m) => !m.deleted);
}

describe('Discord, through discord.js against the gateway and REST emulator', () => {
  beforeAll(boot);
  afterAll(async () => {
    await t?.bot.stop();
    await dc?.stop();
  });
  afterEach(() => {
    expect(dc.rateLimited).toBe(0);
  });

  it('identifies on the gateway and registers slash commands in the guild, typed from the schemas', () => {
    expect(dc.identifies).toBe(1);
    expect(dc.globalCommands).toEqual([]);
    const backtest = dc.guildCommands.find((c) => c.name === 'backtest')!;
    expect(backtest.options!.map((o) => [o.name, o.type, o.required ?? false])).toEqual([
      ['strategy', 3, true],
      ['symbol', 3, true],
      ['timeframe', 3, true],
      ['period', 3, false],
      ['sweep', 3, false],
      ['rank', 3, false],
      ['rules', 3, false],
      ['entry', 3, false],
      ['params', 3, false],
    ]);
    const rank = backtest.options!.find((o) => o.name === 'rank')!;
    expect(rank.choices!.map((c) => c.value)).toEqual([
      'sharpe',
      'totalReturn',
      'cagr',
      'profitFactor',
      'sortino',
      'calmar',
      'winRate',
      'expectancy',
      'maxDrawdown',
    ]);
    expect(backtest.options!.find((o) => o.name === 'strategy')!.autocomplete).toBe(true);
    const bars = dc.guildCommands.find((c) => c.name === 'chart')!.options!.find((o) => o.name === 'bars')!;
    expect(bars).toMatchObject({ type: 4, min_value: 20, max_value: 1000 });
  });

  it('does not register again at the next start when nothing changed', async () => {
    const puts = dc.restCalls.filter((c) => c.method === 'PUT').length;
    const again = await startTestBot({
      DISCORD_BOT_TOKEN: dc.token,
      DISCORD_API_ROOT: dc.apiRoot,
      DISCORD_GUILD_ID: dc.guildId,
    });
    await again.bot.stop();
    expect(dc.restCalls.filter((c) => c.method === 'PUT').length).toBe(puts);
    expect(again.logs.some((l) => l.msg === 'slash commands unchanged')).toBe(true);
  });

  it('answers /help with the usage lines of what the caller may use', async () => {
    const ix = dc.slash(VIEWER, 'help');
    const [msg] = await settled(ix);
    expect(ix.callback).toBe(4);
    expect(msg!.content).toContain(
      '`/backtest STRATEGY SYMBOL TIMEFRAME [PERIOD] [sweep=VALUE] [rank=VALUE] [rules=plain|engine] [entry=VALUE] [param=value ...]`',
    );
    expect(msg!.content).toContain('you are a viewer');
  });

  it('defers /backtest, edits the progress into the reply, then sends the chart as an attachment', async () => {
    const ix = dc.slash(ADMIN, 'backtest', {
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '4h',
      period: '1y',
      params: 'fast=9 slow=21',
    });
    const msgs = await settled(ix, 2, 'the backtest');
    expect(ix.callback).toBe(5);
    const [progress, result] = msgs;
    expect(progress!.edits).toContain('Backtest ema-cross BTC/USDT 4h 1y: [..........] 0% starting');
    expect(progress!.content).toMatch(/100% done in \d+\.\d s/);
    expect(result!.content).toMatch(
      /\*\*Backtest ema-cross BTC\/USDT 4h 1y\*\*: [+-]\d+\.\d\d% over \d+ trades/,
    );
    expect(result!.content).toContain('```\nStrategy');
    expect(result!.content).toContain('fast=9 slow=21');
    expect(result!.attachments).toEqual([
      expect.objectContaining({ filename: 'backtest-ema-cross.png', width: 1280, height: 720 }),
    ]);
    expect(buttons(result!).map((b) => b.label)).toEqual(['Chart BTC/USDT 4h', 'Parameters']);
    expect(result!.flags & EPHEMERAL).toBe(0);
  });

  it('sweeps a grid given in the sweep option, ranked as chosen, with the heatmap attached', async () => {
    const ix = dc.slash(ADMIN, 'backtest', {
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '4h',
      period: '1y',
      sweep: 'fast=5..20:5,slow=20..60:10',
      rank: 'profitFactor',
    });
    const [progress, result] = await settled(ix, 2, 'the sweep');
    expect(progress!.content).toMatch(/^Sweep ema-cross BTC\/USDT 4h 1y: \[#{10}\] 100% done/);
    expect(result!.content).toMatch(
      /^\*\*Sweep ema-cross BTC\/USDT 4h 1y\*\*: 19 sets in \d+\.\d s, ranked by Profit factor\n/,
    );
    const pfs = /```\n([\s\S]*?)```/
      .exec(result!.content)![1]!
      .trim()
      .split('\n')
      .slice(2)
      .map((l) => Number(l.trim().split(/\s+/)[9]));
    expect(pfs).toHaveLength(10);
    expect([...pfs].sort((a, b) => b - a)).toEqual(pfs);
    expect(result!.attachments).toEqual([
      expect.objectContaining({ filename: 'sweep-ema-cross.png', width: 1280, height: 720 }),
    ]);
    expect(buttons(result!).map((b) => b.label)).toEqual([
      expect.stringMatching(/^Backtest fast=\d+ slow=\d+$/),
      'Parameters',
    ]);
  });

  it.each([
    [
      { strategy: 'ema-cross', symbol: 'BTCUSDT', timeframe: '1h' },
      'SYMBOL is "BTCUSDT"; allowed: a market like BTC/USDT',
    ],
    [
      { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '7x' },
      'TIMEFRAME is "7x"; allowed: a timeframe like 15m, 1h, 4h or 1d',
    ],
    [{ strategy: 'nope', symbol: 'BTC/USDT', timeframe: '1h' }, 'unknown strategy "nope"'],
    [
      { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '1h', params: 'fast=1' },
      'ema-cross: fast is 1; allowed: a whole number from 2 to 500',
    ],
    [
      { strategy: 'ema-cross', symbol: 'BTC/USDT', timeframe: '1h', params: 'fast' },
      'parameter "fast" is not name=value',
    ],
  ])(
    'answers a bad /backtest %j privately with what was wrong and the usage line',
    async (options, wrong) => {
      const ix = dc.slash(ADMIN, 'backtest', options);
      const msgs = await settled(ix);
      const visible = msgs.filter((m) => !m.deleted);
      expect(visible).toHaveLength(1);
      expect(visible[0]!.flags & EPHEMERAL).toBe(EPHEMERAL);
      const lines = visible[0]!.content.split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]!.replace(/\\/g, '')).toContain(wrong);
      expect(lines[1]).toMatch(/^Usage: \/backtest STRATEGY/);
    },
  );

  it('suggests strategy names, timeframes and symbols as they are typed', async () => {
    const strategies = dc.autocomplete(ADMIN, 'backtest', 'strategy', 'cro');
    await dc.waitFor(() => strategies.callback === 8, 'autocomplete');
    expect(strategies.callbackData!.choices).toEqual([{ name: 'ema-cross', value: 'ema-cross' }]);
    const tfs = dc.autocomplete(ADMIN, 'chart', 'timeframe', '1', { symbol: 'BTC/USDT' });
    await dc.waitFor(() => tfs.callback === 8, 'autocomplete');
    expect((tfs.callbackData!.choices as Array<{ value: string }>).map((c) => c.value)).toEqual([
      '1m',
      '15m',
      '1h',
      '12h',
      '1d',
      '1w',
    ]);
    const symbols = dc.autocomplete(ADMIN, 'chart', 'symbol', 'btc');
    await dc.waitFor(() => symbols.callback === 8, 'autocomplete');
    expect((symbols.callbackData!.choices as Array<{ value: string }>).map((c) => c.value)).toContain(
      'BTC/USDT',
    );
  });

  it('scans with typed options, and refuses a bad filter change privately, changing nothing', async () => {
    const scan = dc.slash(VIEWER, 'scan', { timeframe: '2h', top: 3 });
    const [msg] = await settled(scan, 1, 'the scan');
    expect(msg!.content).toMatch(
      /^\*\*Momentum scan 2h\*\* at \d{4}-\d\d-\d\d \d\d:\d\d UTC: 1 market from bundled samples/,
    );
    expect(msg!.content).toMatch(/\n1\. \*\*BTC\/USDT\*\* [+-]?\d+\/10 at [\d,.]+, BTC corr 1\.00: RSI \d+/);
    expect(buttons(msg!).map((b) => b.label)).toEqual(['Regime', 'Pairlist']);
    const bad = dc.slash(ADMIN, 'pairlist', { changes: 'deny=ETH/USDT maxSpread=wide' });
    const [answer] = await settled(bad);
    expect(answer!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(answer!.content.split('\n')[0]).toBe(
      'maxSpread is "wide"; allowed: largest spread as a share of the mid price, 0 to 1, or a percentage (0.005 = 0.5%)',
    );
    const show = dc.slash(VIEWER, 'pairlist', {});
    const [list] = await settled(show);
    // The deny filter's card, at phone width: its name and meaning, and no value (none is set).
    expect(list!.content).toMatch(/\ndeny\n {2}Meaning/);
  });

  it('refuses a stranger with an ephemeral reply and logs only the id', async () => {
    const ix = dc.slash(STRANGER, 'status');
    const [msg] = await settled(ix);
    expect(msg!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(msg!.content).toContain(`Your discord id is ${STRANGER.id}`);
    expect(
      t.logs.find((l) => l.msg === 'refused: not an allowed user' && l.userId === STRANGER.id),
    ).toMatchObject({ platform: 'discord' });
  });

  it('offers a stranger no completions (strategies, markets)', async () => {
    const strategies = dc.autocomplete(STRANGER, 'backtest', 'strategy', 'cro');
    await dc.waitFor(() => strategies.callback === 8, 'autocomplete');
    expect(strategies.callbackData!.choices).toEqual([]);
  });

  it('gives a member the role their server role maps to', async () => {
    const ix = dc.slash(TRADER_BY_ROLE, 'help', {}, { roles: [TRADERS_ROLE] });
    const [msg] = await settled(ix);
    expect(msg!.content).toContain('you are a trader');
  });

  it('runs a pressed button once, takes the buttons away, and refuses the replayed press', async () => {
    const start = dc.slash(VIEWER, 'start');
    const [welcome] = await settled(start);
    const strategies = buttons(welcome!).find((b) => b.label === 'Strategies')!;
    const press = dc.press(VIEWER, welcome!, strategies.customId);
    const [list] = await settled(press);
    expect(press.callback).toBe(7);
    expect(welcome!.components).toEqual([]);
    expect(list!.content).toContain('**ema-cross**');

    const replay = dc.press(VIEWER, welcome!, strategies.customId);
    const [refusal] = await settled(replay);
    expect(replay.callback).toBe(4);
    expect(refusal!.flags & EPHEMERAL).toBe(EPHEMERAL);
    expect(refusal!.content).toBe('This button was already used by vic; nothing was done.');
  });

  it('refuses forged and tampered button ids', async () => {
    const start = dc.slash(ADMIN, 'start');
    const [welcome] = await settled(start);
    const real = buttons(welcome!)[0]!.customId;
    for (const id of [
      real.slice(0, -2) + (real.endsWith('AA') ? 'BB' : 'AA'),
      'b.AAAAAAAAAAAA.zzzzzz.AAAAAAAAAAAAAAAAAAAAAA',
    ]) {
      const press = dc.press(ADMIN, welcome!, id);
      const [refusal] = await settled(press);
      expect(refusal!.content).toBe('This button is not one of mine; nothing was done.');
      expect(refusal!.flags & EPHEMERAL).toBe(EPHEMERAL);
    }
    expect(buttons(welcome!)).toHaveLength(2);
  });

  it('answers a burst of 30 commands, each in its own interaction, within the rate limits', async () => {
    const names = COMMAND_NAMES;
    const ixs = Array.from({ length: 30 }, (_, i) =>
      dc.slash(ADMIN, 'help', { command: names[i % names.length]! }),
    );
    for (const [i, ix] of ixs.entries()) {
      const [msg] = await settled(ix, 1, `answer ${i}`);
      expect(msg!.content).toMatch(new RegExp(`^\\*\\*/${names[i % names.length]}\\*\\*`));
    }
  });

  it('keeps the gateway alive with heartbeats', async () => {
    await dc.waitFor(() => dc.heartbeats >= 2, 'two heartbeats', 5000);
    expect(dc.connections).toBe(1);
  });
});

describe('Discord shutdown', () => {
  it('finishes a backtest in flight, then closes the gateway', async () => {
    await boot();
    const ix = dc.slash(ADMIN, 'backtest', {
      strategy: 'ema-cross',
      symbol: 'BTC/USDT',
      timeframe: '2h',
      period: '2y',
    });
    await dc.waitFor(() => ix.messages[0]?.content.includes('starting'), 'the progress message');
    await t.bot.stop();
    expect(ix.messages.some((m) => m.attachments.length === 1)).toBe(true);
    await dc.waitFor(() => dc.connections === 0, 'the gateway to close', 5000);
    await dc.stop();
  });
});

describe('npm run discord:deploy', () => {
  it('registers globally without a guild id, and then finds nothing to do', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const { ROOT } = await import('../helpers/fixtures.js');
    const emu = await new DiscordEmulator().start();
    try {
      const run = () =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          // Asynchronous, so the emulator in this process can answer.
          import('node:child_process').then(({ execFile }) =>
            execFile(
              process.execPath,
              [join(ROOT, 'dist/src/cli.js'), 'discord:deploy'],
              {
                cwd: ROOT,
                env: {
                  PATH: process.env.PATH,
                  DISCORD_BOT_TOKEN: emu.token,
                  DISCORD_API_ROOT: emu.apiRoot,
                  LOG_LEVEL: 'silent',
                },
              },
              (err, stdout, stderr) =>
                resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
            ),
          );
        });
      const first = await run();
      expect(first.stderr).toBe('');
      expect(first.stdout.trim()).toBe(`Registered ${COMMAND_NAMES.length} slash commands (global).`);
      expect(emu.globalCommands.map((c) => c.name).sort()).toEqual(COMMAND_NAMES);
      const second = await run();
      expect(second.stdout.trim()).toBe(
        `Discord already has these ${COMMAND_NAMES.length} slash commands (global); nothing to do.`,
      );
      const noToken = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli.js'), 'discord:deploy'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      });
      expect(noToken.status).toBe(2);
      expect(noToken.stderr.trim()).toBe(
        'error: DISCORD_BOT_TOKEN is not set; allowed: the bot token from the Discord developer portal',
      );
    } finally {
      await emu.stop();
    }
  });
});
