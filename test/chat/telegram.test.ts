import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../../src/chat/reply.js';
import { TELEGRAM_LIMITS } from '../../src/chat/throttle.js';
import { type BotMessage, TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { COMMAND_NAMES, startTestBot, type TestBot } from '../helpers/bot.js';

const ADMIN: TgUser = { id: 1001, first_name: 'Ada', username: 'ada' };
const VIEWER: TgUser = { id: 1002, first_name: 'Vic' };
const STRANGER: TgUser = { id: 666, first_name: 'Eve' };
const buttons = TelegramEmulator.buttons;

/** Fast limits on both sides, so tests run quickly while the throttle still has to work. */
const LIMITS = { perChat: { burst: 10, perSecond: 20 }, global: { burst: 30, perSecond: 30 } };

let tg: TelegramEmulator;
let t: TestBot;

async function boot(): Promise<void> {
  tg = await new TelegramEmulator({ limits: LIMITS }).start();
  t = await startTestBot(
    {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin,${VIEWER.id}:viewer`,
    },
    {
      telegram: {
        // A little under the emulator's limits, as a client should stay under a server's.
        throttle: { ...TELEGRAM_LIMITS, private: { max: 9, windowMs: 500 } },
        pollTimeout: 2,
      },
    },
  );
}

/** Send a command and wait until the bot has sent `count` more messages to that chat. */
async function ask(user: TgUser, text: string, count = 1): Promise<BotMessage[]> {
  const before = tg.chatMessages(user.id).length;
  tg.userSends(user, text);
  await tg.waitFor(() => tg.chatMessages(user.id).length >= before + count, `${count} replies to ${text}`);
  await new Promise((r) => setTimeout(r, 50)); // let any extra message arrive, to be caught below
  return tg.chatMessages(user.id).slice(before);
}

describe('Telegram, through grammY against the Bot API emulator', () => {
  beforeAll(boot);
  afterAll(async () => {
    await t?.bot.stop();
    await tg?.stop();
  });
  afterEach(() => {
    expect(tg.rateLimited).toBe(0);
  });

  it('registers every command with setMyCommands at start', () => {
    expect(tg.commands.map((c) => c.command).sort()).toEqual(COMMAND_NAMES);
    expect(tg.commands.find((c) => c.command === 'backtest')?.description).toMatch(/Backtest/);
  });

  it('answers /help with the usage line of every command the caller may use', async () => {
    const [help] = await ask(ADMIN, '/help');
    expect(help!.parse_mode).toBe('HTML');
    expect(help!.text).toContain(
      '<code>/backtest STRATEGY SYMBOL TIMEFRAME [PERIOD] [sweep=VALUE] [rank=VALUE] [rules=plain|engine] [entry=VALUE] [param=value ...]</code>',
    );
    expect(help!.text).toContain('/chart SYMBOL [TIMEFRAME] [INDICATORS] [bars=VALUE]');
    expect(help!.text).toContain('you are an admin');
  });

  it('explains one command with /help NAME, arguments and what each allows', async () => {
    const [help] = await ask(VIEWER, '/help@bosun_test_bot chart');
    expect(help!.text).toContain('<pre>');
    // At phone width the arguments come as cards: the name, then what it takes.
    expect(help!.text).toMatch(
      /\nbars\n +default 120\n +allowed\n +a whole number from 20 to 1000(\n|<\/pre>)/,
    );
  });

  it('runs /backtest with a progress message edited in place, then the summary and the chart as a photo', async () => {
    const replies = await ask(ADMIN, '/backtest ema-cross BTC/USDT 4h 1y fast=9 slow=21', 3);
    const [progress, summary, photo] = replies;
    expect(progress!.edits[0]).toMatch(/Backtest ema-cross BTC\/USDT 4h 1y: \[\.{10}\] 0% starting/);
    expect(progress!.text).toMatch(/\[#{10}\] 100% done in \d+\.\d s/);
    expect(summary!.text).toMatch(
      /<b>Backtest ema-cross BTC\/USDT 4h 1y<\/b>: [+-]\d+\.\d\d% over \d+ trades/,
    );
    expect(summary!.text).toContain('fast=9 slow=21');
    expect(summary!.text).toContain('MARKET_DATA=samples: bundled sample');
    expect(photo!.photo).toMatchObject({ width: 1280, height: 720 });
    expect(photo!.photo!.bytes).toBeGreaterThan(20_000);
    expect(photo!.caption).toBe('ema-cross on BTC/USDT 4h');
    expect(buttons(photo!).map((b) => b.text)).toEqual(['Chart BTC/USDT 4h', 'Parameters']);
    for (const b of buttons(photo!)) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
  });

  it('says which span a /backtest ran on when the samples cover less than asked, and does not annualise a week', async () => {
    // 15m comes from the one-month 1m sample (March 2023): a year cannot be had.
    const plain = (m: BotMessage) => m.text!.replace(/<[^>]+>/g, '');
    const [, year] = await ask(ADMIN, '/backtest ema-cross BTC/USDT 15m 1y', 3);
    // (It ends where the bot's replay clock stands: only candles closed by then are decided on.)
    expect(plain(year!)).toMatch(
      /Asked for 1y; the data covers (\d+(\.\d)?)d \(2023-03-01 \.\. 2023-03-\d\d\): every figure is over that span\./,
    );
    expect(plain(year!)).toMatch(/CAGR\s+n\/a \(\d+(\.\d)?d of data; annualised figures\s+need 30 days\)/);
    const [, week] = await ask(ADMIN, '/backtest ema-cross BTC/USDT 15m 7d', 3);
    expect(plain(week!)).toMatch(/CAGR\s+n\/a \(7d of data; annualised figures\s+need 30 days\)/);
    expect(plain(week!)).not.toContain('Asked for');
  });

  it('runs /backtest under the engine rules: what a run would have done, with what the rules refused', async () => {
    const plain = (m: BotMessage) => m.text!.replace(/<[^>]+>/g, '');
    const [, summary, photo] = await ask(ADMIN, '/backtest momentum BTC/USDT 15m 30d rules=engine', 3);
    const text = plain(summary!);
    // (This bot runs with REGIME_GATE=off; the parity test holds the regime's part.)
    expect(text).toMatch(/0 bps, the engine rules/);
    expect(text).toMatch(/Rules\s+risk 1% over the stop \(default stop\s+2%\)/);
    expect(text).toMatch(/Regime\s+off \(REGIME_GATE=off\)/);
    expect(text).toMatch(/Refused\s+\d+ of \d+ entry signals/);
    expect(photo!.photo).toBeDefined();
    const [refusal] = await ask(ADMIN, '/backtest ema-cross BTC/USDT 4h 1y fast=5..20:5 rules=engine');
    expect(plain(refusal!)).toContain(
      'a sweep runs the plain rules; drop rules=engine, or give one set of parameters',
    );
  });

  it('keeps each /backtest: /backtests lists it, shows it again with its chart, /compare puts two side by side', async () => {
    const plain = (m: BotMessage) => m.text!.replace(/<[^>]+>/g, '');
    const [, one, onePhoto] = await ask(ADMIN, '/backtest ema-cross BTC/USDT 4h 90d', 3);
    const idA = /Kept as (B\w{5}): \/backtests show \1, or \/compare \1 with another/.exec(plain(one!))?.[1];
    expect(idA).toBeDefined();
    const [, two] = await ask(ADMIN, '/backtest rsi-reversion BTC/USDT 4h 90d', 3);
    const idB = /Kept as (B\w{5})/.exec(plain(two!))?.[1];

    const [list] = await ask(ADMIN, '/backtests');
    expect(plain(list!)).toMatch(
      new RegExp(
        `${idB} rsi-reversion BTC/USDT 4h, [\\d-]+ \\.\\. [\\d-]+ \\([\\d.]+d\\): [+-][\\d.]+% over \\d+ trades?`,
      ),
    );
    expect(plain(list!).indexOf(idB!)).toBeLessThan(plain(list!).indexOf(idA!));

    const [shown, shownPhoto] = await ask(ADMIN, `/backtests show ${idA}`, 2);
    expect(plain(shown!)).toMatch(new RegExp(`Kept\\s+${idA}, run by @ada on `));
    const figures = (m: BotMessage) =>
      plain(m)
        .split('\n')
        .filter((l) => /^(Total return|Final equity) /.test(l));
    expect(figures(shown!)).toEqual(figures(one!));
    // The chart as it was sent, not drawn again.
    expect(shownPhoto!.photo!.bytes).toBe(onePhoto!.photo!.bytes);

    const [table, chart] = await ask(ADMIN, `/compare ${idA} ${idB}`, 2);
    expect(plain(table!)).toContain(`Backtests ${idA}, ${idB}`);
    expect(plain(table!)).toMatch(/Strategy\s+.*ema-cross[\s\S]*rsi-reversion/);
    expect(chart!.photo).toMatchObject({ width: 1280, height: 720 });
    const [unknown] = await ask(ADMIN, `/compare ${idA} BZZZZZ`);
    expect(plain(unknown!)).toMatch(/no kept backtest BZZZZZ; the latest: /);
  });

  it('sweeps a small grid from /backtest: a ranked table, a heatmap photo, and a button that backtests the best set alone to the same figures', async () => {
    const [progress, summary, photo] = await ask(
      ADMIN,
      '/backtest ema-cross BTC/USDT 4h 1y fast=5..20:5 slow=20..60:10',
      3,
    );
    expect(progress!.edits[0]).toBe('Sweep ema-cross BTC/USDT 4h 1y: [..........] 0% starting');
    expect(progress!.text).toMatch(/\[#{10}\] 100% done in \d+\.\d s/);
    const text = summary!.text!;
    expect(text).toMatch(
      /^<b>Sweep ema-cross BTC\/USDT 4h 1y<\/b>: 19 sets in \d+\.\d s, ranked by Sharpe\n/,
    );
    const best =
      /\nBest fast=(\d+) slow=(\d+): ([+-]\d+\.\d\d%) over (\d+) trades, Sharpe (-?\d+\.\d\d), max drawdown (-\d+\.\d\d%)\n/.exec(
        text,
      )!;
    expect(best).not.toBeNull();
    // The table, narrow enough for a phone: header, rule, the ten best by Sharpe (non-increasing),
    // the first being the best set.
    const table = /<pre>([\s\S]*?)<\/pre>/.exec(text)![1]!.split('\n');
    expect(table.every((l) => l.length <= 40)).toBe(true);
    expect(table[0]!.trim().split(/\s+/)).toEqual(['#', 'fast', 'slow', 'Sharpe', 'return', 'trades']);
    const rows = table.slice(2).map((l) => l.trim().split(/\s+/));
    expect(rows).toHaveLength(10);
    expect(rows[0]).toEqual(['1', best[1], best[2], best[5], best[3], best[4]]);
    const sharpes = rows.map((r) => Number(r[3]));
    expect(sharpes[0]).toBe(Number(best[5]));
    for (let i = 1; i < sharpes.length; i++) expect(sharpes[i]).toBeLessThanOrEqual(sharpes[i - 1]!);
    expect(text).toContain('<i>top 10 of 19</i>');
    expect(text).toContain('1 set skipped, e.g. fast=20 slow=20: ema-cross: fast must be smaller than slow');
    expect(photo!.photo).toMatchObject({ width: 1280, height: 720 });
    expect(photo!.photo!.bytes).toBeGreaterThan(10_000);
    expect(photo!.caption).toBe('ema-cross on BTC/USDT 4h: Sharpe by fast and slow');
    const [again, params] = buttons(photo!);
    expect(again!.text).toBe(`Backtest fast=${best[1]} slow=${best[2]}`);
    expect(params!.text).toBe('Parameters');

    // The best set run alone, from its button: the same return, trades, Sharpe and drawdown.
    const before = tg.chatMessages(ADMIN.id).length;
    tg.userPresses(ADMIN, photo!, again!.data);
    await tg.waitFor(() => tg.chatMessages(ADMIN.id).length >= before + 3, 'the single backtest');
    const single = tg.chatMessages(ADMIN.id)[before + 1]!.text!;
    expect(single).toContain(`<b>Backtest ema-cross BTC/USDT 4h 1y</b>: ${best[3]} over ${best[4]} trades`);
    expect(single).toContain(`fast=${best[1]} slow=${best[2]}`);
    expect(single).toMatch(new RegExp(`Sharpe / Sortino +${best[5]} /`));
    expect(single).toMatch(new RegExp(`Max drawdown\\s+${best[6]}`));
  });

  it('sweeps one parameter with sweep= and rank=, as bars', async () => {
    const [, summary, photo] = await ask(
      VIEWER,
      '/backtest ema-cross BTC/USDT 4h 1y sweep=fast=5|10|15 rank=totalReturn slow=30',
      3,
    );
    expect(summary!.text).toMatch(/: 3 sets in \d+\.\d s, ranked by Return\n/);
    expect(summary!.text).toContain('Fixed: slow=30');
    const returns = /<pre>([\s\S]*?)<\/pre>/
      .exec(summary!.text!)![1]!
      .split('\n')
      .slice(2)
      .map((l) => Number(l.trim().split(/\s+/)[2]!.replace('%', '')));
    expect(returns).toHaveLength(3);
    expect([...returns].sort((a, b) => b - a)).toEqual(returns);
    expect(photo!.caption).toBe('ema-cross on BTC/USDT 4h: Return by fast');
  });

  it('ranks markets with /scan, explains /regime from its button, and lets only admins change /pairlist, all or nothing', async () => {
    const plain = (m: BotMessage) => m.text!.replace(/<[^>]+>/g, '');
    const [scan] = await ask(VIEWER, '/scan 2h 3');
    expect(plain(scan!)).toMatch(
      /^Momentum scan 2h at \d{4}-\d\d-\d\d \d\d:\d\d UTC: 1 market from bundled samples/,
    );
    expect(plain(scan!)).toMatch(/\n1\. BTC\/USDT [+-]?\d+\/10 at [\d,.]+, BTC corr 1\.00: RSI \d+/);
    const [regimeButton, pairlistButton] = buttons(scan!);
    expect([regimeButton!.text, pairlistButton!.text]).toEqual(['Regime', 'Pairlist']);
    const before = tg.chatMessages(VIEWER.id).length;
    tg.userPresses(VIEWER, scan!, regimeButton!.data);
    await tg.waitFor(() => tg.chatMessages(VIEWER.id).length > before, 'the regime');
    const regime = plain(tg.chatMessages(VIEWER.id).at(-1)!);
    // A replay's regime comes from its own candles: minutes into it, there are too few 4h ones.
    expect(regime).toMatch(
      /^Regime unknown, on BTC\/USDT 4h: the regime needs 50 4h candles of BTC\/USDT; only \d+ are available yet\n/,
    );
    expect(regime).toContain(
      'No outside inputs configured (REGIME_DXY_URL, REGIME_DOMINANCE_URL, REGIME_NEWS_URL): price alone.',
    );
    expect(regime).toContain('REGIME_GATE=off: runs ignore it.');

    const [refused] = await ask(VIEWER, '/pairlist minVolume=5');
    expect(plain(refused!)).toContain('Changing the market filters needs the admin role; you are a viewer.');
    const [bad] = await ask(ADMIN, '/pairlist deny=ETH/USDT maxSpread=wide');
    expect(plain(bad!).split('\n')).toEqual([
      'maxSpread is "wide"; allowed: largest spread as a share of the mid price, 0 to 1, or a percentage (0.005 = 0.5%)',
      'Usage: /pairlist [ACTION] [param=value ...]',
    ]);
    // The filters come as cards at phone width: the filter's name, then its value (none shown: '-').
    const row = (m: BotMessage, filter: string) => {
      const lines = plain(m).split('\n');
      const card = lines.slice(lines.indexOf(filter) + 1);
      const end = card.findIndex((l) => !l.startsWith(' '));
      const value = card.slice(0, end < 0 ? undefined : end).find((l) => /^ {2}Value /.test(l));
      expect(lines).toContain(filter);
      return value ? value.trim().split(/\s{2,}/)[1] : '-';
    };
    const [unchanged] = await ask(VIEWER, '/pairlist');
    expect(row(unchanged!, 'deny')).toBe('-');
    const [changed] = await ask(ADMIN, '/pairlist deny=ETH/USDT maxSpread=0.5%');
    expect(plain(changed!)).toMatch(/^Market filters changed by @ada: deny=ETH\/USDT maxSpread=0\.5%\n/);
    expect([row(changed!, 'deny'), row(changed!, 'maxSpread')]).toEqual(['ETH/USDT', '0.005']);
    const [reset] = await ask(ADMIN, '/pairlist reset');
    expect(row(reset!, 'deny')).toBe('-');
  });

  it('backtests ict-confluence on 15m like any strategy, and draws /chart with SMC overlays', async () => {
    const [, summary, photo] = await ask(
      ADMIN,
      '/backtest ict-confluence BTC/USDT 15m 21d preset=aggressive',
      3,
    );
    expect(summary!.text).toMatch(
      /<b>Backtest ict-confluence BTC\/USDT 15m 3w<\/b>: [+-]\d+\.\d\d% over \d+ trades/,
    );
    expect(summary!.text).toContain('preset=aggressive');
    expect(photo!.caption).toBe('ict-confluence on BTC/USDT 15m');
    const chart = (await ask(VIEWER, '/chart BTC/USDT 15m smc bars=200', 2)).find((m) => m.photo);
    expect(chart!.photo).toMatchObject({ width: 1280, height: 720 });
    expect(chart!.caption).toBe('BTC/USDT 15m (smc)');
    const [bad] = await ask(VIEWER, '/chart BTC/USDT 15m smc99');
    expect(bad!.text).toContain('indicator "smc99": period 99 is out of range; allowed: 2 to 50');
  });

  it.each([
    ['/backtest ema-cross', 'SYMBOL is missing; allowed: a market like BTC/USDT'],
    ['/backtest ema-cross BTCUSDT 1h', 'SYMBOL is "BTCUSDT"; allowed: a market like BTC/USDT'],
    ['/backtest ema-cross BTC/USDT 7x', 'TIMEFRAME is "7x"; allowed: a timeframe like 15m, 1h, 4h or 1d'],
    ['/backtest ema-cross BTC/USDT 1h 90', 'PERIOD is "90"; allowed: how far back, like 90d, 12w or 1y'],
    ['/backtest ema-crass BTC/USDT 1h', 'unknown strategy "ema-crass" (did you mean ema-cross?)'],
    ['/backtest ema-cross BTC/USDT 1h fats=9', 'unknown parameter "fats" for ema-cross (did you mean fast?)'],
    ['/backtest ema-cross BTC/USDT 1h fast=1', 'ema-cross: fast is 1; allowed: a whole number from 2 to 500'],
    [
      '/backtest ema-cross BTC/USDT 1h fast=abc',
      'ema-cross: fast is "abc"; allowed: a whole number from 2 to 500',
    ],
    ['/chart BTC/USDT 1h ema20 extra', 'too many arguments: "extra" is one more than /chart takes'],
    ['/chart BTC/USDT 1h bars=5', 'bars is 5; allowed: a whole number from 20 to 1000'],
    ['/chart BTC/USDT 1h bogus9', 'unknown indicator "bogus9"'],
    ['/chart BTC/USDT 1h colour=red', 'unknown argument "colour"'],
    ['/backtest "ema-cross BTC/USDT 1h', 'a quote (") is not closed'],
    [
      '/backtest ema-cross BTC/USDT 4h fast=2..200 slow=20..60:10',
      'sweep has 995 combinations; allowed: at most 100 here',
    ],
    // Past the CLI's bound too: still the chat's own bound (it said 10,000).
    [
      '/backtest ema-cross BTC/USDT 4h fast=1..1000:1 slow=2..1000:1',
      'sweep has 999,000 combinations; allowed: at most 100 here',
    ],
    [
      '/backtest ema-cross BTC/USDT 4h rank=sharpe',
      'rank orders a sweep, and none was given; add a range like fast=5..20:5 or sweep=fast=5..20:5',
    ],
    [
      '/backtest ema-cross BTC/USDT 4h fast=30..40:5 slow=10..20:5',
      'every set of the sweep is refused, e.g. fast=30 slow=10: ema-cross: fast must be smaller than slow',
    ],
    ['/backtest ema-cross BTC/USDT 4h sweep=fast=9..5', 'sweep "fast=9..5": FROM must not be above TO'],
    ['/backtest ema-cross BTC/USDT 4h sweep=fast=5|9 fast=20', 'fast is both swept and fixed; give it once'],
    [
      '/backtest ema-cross BTC/USDT 4h fast=5|9 rank=best',
      'rank is "best"; allowed: one of sharpe, totalReturn',
    ],
  ])('answers %s with the one thing wrong and the usage line', async (text, wrong) => {
    const [answer] = await ask(ADMIN, text);
    const lines = answer!.text!.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]!.replace(/&quot;/g, '"')).toContain(wrong);
    expect(lines[1]).toMatch(/^Usage: \/(backtest|chart) /);
  });

  it('answers an unknown command with a suggestion', async () => {
    const [answer] = await ask(ADMIN, '/statux');
    expect(answer!.text).toBe('Unknown command /statux (did you mean /status?). Send /help for the list.');
  });

  it('refuses a stranger politely and logs the attempt with the id, never the message', async () => {
    const [answer] = await ask(STRANGER, '/backtest ema-cross BTC/USDT 1h password=hunter2');
    expect(answer!.text).toContain('I only take commands from my allowed users');
    expect(answer!.text).toContain(`${STRANGER.id}`);
    expect(tg.chatMessages(STRANGER.id)).toHaveLength(1);
    const refusal = t.logs.find(
      (l) => l.msg === 'refused: not an allowed user' && l.userId === String(STRANGER.id),
    );
    expect(refusal).toMatchObject({ platform: 'telegram', command: 'backtest' });
    expect(t.logText()).not.toContain('hunter2');
  });

  it('answers a stranger’s plain text with the refusal alone; an allowed user’s with /help', async () => {
    const [answer] = await ask(STRANGER, 'hello, what can you do? my key is hunter3');
    expect(answer!.text).toBe(
      `Sorry, I only take commands from my allowed users. Your telegram id is ${STRANGER.id}; ask the bot's admin to add it.`,
    );
    expect(t.logs.filter((l) => l.userId === String(STRANGER.id)).at(-1)).toMatchObject({
      msg: 'refused: not an allowed user',
      command: 'text',
    });
    expect(t.logText()).not.toContain('hunter3');
    const [pointer] = await ask(VIEWER, 'hello');
    expect(pointer!.text).toBe('Send /help for what I can do.');
  });

  it('refuses a stranger before reading their arguments', async () => {
    const [answer] = await ask(STRANGER, '/backtest "unclosed');
    expect(answer!.text).toContain('I only take commands from my allowed users');
  });

  it('runs a pressed button once, takes the keyboard away, and refuses the replayed press', async () => {
    const replies = await ask(VIEWER, '/start');
    const msg = replies[0]!;
    const [strategiesButton] = buttons(msg);
    expect(strategiesButton!.text).toBe('Strategies');
    const before = tg.chatMessages(VIEWER.id).length;
    const q1 = tg.userPresses(VIEWER, msg, strategiesButton!.data);
    await tg.waitFor(() => tg.chatMessages(VIEWER.id).length > before, 'the strategies list');
    expect(tg.chatMessages(VIEWER.id).at(-1)!.text).toContain('<b>ema-cross</b>');
    expect(tg.answers.get(q1)).toEqual({ text: '/strategies...' });
    await tg.waitFor(() => msg.markupEdits === 1, 'keyboard removal');
    expect(buttons(msg)).toEqual([]);

    const count = tg.chatMessages(VIEWER.id).length;
    const q2 = tg.userPresses(VIEWER, msg, strategiesButton!.data);
    const answer = await tg.waitFor(() => tg.answers.get(q2), 'the replay answer');
    expect(answer).toEqual({
      text: 'This button was already used by Vic; nothing was done.',
      show_alert: true,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(tg.chatMessages(VIEWER.id)).toHaveLength(count);
  });

  it('refuses forged and tampered button presses without running anything', async () => {
    const [msg] = await ask(ADMIN, '/start');
    const real = buttons(msg!)[1]!.data;
    const tampered = real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A');
    const count = tg.chatMessages(ADMIN.id).length;
    for (const data of [tampered, 'b.AAAAAAAAAAAA.zzzzzz.AAAAAAAAAAAAAAAAAAAAAA', '{"command":"status"}']) {
      const q = tg.userPresses(ADMIN, msg!, data);
      const answer = await tg.waitFor(() => tg.answers.get(q), 'the forged-press answer');
      expect(answer).toEqual({ text: 'This button is not one of mine; nothing was done.', show_alert: true });
    }
    expect(tg.chatMessages(ADMIN.id)).toHaveLength(count);
    expect(buttons(msg!)).toHaveLength(2); // the real buttons still stand
    expect(t.logs.filter((l) => l.msg === 'refused a forged button press')).toHaveLength(3);
  });

  it("refuses a stranger pressing an allowed user's button, leaving it usable", async () => {
    const [msg] = await ask(ADMIN, '/start');
    const q = tg.userPresses(STRANGER, msg!, buttons(msg!)[0]!.data);
    const answer = await tg.waitFor(() => tg.answers.get(q), 'the answer');
    expect(answer!.text).toContain('I only take commands from my allowed users');
    expect(buttons(msg!)).toHaveLength(2);
  });

  it('answers a burst of 30 commands in order, without meeting the rate limit', async () => {
    const names = COMMAND_NAMES;
    const before = tg.chatMessages(ADMIN.id).length;
    for (let i = 0; i < 30; i++) tg.userSends(ADMIN, `/help ${names[i % names.length]}`);
    await tg.waitFor(() => tg.chatMessages(ADMIN.id).length >= before + 30, '30 answers', 20_000);
    const answered = tg
      .chatMessages(ADMIN.id)
      .slice(before)
      .map((m) => /^<b>\/(\w+)<\/b>/.exec(m.text ?? '')?.[1]);
    expect(answered).toEqual(Array.from({ length: 30 }, (_, i) => names[i % names.length]));
    const sends = tg.calls
      .filter((c) => c.method === 'sendMessage' && c.chatId === String(ADMIN.id))
      .slice(-30);
    const spanMs = sends.at(-1)!.at - sends[0]!.at;
    // 30 messages, at most 9 in any 500 ms: 9 at once, then 9 after 500, 1000 and 3 after 1500 ms.
    expect(spanMs).toBeGreaterThanOrEqual(1500);
  });

  it('retries a 429 with retry_after and a 502, and the reply still arrives once', async () => {
    tg.failNext('sendMessage', 429, 'Too Many Requests: retry after 1', 1);
    tg.failNext('sendMessage', 502, 'Bad Gateway');
    const started = Date.now();
    const replies = await ask(ADMIN, '/status');
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toContain('telegram connected (@bosun_test_bot)');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });
});

describe('Telegram group limits, through grammY', () => {
  it('keeps a group within its window, edits included, and never meets a 429', async () => {
    // Telegram's rule scaled down so the test is quick: 5 in any second instead of 20 in a minute.
    const group = await new TelegramEmulator({
      limits: {
        perChat: { burst: 20, perSecond: 20 },
        global: { burst: 30, perSecond: 30 },
        group: { max: 5, windowMs: 1_000 },
      },
    }).start();
    const bot = await startTestBot(
      { TELEGRAM_BOT_TOKEN: group.token, TELEGRAM_API_ROOT: group.apiRoot },
      {
        telegram: {
          pollTimeout: 1,
          // Half a second over the emulator's window: the emulator counts when a request arrives,
          // which on a loaded machine is well after the throttle let it go.
          throttle: { ...TELEGRAM_LIMITS, group: { max: 5, windowMs: 1_500 } },
        },
      },
    );
    try {
      const adapter = bot.bot.adapters.find((a) => a.platform === 'telegram')!;
      const started = Date.now();
      const ids = await Promise.all(
        Array.from({ length: 12 }, (_, k) => adapter.push('-100777', reply(`notice ${k + 1}`))),
      );
      await Promise.all(
        ids.slice(0, 6).map((id, k) => adapter.edit('-100777', id, reply(`edited ${k + 1}`))),
      );
      // 18 calls at 5 per 1.5 s: the 16th goes no sooner than 4.5 s after the first.
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
      expect(group.rateLimited).toBe(0);
      expect(group.busiestWindow(-100777, 1_000)).toBe(5);
      const texts = group.chatMessages(-100777).map((m) => m.text);
      expect(texts).toEqual([
        ...Array.from({ length: 6 }, (_, k) => `edited ${k + 1}`),
        ...Array.from({ length: 6 }, (_, k) => `notice ${k + 7}`),
      ]);
    } finally {
      await bot.bot.stop();
      await group.stop();
    }
  });
});

describe('Telegram shutdown', () => {
  it('finishes a backtest in flight, then stops polling', async () => {
    await boot();
    tg.userSends(ADMIN, '/backtest ema-cross BTC/USDT 2h 2y');
    await tg.waitFor(() => tg.chatMessages(ADMIN.id).length >= 1, 'the progress message');
    await t.bot.stop();
    const sent = tg.chatMessages(ADMIN.id);
    expect(sent.some((m) => m.photo)).toBe(true);
    expect(t.bot.adapters[0]!.status().state).toBe('stopped');
    const polls = tg.calls.filter((c) => c.method === 'getUpdates').length;
    await new Promise((r) => setTimeout(r, 300));
    expect(tg.calls.filter((c) => c.method === 'getUpdates').length).toBe(polls);
    await tg.stop();
  });
});

describe('npm start with a Telegram token', () => {
  it('serves Telegram without a console when stdin is not a terminal, and exits cleanly on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { ROOT } = await import('../helpers/fixtures.js');
    const emu = await new TelegramEmulator().start();
    const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        DATA_DIR: mkdtempSync(join(tmpdir(), 'bosun-sig-')),
        TELEGRAM_BOT_TOKEN: emu.token,
        TELEGRAM_API_ROOT: emu.apiRoot,
        TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin`,
        LOG_FORMAT: 'json',
      },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await emu.waitFor(() => emu.calls.some((c) => c.method === 'setMyCommands'), 'the bot to start');
      emu.userSends(ADMIN, '/status');
      await emu.waitFor(() => emu.chatMessages(ADMIN.id).length === 1, 'the status reply');
      expect(emu.chatMessages(ADMIN.id)[0]!.text).toContain('telegram connected');
      expect(emu.chatMessages(ADMIN.id)[0]!.text).not.toContain('console');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toBe(''); // no console chat
      expect(stderr).toContain('"msg":"bosun stopped"');
      expect(stderr).not.toContain(emu.token.split(':')[1]!);
    } finally {
      child.kill('SIGKILL');
      await emu.stop();
    }
  });
});
