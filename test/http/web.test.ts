/// <reference lib="dom" />
/**
 * The web view in a real headless Chromium (Debian's, driven by playwright-core): a /web link signs
 * a person in once, the pages show the replay's runs, signals and trades at phone and desktop width
 * (screenshots in data/out/web/), a trader approves a pending signal through the page, and forged,
 * reused and expired links, a viewer's decision and a POST without its CSRF token are refused.
 */
import { mkdirSync } from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAIN_TEXT, renderMessages } from '../../src/chat/reply.js';
import { WebAccess } from '../../src/http/web.js';
import { sendLine, startTestBot, type TestBot } from '../helpers/bot.js';
import { ROOT } from '../helpers/fixtures.js';
import { sliceEndingOnSignal } from '../helpers/signals.js';

const SHOTS = join(ROOT, 'data/out/web');
const CONSOLE = { platform: 'console' as const, id: 'local', private: true };
const ADA = { platform: 'console' as const, id: 'ada', name: 'Ada', role: 'trader' as const };
const VIC = { platform: 'console' as const, id: 'vic', name: 'Vic', role: 'viewer' as const };
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let t: TestBot;
let browser: Browser;
/** What the console chat printed. */
const chat: string[] = [];

async function link(person: typeof ADA | typeof VIC): Promise<string> {
  const replies = await sendLine(t, '/web', person, CONSOLE);
  const text = replies.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join('\n');
  const url = /(http:\/\/\S+\/web\/login\/\S+)/.exec(text)?.[1];
  if (!url) throw new Error(`no link in: ${text}`);
  return url;
}

