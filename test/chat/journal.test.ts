/**
 * What the journal keeps, seen from chat (real grammY against the Telegram emulator): the settings
 * history (the configuration at start, /risk, /pairlist, with who and old and new values), the
 * notifications sent, and retention that prunes only what a setting allows and says so in /status.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pruneHistory } from '../../src/store/retention.js';
import { type BotMessage, TelegramEmulator, type TgUser } from '../emulators/telegram/server.js';
import { BUSY_TELEGRAM, startTestBot } from '../helpers/bot.js';
import { journalRows } from '../helpers/journal.js';

const ADMIN: TgUser = { id: 4001, first_name: 'Ada', username: 'ada' };
const DAY = 86_400_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const plain = (m: BotMessage) => (m.text ?? '').replace(/<[^>]+>/g, '').replace(/&gt;/g, '>');

async function boot(
  env: Record<string, string> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'bosun-journal-chat-')),
) {
  const tg = await new TelegramEmulator({ limits: BUSY_TELEGRAM.limits }).start();
  cleanups.push(() => tg.stop());
  const t = await startTestBot(
    {
      TELEGRAM_BOT_TOKEN: tg.token,
      TELEGRAM_API_ROOT: tg.apiRoot,
      TELEGRAM_ALLOWED_USERS: `${ADMIN.id}:admin`,
      ...env,
    },
    BUSY_TELEGRAM.options,
    dataDir,
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await t.bot.stop();
  };
  cleanups.push(stop);
  const ask = async (text: string, expected: RegExp) => {
    const before = tg.chatMessages(ADMIN.id).length;
    tg.userSends(ADMIN, text);
    const m = await tg.waitFor(
      () =>
        tg
          .chatMessages(ADMIN.id)
          .slice(before)
          .find((x) => expected.test(plain(x))),
      `a reply to ${text} matching ${expected}`,
    );
    return plain(m);
  };
  return { tg, t, ask, stop, dataDir };
}

describe('the journal from chat', () => {
  it("breaks the account's closed trades down with /stats: by exit reason, by market, by month", async () => {
    const b = await boot();
    const trade = (id: string, symbol: string, exitReason: string, pnl: number, exitTime: number) => ({
      id,
      runId: 'R1',
      symbol,
      quote: 'USDT',
      side: 'long' as const,
      entryTime: exitTime - 3_600_000,
      entryPrice: 100,
      exitTime,
      exitPrice: 100 + pnl,
      quantity: 1,
      pnl,
      returnPct: pnl / 100,
      fees: 0.2,
      exitReason,
      bars: 1,
      exits: [],
    });
    const jan = Date.UTC(2024, 0, 10);
    const feb = Date.UTC(2024, 1, 10);
    await b.t.bot.services.store.update((s) => {
      s.log.trades.push(
        trade('P1', 'BTC/USDT', 'stop', -4, jan),
        trade('P2', 'BTC/USDT', 'signal', 10, jan + DAY),
        trade('P3', 'ETH/USDT', 'signal', 6, feb),
      );
    });
    const text = await b.ask('/stats', /Paper account: 3 closed trades/);
    // +12.00 in all: -4 + 10 + 6.
    expect(text).toMatch(/Paper account: 3 closed trades, \+12\.00 since /);
    expect(text).toMatch(/By exit reason[\s\S]*signal\s+2\s+100%\s+\+16\.00[\s\S]*stop\s+1\s+0%\s+-4\.00/);
    expect(text).toMatch(
      /By market[\s\S]*BTC\/USDT\s+2\s+50%\s+\+6\.00[\s\S]*ETH\/USDT\s+1\s+100%\s+\+6\.00/,
    );
    expect(text).toMatch(/By month[\s\S]*2024-01\s+2\s+50%\s+\+6\.00[\s\S]*2024-02\s+1\s+100%\s+\+6\.00/);
  });

  it('keeps a settings history: the config at start, then /risk and /pairlist with who, old and new', async () => {
    const b = await boot({ RISK_MAX_OPEN: '4' });
    await b.ask('/risk maxOpenPositions=3', /Risk settings changed/);
    await b.ask('/pairlist minVolume=5000000', /Market filters changed/);
    const text = await b.ask('/settings history', /settings changes/);
    expect(text).toMatch(/@ada[\s\S]*pairlist:minVolume[\s\S]*→ 5000000/);
    expect(text).toMatch(/@ada[\s\S]*risk:maxOpenPositions[\s\S]*4 → 3/);
    // The start-up configuration was recorded by "config", secrets only as set or unset.
    const rows = journalRows(b.dataDir, 'settings_changes');
    const started = rows.filter((r) => r.who === 'first start');
    expect(started.map((r) => r.key)).toEqual(
      expect.arrayContaining(['config:RISK_MAX_OPEN', 'config:TELEGRAM_BOT_TOKEN', 'config:DATA_DIR']),
    );
    expect(started.find((r) => r.key === 'config:TELEGRAM_BOT_TOKEN')!.new_value).toBe('set');
    expect(JSON.stringify(rows)).not.toContain(b.tg.token);

    // A restart records what changed only, as config's change: the log level, and the new
    // emulator's address (a new port each time).
    await b.stop();
    const again = await boot({ RISK_MAX_OPEN: '4', LOG_LEVEL: 'info' }, b.dataDir);
    const after = journalRows(again.dataDir, 'settings_changes').slice(rows.length);
    expect(after.map((r) => [r.who, r.key]).sort()).toEqual([
      ['config', 'config:LOG_LEVEL'],
      ['config', 'config:TELEGRAM_API_ROOT'],
    ]);
    expect(after.find((r) => r.key === 'config:LOG_LEVEL')).toMatchObject({
      old_value: 'debug',
      new_value: 'info',
    });
  });

  it('keeps every notification it sent, with its chat and category', async () => {
    const b = await boot({ REPLAY_RUNS: 'ema-cross BTC/USDT 2h approve=auto', REPLAY_SPEED: '2000' });
    await b.ask('/subscribe', /This chat gets/);
    await b.tg.waitFor(
      () => journalRows(b.dataDir, 'notifications').length > 2,
      'notifications in the journal',
      30_000,
    );
    const rows = journalRows(b.dataDir, 'notifications');
    for (const r of rows) expect(r.chat).toBe(`telegram:${ADMIN.id}`);
    // What the journal says was sent is what the chat got, word for word (tags aside).
    const texts = b.tg.chatMessages(ADMIN.id).map((m) => plain(m).replace(/\s+/g, ' ').trim());
    const first = String(rows[0]!.text).replace(/\s+/g, ' ').trim();
    expect(texts.some((t) => t.startsWith(first.slice(0, 30)))).toBe(true);
    expect(new Set(rows.map((r) => r.category)).size).toBeGreaterThan(0);
  });

  it('prunes only what a retention setting allows, and /status says what and when', async () => {
    const b = await boot({ RETENTION_DECISIONS: '30d' });
    const store = b.t.bot.services.store;
    const now = Date.now();
    await store.update((s) => {
      for (let d = 0; d < 40; d++)
        s.log.decisions.push({
          time: now - d * DAY,
          runId: 'R1',
          kind: 'k',
          detail: `day ${d}`,
          indicators: {},
        });
      for (let d = 0; d < 40; d++) s.log.equity.push({ time: now - d * DAY, quote: 'USDT', equity: 1 });
    });
    const pruned = await pruneHistory(store, b.t.bot.services.config.store.retention, {
      engine: now,
      wall: now,
    });
    // Days 31..39 are older than 30 days (day 30 is exactly 30 days old: kept).
    expect(pruned).toEqual([{ kind: 'decisions', rows: 9, before: now - 30 * DAY }]);
    expect(
      journalRows(b.dataDir, 'decisions').filter((r) => String(r.detail).startsWith('day ')),
    ).toHaveLength(31);
    // Equity has no retention setting: all 40 kept.
    expect(journalRows(b.dataDir, 'equity')).toHaveLength(40);
    const status = await b.ask('/status', /bosun status/);
    expect(status).toMatch(/Retention[\s\S]*decisions 30d/);
    expect(status).toMatch(/Pruned[\s\S]*9 decisions older than/);
  });
});
