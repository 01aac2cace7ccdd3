import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { argsFromWords, tokenize, usageLine, validateArgs } from '../../src/chat/args.js';
import { ButtonSigner } from '../../src/chat/buttons.js';
import { type ChatRef, defineCommand, type Services } from '../../src/chat/command.js';
import { Dispatcher, type Person } from '../../src/chat/dispatch.js';
import { startProgress } from '../../src/chat/progress.js';
import { CommandRegistry, HELP_GROUPS, helpLines, loadCommands } from '../../src/chat/registry.js';
import { type Reply, renderMessages, reply, tableLines } from '../../src/chat/reply.js';
import { TELEGRAM_HTML } from '../../src/chat/telegram/index.js';
import { DISCORD_MARKDOWN } from '../../src/chat/discord/index.js';
import { loadConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { StateStore } from '../../src/store/state.js';
import { COMMAND_NAMES } from '../helpers/bot.js';
import { journalRecord } from '../helpers/journal.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'bosun-core-'));
const silent = createLogger({ level: 'silent', format: 'json' });

const backtestLike = defineCommand({
  name: 'bt',
  summary: 'A command shaped like /backtest',
  role: 'viewer',
  args: z.object({
    strategy: z.string().describe('a strategy'),
    symbol: z.string().describe('a market'),
    period: z.string().optional().describe('how far back'),
    bars: z.number().int().min(1).max(10).default(5).describe('bars'),
    params: z.record(z.string(), z.string()).optional().describe('name=value pairs'),
  }),
  positional: ['strategy', 'symbol', 'period'],
  rest: 'params',
  run: () => reply('ok'),
});

describe('replies rendered for each platform', () => {
  it('escapes text for Telegram HTML and Discord markdown', () => {
    const r = reply().line('a < b & c > d ', { style: 'bold', text: '*x_y*' }, ' ', {
      style: 'code',
      text: 'a`b',
    });
    expect(renderMessages(r.blocks, TELEGRAM_HTML)).toEqual([
      'a &lt; b &amp; c &gt; d <b>*x_y*</b> <code>a`b</code>',
    ]);
    expect(renderMessages(r.blocks, DISCORD_MARKDOWN)).toEqual(['a < b & c > d **\\*x\\_y\\*** `` a`b ``']);
  });

  it('aligns table columns, numbers to the right', () => {
    const lines = tableLines({
      kind: 'table',
      rows: [
        ['fast', '12'],
        ['slowest', '260'],
      ],
      header: ['name', 'n'],
    });
    expect(lines).toEqual(['name       n', '-------  ---', 'fast      12', 'slowest  260']);
  });

  it('splits a long reply between lines, each message within the limit and well formed', () => {
    const rows = Array.from({ length: 400 }, (_, i) => [`row${i}`, `${i * 7}`, 'x'.repeat(20)]);
    const r = reply().line('Title & more').table(rows).line('after the table');
    for (const dialect of [TELEGRAM_HTML, DISCORD_MARKDOWN]) {
      const messages = renderMessages(r.blocks, dialect);
      expect(messages.length).toBeGreaterThan(3);
      for (const m of messages) {
        expect(m.length).toBeLessThanOrEqual(dialect.limit);
        // Every monospaced block opened in a message is closed in it.
        if (dialect === TELEGRAM_HTML) expect(m.split('<pre>').length).toBe(m.split('</pre>').length);
        else expect((m.split('```').length - 1) % 2).toBe(0);
      }
      const all = messages.join('\n');
      for (const row of rows) expect(all).toContain(row[0]);
      expect(messages.at(-1)).toContain('after the table');
    }
  });

  it('cuts a single line longer than the limit without breaking an escape', () => {
    const r = reply().line('&'.repeat(5000));
    const messages = renderMessages(r.blocks, TELEGRAM_HTML);
    for (const m of messages) {
      expect(m.length).toBeLessThanOrEqual(4096);
      expect(m).toMatch(/^(&amp;)+$/);
    }
    expect(messages.join('').length).toBe(5000 * 5);
  });
});

describe('command arguments from text', () => {
  it('splits words, keeping quoted spaces', () => {
    expect(tokenize(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
    expect(() => tokenize('a "b')).toThrow('a quote (") is not closed');
  });

  it('fills positional arguments in order, named ones by key, and the rest into the rest', () => {
    const raw = argsFromWords(backtestLike, ['ema', 'BTC/USDT', 'bars=3', 'fast=9', 'period=14']);
    // `period` names a positional argument, so with a rest it is the strategy's parameter.
    expect(raw).toEqual({
      strategy: 'ema',
      symbol: 'BTC/USDT',
      bars: '3',
      params: { fast: '9', period: '14' },
    });
    expect(validateArgs(backtestLike, raw)).toEqual({
      strategy: 'ema',
      symbol: 'BTC/USDT',
      bars: 3,
      params: { fast: '9', period: '14' },
    });
  });

  it('says what is wrong in one line', () => {
    expect(() => validateArgs(backtestLike, argsFromWords(backtestLike, ['ema']))).toThrow(
      'SYMBOL is missing; allowed: a market',
    );
    expect(() => validateArgs(backtestLike, argsFromWords(backtestLike, ['ema', 'X', 'bars=0']))).toThrow(
      'bars is 0; allowed: a whole number from 1 to 10',
    );
    expect(() => validateArgs(backtestLike, argsFromWords(backtestLike, ['ema', 'X', 'bars=many']))).toThrow(
      'bars is "many"; allowed: a whole number from 1 to 10',
    );
    expect(() => argsFromWords(backtestLike, ['a', 'b', 'c', 'd'])).toThrow(
      'too many arguments: "d" is one more than /bt takes',
    );
    expect(() => argsFromWords(backtestLike, ['a', 'b', 'bars=1', 'bars=2'])).toThrow('bars is given twice');
  });

  it('writes the usage line from the schema', () => {
    expect(usageLine(backtestLike)).toBe('/bt STRATEGY SYMBOL [PERIOD] [bars=VALUE] [param=value ...]');
  });
});

describe('the command registry', () => {
  const base = {
    summary: 'Does a thing',
    role: 'viewer' as const,
    args: z.object({}),
    run: () => reply('x'),
  };

  it('rejects two commands with one name, and malformed ones, naming the rule', () => {
    expect(
      () =>
        new CommandRegistry(
          [defineCommand({ ...base, name: 'x' }), defineCommand({ ...base, name: 'x' })],
          ['a.ts', 'b.ts'],
        ),
    ).toThrow('b.ts: a command named "x" is already defined');
    expect(() => new CommandRegistry([defineCommand({ ...base, name: 'Bad-Name' })])).toThrow(
      'must be 1-32 lower case letters',
    );
    expect(() => new CommandRegistry([defineCommand({ ...base, name: 'x', summary: 'no' })])).toThrow(
      'summary must be 3 to 100 characters',
    );
    expect(
      () => new CommandRegistry([defineCommand({ ...base, name: 'x', args: z.object({ a: z.string() }) })]),
    ).toThrow('argument "a" needs a description');
    expect(
      () =>
        new CommandRegistry([
          defineCommand({
            ...base,
            name: 'x',
            args: z.object({ a: z.string().optional().describe('a'), b: z.string().describe('b') }),
            positional: ['a', 'b'],
          }),
        ]),
    ).toThrow('required positional "b" follows an optional one');
    expect(
      () => new CommandRegistry([defineCommand({ ...base, name: 'x', positional: ['nope' as never] })]),
    ).toThrow('positional argument "nope" is not in args');
  });

  it('rejects a module in commands/ that is not a command, or named unlike its file', async () => {
    const dir = `${tmp()}/`;
    writeFileSync(join(dir, 'oops.js'), 'export default { name: "oops" };\n');
    await expect(loadCommands(dir)).rejects.toThrow(
      'oops.js: the default export must be a command made with defineCommand()',
    );
  });

  it('loads the real commands, and help shows each role only what it may run', async () => {
    const registry = await loadCommands();
    expect(registry.all().map((c) => c.name)).toEqual(COMMAND_NAMES);
    const usages = (role: 'viewer' | 'trader' | 'admin') =>
      helpLines(registry, role).map((h) => h.usage.split(' ')[0]);
    expect(usages('viewer')).not.toContain('/stop');
    expect(usages('trader')).toContain('/stop');
    expect(usages('trader')).not.toContain('/panic');
    expect(usages('admin')).toContain('/panic');
    // Every command has its place in /help's groups, and one place only.
    const placed = HELP_GROUPS.flatMap(([, names]) => names);
    expect([...placed].sort()).toEqual([...COMMAND_NAMES].sort());
  });

  it('keeps commands free of chat libraries, and adapters free of command names', async () => {
    const { readdirSync } = await import('node:fs');
    const { ROOT } = await import('../helpers/fixtures.js');
    const registry = await loadCommands();
    for (const f of readdirSync(join(ROOT, 'commands')).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, 'commands', f), 'utf8');
      expect(text, f).not.toMatch(
        /from '(grammy|discord\.js|@grammyjs\/[^']+|@discordjs\/[^']+)'|chat\/(telegram|discord|console)\//,
      );
    }
    for (const dir of ['telegram', 'discord', 'console']) {
      for (const f of readdirSync(join(ROOT, 'src/chat', dir))) {
        // Stream and socket events ('close', 'error') share words with commands; they are not commands.
        const text = readFileSync(join(ROOT, 'src/chat', dir, f), 'utf8').replace(/\.(on|once)\('\w+'/g, '');
        for (const c of registry.all())
          expect(text, `${dir}/${f} names /${c.name}`).not.toMatch(new RegExp(`['"\`]/?${c.name}['"\`]`));
      }
    }
  });
});

/**
 * A dispatcher over these commands alone, on a fresh data directory with `env`; `send` runs a
 * command as `role` on Telegram and collects each reply as Telegram HTML in `said`.
 */
async function dispatcherWith(
  commands: Parameters<typeof defineCommand>[0][],
  env: Record<string, string> = {},
) {
  const dataDir = tmp();
  const store = await StateStore.open(dataDir);
  const registry = new CommandRegistry(commands.map((c) => defineCommand(c)));
  const config = loadConfig({ env: { DATA_DIR: dataDir, ...env }, dotenv: false });
  const dispatcher = new Dispatcher({ config, registry, store } as unknown as Services, silent);
  const chat: ChatRef = { platform: 'console', id: 'c', private: true };
  const said: string[] = [];
  const transport = {
    send: async (r: Reply) => (
      said.push(renderMessages(r.blocks, TELEGRAM_HTML).join('\n')),
      { edit: async () => undefined }
    ),
  };
  const send = (command: string, role: Person['role']) =>
    dispatcher.run({
      command,
      words: [],
      person: { platform: 'telegram', id: '7', name: 'p', role },
      chat,
      transport,
    });
  return { said, send };
}

describe('help', () => {
  it('says what some uses of a command need beyond its role, as the command will ask it', async () => {
    const registry = await loadCommands();
    const help = registry.get('help')!;
    const ctx = { services: { registry }, caller: { role: 'viewer', name: 'v' } };
    const text = async (command: string) =>
      renderMessages(((await help.run({ command }, ctx as never)) as Reply).blocks, TELEGRAM_HTML).join('\n');
    expect(await text('start')).toContain('Needs the viewer role; starting a run needs the trader role.');
    expect(await text('risk')).toContain(
      'Needs the viewer role; changing risk settings needs the admin role.',
    );
    expect(await text('mode')).toContain(
      'Needs the viewer role; switching between paper and live needs the admin role.',
    );
    expect(await text('balance')).toMatch(/Needs the viewer role\.$/);
  });
});

describe('roles', () => {
  it("refuses a command above the caller's role, and a stranger, with one line", async () => {
    const { said, send } = await dispatcherWith([
      { name: 'stop', summary: 'Stop runs', role: 'trader', args: z.object({}), run: () => reply('stopped') },
    ]);
    await send('stop', 'viewer');
    await send('stop', 'trader');
    await send('stop', undefined);
    expect(said).toEqual([
      '/stop needs the trader role; you are a viewer.',
      'stopped',
      'Sorry, I only take commands from my allowed users. Your telegram id is 7; ask the bot&#39;s admin to add it.'.replace(
        '&#39;',
        "'",
      ),
    ]);
  });
});

describe('errors in chat', () => {
  it('never quote a configured secret, or a token-shaped string, from an error a library raised', async () => {
    const KEY = 'canaryKeyAbCdEf0123456789';
    const SECRET = 'canarySecretZyXw9876543210';
    const failing = (name: string, error: AppError) => ({
      name,
      summary: name,
      role: 'viewer' as const,
      args: z.object({}),
      run: () => {
        throw error;
      },
    });
    const { said, send } = await dispatcherWith(
      [
        failing(
          'balance',
          new AppError(
            'EXCHANGE',
            `binance {"code":-2014,"msg":"API-key ${KEY} rejected, secret ${SECRET}"}`,
          ),
        ),
        failing(
          'pnl',
          new AppError('BAD_INPUT', 'POST /bot7777777:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe said no'),
        ),
      ],
      { EXCHANGE_API_KEY: KEY, EXCHANGE_SECRET: SECRET },
    );
    await send('balance', 'admin');
    await send('pnl', 'admin');
    const text = said.join('\n');
    expect(said).toHaveLength(2);
    expect(text).toContain('Sorry, /balance failed: binance');
    for (const secret of [KEY, SECRET, 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'])
      expect(text).not.toContain(secret);
  });
});

describe('signed buttons', () => {
  const chat: ChatRef = { platform: 'telegram', id: '42', private: true };
  const allow = () => undefined;

  it('expire after their time to live', async () => {
    let now = 1_000_000;
    const signer = new ButtonSigner(await StateStore.open(tmp()), 60_000, () => now);
    const payload = await signer.register({ label: 'x', command: 'status', args: [] }, chat);
    now += 61_000;
    expect(await signer.redeem(payload, chat, 'p', allow)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('belong to the chat they were sent to', async () => {
    const signer = new ButtonSigner(await StateStore.open(tmp()), 60_000);
    const payload = await signer.register({ label: 'x', command: 'status', args: [] }, chat);
    expect(await signer.redeem(payload, { ...chat, id: '43' }, 'p', allow)).toMatchObject({
      ok: false,
      reason: 'elsewhere',
    });
  });

  it('are not used up by someone who may not press them', async () => {
    const signer = new ButtonSigner(await StateStore.open(tmp()), 60_000);
    const payload = await signer.register({ label: 'x', command: 'stop', args: ['all'] }, chat);
    expect(await signer.redeem(payload, chat, 'viewer', () => 'no')).toMatchObject({
      ok: false,
      reason: 'forbidden',
    });
    expect(await signer.redeem(payload, chat, 'trader', allow)).toEqual({
      ok: true,
      command: 'stop',
      args: ['all'],
      once: true,
    });
  });

  it('stay used across a restart: the use is written before the action runs', async () => {
    const dir = tmp();
    const signer = new ButtonSigner(await StateStore.open(dir), 60_000);
    const payload = await signer.register({ label: 'x', command: 'status', args: [] }, chat);
    expect(await signer.redeem(payload, chat, 'p', allow)).toMatchObject({ ok: true });
    const reopened = new ButtonSigner(await StateStore.open(dir), 60_000);
    expect(await reopened.redeem(payload, chat, 'p', allow)).toMatchObject({ ok: false, reason: 'used' });
  });

  it('are refused by another install (another secret)', async () => {
    const payload = await new ButtonSigner(await StateStore.open(tmp()), 60_000).register(
      { label: 'x', command: 'status', args: [] },
      chat,
    );
    expect(
      await new ButtonSigner(await StateStore.open(tmp()), 60_000).redeem(payload, chat, 'p', allow),
    ).toMatchObject({ ok: false, reason: 'forged' });
  });
});

describe('the state store', () => {
  it('commits every update to the journal before resolving, and reads it back', async () => {
    const dir = tmp();
    const store = await StateStore.open(dir);
    await store.update((s) => {
      s.buttons.x = { command: 'c', args: [], chat: 'a', once: true, createdAt: 1, expiresAt: 2 };
    });
    // Read through a connection of its own, as a restart would.
    expect(journalRecord<{ command: string }>(dir, 'buttons', 'x')?.command).toBe('c');
    await store.close();
    const again = await StateStore.open(dir);
    expect(again.data.buttons.x?.command).toBe('c');
    expect(again.data.install.secret).toBe(store.data.install.secret);
    await again.close();
  });

  it.each([
    ['', 'is empty'],
    ['{"version":1,', 'is not valid JSON'],
    ['{"version":2,"install":{},"buttons":{}}', 'is not a bosun state (version'],
  ])('refuses a damaged v0.1 state file %j and leaves it untouched', async (text, why) => {
    const dir = tmp();
    writeFileSync(join(dir, 'bosun.json'), text);
    await expect(StateStore.open(dir)).rejects.toThrow(why);
    expect(readFileSync(join(dir, 'bosun.json'), 'utf8')).toBe(text);
  });
});

describe('progress', () => {
  it('edits progress at 10% steps, no more often than the interval, and always at the end', async () => {
    let now = 0;
    const edits: string[] = [];
    const ctx = {
      send: async (r: Reply) => (
        edits.push(renderMessages(r.blocks, TELEGRAM_HTML)[0]!),
        { edit: async (n: Reply) => void edits.push(renderMessages(n.blocks, TELEGRAM_HTML)[0]!) }
      ),
    };
    const p = await startProgress(ctx, 'Job', { minIntervalMs: 1000, now: () => now });
    await p.update(0.05, 'a'); // under 10%: nothing
    now += 1000;
    await p.update(0.12, 'b'); // 10%
    now += 100;
    await p.update(0.35, 'c'); // too soon
    now += 1000;
    await p.update(0.36, 'd'); // 30%
    await p.done('done');
    expect(edits).toEqual([
      'Job: [..........] 0% starting',
      'Job: [#.........] 10% b',
      'Job: [###.......] 30% d',
      'Job: [##########] 100% done',
    ]);
  });
});