async function signedIn(person: typeof ADA | typeof VIC, size = PHONE): Promise<Page> {
  const page = await browser.newPage({ viewport: size });
  await page.goto(await link(person));
  await page.waitForURL(/\/web$/);
  return page;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // The console is a chat too: the signal's message there changes when the page decides it.
  t = await startTestBot(
    {
      HTTP_PORT: '0',
      CHAT_CONSOLE: 'on',
      REPLAY_FILE: await sliceEndingOnSignal('rsi-reversion', 3),
      REPLAY_RUNS: 'rsi-reversion BTC/USDT 2h approve=manual; ema-cross BTC/USDT 2h approve=auto',
      REPLAY_SPEED: '100000',
    },
    {
      input: new PassThrough(),
      output: new Writable({
        write(chunk: Buffer, _enc, done) {
          chat.push(chunk.toString('utf8'));
          done();
        },
      }),
    },
  );
  // The replay played to its end (a signal waiting then is the last one: no newer one replaces it).
  const deadline = Date.now() + 20_000;
  const ended = () =>
    t.bot.services.health().checks.find((c) => c.name === 'feed')?.summary === 'the replay ended';
  while (!ended() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(ended()).toBe(true);
  const pending = () =>
    Object.values(t.bot.services.engine.state.signals).some(
      (s) => s.status === 'pending' && s.runId === 'R1',
    );
  while (!pending() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(pending()).toBe(true);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.bot.stop();
});

/** The charts Chart.js drew in the page: each canvas's chart type and its width in CSS pixels. */
async function drawnCharts(page: Page): Promise<Array<{ type: string; width: number }>> {
  await page.waitForFunction(() => document.querySelectorAll('canvas').length > 0);
  return page.evaluate(() => {
    const Chart = (
      window as unknown as { Chart: { getChart(c: unknown): { config: { type: string } } | undefined } }
    ).Chart;
    return Array.from(document.querySelectorAll('canvas')).map((c) => ({
      type: Chart.getChart(c)?.config.type ?? 'none',
      width: c.getBoundingClientRect().width,
    }));
  });
}

/** Move the pointer over the middle of the `k`th canvas; what its tooltip says (its title). */
async function hover(page: Page, k: number): Promise<string> {
  const canvas = page.locator('canvas').nth(k);
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  return page.evaluate((k) => {
    const Chart = (
      window as unknown as {
        Chart: { getChart(c: unknown): { tooltip: { opacity: number; title: string[] } } | undefined };
      }
    ).Chart;
    const tip = Chart.getChart(document.querySelectorAll('canvas')[k])?.tooltip;
    return tip && tip.opacity > 0 ? tip.title.join(' ') : '';
  }, k);
}

describe('the web view', () => {
  it('signs a person in from a /web link and shows the overview, at phone and desktop width', async () => {
    for (const [size, name] of [
      [PHONE, 'phone'],
      [DESKTOP, 'desktop'],
    ] as const) {
      const page = await signedIn(ADA, size);
      expect(await page.locator('header').innerText()).toContain('Ada · trader');
      expect(await page.locator('main').innerText()).toContain('paper (simulated)');
      expect(await page.locator('main').innerText()).toContain('rsi-reversion');
      expect(await page.locator('main').innerText()).toContain('Open positions');
      // The equity chart, drawn by Chart.js in the page.
      await page.waitForFunction(() => {
        const chart = (window as unknown as { Chart?: { getChart(c: unknown): unknown } }).Chart;
        return chart?.getChart(document.getElementById('chart0')) !== undefined;
      });
      await page.screenshot({ path: join(SHOTS, `overview-${name}.png`), fullPage: true });
      // Nothing overflows a phone: the page scrolls down, tables scroll sideways in their box.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(wide).toBeLessThanOrEqual(size.width);
      await page.goto(page.url().replace(/\/web$/, '/web/trades'));
      expect(await page.locator('main').innerText()).toContain('Closed trades');
      await page.screenshot({ path: join(SHOTS, `trades-${name}.png`), fullPage: true });
      await page.close();
    }
  });

  it("refuses a viewer's decision, and a POST without the session's CSRF token", async () => {
    const page = await signedIn(VIC, PHONE);
    await page.goto(page.url().replace(/\/web$/, '/web/signals'));
    expect(await page.locator('main').innerText()).toContain('A trader or an admin decides');
    // A viewer's crafted decision, with their own CSRF token: the dispatcher's role rule answers.
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const base = new URL(page.url()).origin;
    const sig = Object.values(t.bot.services.engine.state.signals).find((s) => s.status === 'pending');
    const id = sig?.id ?? 'S1';
    await page.evaluate(
      ({ id, csrf }) => {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = `/web/signals/${id}`;
        for (const [k, v] of Object.entries({ csrf, action: 'approve' })) {
          const i = document.createElement('input');
          i.name = k;
          i.value = v;
          f.appendChild(i);
        }
        document.body.appendChild(f);
        f.submit();
      },
      { id, csrf },
    );
    await page.waitForURL(/\/web\/signals$/);
    expect(await page.locator('.flash').innerText()).toMatch(/needs the trader role; you are a viewer/);
    if (sig) expect(t.bot.services.engine.state.signals[id]!.status).toBe('pending');
    const forged = await page.request.post(`${base}/web/signals/S999`, { form: { action: 'approve' } });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toContain('CSRF token is missing or wrong');
    await page.close();
  });

  it("lets a trader approve a pending signal on the page, through the chats' dispatcher", async () => {
    const page = await signedIn(ADA, PHONE);
    await page.goto(page.url().replace(/\/web$/, '/web/signals'));
    const sig = Object.values(t.bot.services.engine.state.signals).find(
      (s) => s.status === 'pending' && s.runId === 'R1',
    )!;
    const card = page.locator('.card', { hasText: sig.id });
    expect(await card.innerText()).toContain('Approve');
    await page.screenshot({ path: join(SHOTS, 'signals-phone.png'), fullPage: true });
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(/\/web\/signals$/);
    expect(await page.locator('.flash').innerText()).toContain(sig.id);
    expect(t.bot.services.engine.state.signals[sig.id]!.status).not.toBe('pending');
    expect(t.bot.services.engine.state.signals[sig.id]!.decidedBy).toBe('Ada');
    // The chats' message of the signal was changed to say who decided it.
    const deadline = Date.now() + 5000;
    const told = () => chat.join('').includes('approved by Ada') || chat.join('').includes('Approved by Ada');
    while (!told() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(told()).toBe(true);
    await page.close();
  });

  it('runs a backtest from the page and draws its chart there, compares two kept ones, and shows the scanner', async () => {
    for (const [size, name] of [
      [PHONE, 'phone'],
      [DESKTOP, 'desktop'],
    ] as const) {
      const page = await signedIn(ADA, size);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(page.url().replace(/\/web$/, '/web/backtests'));
      const form = page.locator('form', { has: page.locator('input[name=strategy]') });
      await form.locator('input[name=timeframe]').fill('4h');
      // A year on the phone (the price as a line), a month on the desktop (candlesticks).
      await form.locator('input[name=period]').fill(name === 'phone' ? '1y' : '30d');
      await form.getByRole('button', { name: 'Run' }).click();
      await page.waitForURL(/\/web\/backtests$/);
      const result = await page.locator('main').innerText();
      expect(result).toContain('Result');
      expect(result).toMatch(/ema-cross/);
      // The chat's chart, drawn from its own spec by Chart.js: candles and equity, one canvas a panel.
      const drawn = await drawnCharts(page);
      if (name === 'desktop') expect(drawn[0]!.type).toBe('candlestick');
      expect(drawn.length).toBeGreaterThanOrEqual(2);
      for (const d of drawn) expect(d.width).toBeLessThanOrEqual(size.width);
      // Interactive: the pointer over the price panel brings a tooltip with a time in it.
      expect(await hover(page, 0)).toMatch(/\d{4}/);
      expect(await page.locator('main img').count()).toBe(0);
      await page.screenshot({ path: join(SHOTS, `backtests-${name}.png`), fullPage: true });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(size.width);
      if (name === 'desktop') {
        // The two kept backtests (this one and the phone's), compared: their equity curves, drawn here.
        const ids = [...(await page.locator('main').innerText()).matchAll(/\b(B[0-9A-Z]{5})\b/g)].map(
          (m) => m[1],
        );
        const two = [...new Set(ids)].slice(0, 2);
        expect(two).toHaveLength(2);
        const compare = page.locator('form', { has: page.locator('input[name=ids]') });
        await compare.locator('input[name=ids]').fill(two.join(' '));
        await compare.getByRole('button', { name: 'Compare' }).click();
        await page.waitForURL(/\/web\/backtests$/);
        expect(await page.locator('main').innerText()).toContain(`Backtests ${two.join(', ')}`);
        expect((await drawnCharts(page)).length).toBeGreaterThanOrEqual(1);
        await page.screenshot({ path: join(SHOTS, 'compare-desktop.png'), fullPage: true });
      }
      expect(errors).toEqual([]);
      await page.goto(page.url().replace(/\/web\/backtests$/, '/web/scan'));
      expect(await page.locator('main').innerText()).toContain('Scanner');
      await page.screenshot({ path: join(SHOTS, `scan-${name}.png`), fullPage: true });
      await page.close();
    }
  }, 60_000);

  it('refuses a reused link, a forged one and one without a session, each with a page that says why', async () => {
    const url = await link(ADA);
    const first = await browser.newPage();
    await first.goto(url);
    await first.waitForURL(/\/web$/);
    const again = await browser.newPage();
    const reused = await again.goto(url);
    expect(reused?.status()).toBe(403);
    expect(await again.locator('main').innerText()).toContain('it was used already');
    const forged = await again.goto(url.replace(/login\/.+$/, 'login/not-a-real-link-0123456789'));
    expect(forged?.status()).toBe(403);
    const anonymous = await again.goto(url.replace(/\/web\/login\/.+$/, '/web'));
    expect(anonymous?.status()).toBe(401);
    expect(await again.locator('main').innerText()).toContain('Send /web in a private chat');
    await first.close();
    await again.close();
  });

  it('makes links that expire after five minutes and work once', () => {
    let now = 1_000_000;
    const access = new WebAccess(
      () => 'http://x',
      () => now,
    );
    const person = { platform: 'console' as const, id: 'a', name: 'A', role: 'admin' as const };
    const late = access.link(person).split('/').pop()!;
    now += 5 * 60_000 + 1;
    expect(access.redeem(late)).toBeUndefined();
    const fresh = access.link(person).split('/').pop()!;
    expect(access.redeem(fresh)?.person).toEqual(person);
    expect(access.redeem(fresh)).toBeUndefined();
  });

  it('gives no link in a group chat', async () => {
    const replies = await sendLine(t, '/web', ADA, { platform: 'console', id: 'group', private: false });
    expect(replies.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join('\n')).toBe(
      'Send /web in a private chat with me: a link in a group could be opened by anyone.',
    );
  });
});
