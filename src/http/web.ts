/**
 * The web view (`/web`): pages beside the chats, for a person the chats already know.
 *
 * - **Sign-in by link.** `/web` in a private chat answers with a link that works once, within five
 *   minutes (`WebAccess.link`). Opening it starts a session for that person with their chat role:
 *   no passwords. A used, expired or unknown link is refused with a page that says so.
 * - **Sessions** are an HttpOnly, SameSite=Strict cookie (Secure behind https), eight hours, kept in
 *   memory (a restart signs everyone out). Every POST carries the session's CSRF token; one without
 *   it, or with another, is refused. Links and tokens are compared in constant time, never logged.
 * - **Pages**: overview (mode, health, feed, accounts, runs, open positions with unrealised PnL, the
 *   regime, the equity chart drawn by Chart.js from the same spec as the report's PNG), signals (the
 *   pending ones with Approve / Half size / Reject, then the recent ones with the indicator values
 *   behind each), trades, backtests (run one, the kept ones, compare) and the scanner. A decision or
 *   a backtest goes through the chats' dispatcher as the person, so the roles, the argument checks
 *   and "the first answer wins" are the chats' own; their replies show as the chats show them.
 * - Written for a phone first: one column, tables that scroll sideways.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { stringify } from 'javascript-stringify';
import { type ChartDocument, chartStyle, performanceChart } from '../charts/index.js';
import type { Caller } from '../chat/command.js';
import { type Dispatcher, keptReplies } from '../chat/dispatch.js';
import { PLAIN_TEXT, type Reply, renderMessages } from '../chat/reply.js';
import type { Role } from '../config.js';
import { localStamp } from '../engine/clock.js';
import type { Logger } from '../logger.js';
import type { SignalRecord } from '../store/state.js';
import { sameSecret } from './api.js';

const LINK_MS = 5 * 60_000;
const SESSION_MS = 8 * 3_600_000;
const COOKIE = 'bosun_web';

interface Person {
  platform: Caller['platform'];
  id: string;
  name: string;
  role: Role;
}

interface Session {
  id: string;
  person: Person;
  csrf: string;
  expires: number;
  /** What the last action said, shown once on the next page. */
  flash?: string;
  /** The replies of the last command run from a form (a backtest), shown once. */
  shown?: Reply[];
}

const token = () => randomBytes(24).toString('base64url');

/** Links and sessions, in memory. */
export class WebAccess {
  private readonly links = new Map<string, { person: Person; expires: number }>();
  private readonly sessions = new Map<string, Session>();

  /** `base`: where browsers reach the server (known once its port is bound). */
  constructor(
    private readonly base: () => string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A link that signs `person` in once, within five minutes. */
  link(person: Person): string {
    this.sweep();
    const t = token();
    this.links.set(t, { person, expires: this.clock() + LINK_MS });
    return `${this.base().replace(/\/+$/, '')}/web/login/${t}`;
  }

  /** Spend a link: the new session, or undefined (used, expired, never issued). */
  redeem(given: string): Session | undefined {
    this.sweep();
    let found: string | undefined;
    for (const t of this.links.keys()) if (sameSecret(given, t)) found = t;
    if (found === undefined) return undefined;
    const l = this.links.get(found)!;
    this.links.delete(found);
    if (l.expires <= this.clock()) return undefined;
    const s: Session = { id: token(), person: l.person, csrf: token(), expires: this.clock() + SESSION_MS };
    this.sessions.set(s.id, s);
    return s;
  }

  session(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    this.sweep();
    for (const [k, s] of this.sessions) if (sameSecret(id, k)) return s;
    return undefined;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, l] of this.links) if (l.expires <= now) this.links.delete(k);
    for (const [k, s] of this.sessions) if (s.expires <= now) this.sessions.delete(k);
  }
}

export interface WebOptions {
  access: WebAccess;
  dispatcher: Dispatcher;
  logger: Logger;
}

const esc = (v: unknown) =>
  String(v).replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

/** A figure with `digits` decimals, or "-" when there is none. */
const n = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined || !Number.isFinite(v)
    ? '-'
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const STYLE = `
:root{color-scheme:dark;--bg:#11151c;--fg:#e6e9ef;--mute:#8b93a5;--line:#273041;--up:#2fbf71;--down:#e5484d;--acc:#4c8dff}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;padding:.7rem 1rem;border-bottom:1px solid var(--line)}
header b{margin-right:auto}nav{display:flex;flex-wrap:wrap;gap:.2rem .9rem}nav a{color:var(--fg);text-decoration:none}nav a.on{color:var(--acc);font-weight:600}
main{padding:1rem;max-width:960px;margin:0 auto}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{padding:.35rem .5rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}.up{color:var(--up)}.down{color:var(--down)}.mute{color:var(--mute)}
.card{border:1px solid var(--line);border-radius:8px;padding:.7rem .9rem;margin:.6rem 0}
.flash{background:#1c2a44;border-color:var(--acc)}button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:0;margin:.25rem .4rem .25rem 0;color:#fff}
.ok{background:var(--up)}.half{background:var(--acc)}.no{background:var(--down)}.plain{background:#2b3446}
figure.charts{margin:.6rem 0;padding:4px;border-radius:8px}.chart{position:relative;width:100%}pre{white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.4 ui-monospace,monospace;margin:0}
@media (max-width:600px){table.stack thead{display:none}table.stack tr{display:block;border:1px solid var(--line);border-radius:8px;margin:.5rem 0;padding:.3rem .2rem}
table.stack td{display:flex;gap:1rem;justify-content:space-between;border:0;padding:.15rem .5rem;white-space:normal;text-align:right;overflow-wrap:anywhere}
table.stack td::before{content:attr(data-label);color:var(--mute);text-align:left;white-space:nowrap}}
label{display:inline-block;margin:.2rem .6rem .4rem 0;color:var(--mute)}input{font:inherit;padding:.4rem;border-radius:6px;border:1px solid var(--line);background:#0b0e13;color:var(--fg);width:11rem}`;

export function mountWeb(app: Hono, o: WebOptions): void {
  const services = o.dispatcher.services;
  const tz = services.config.timezone;
  const require = createRequire(import.meta.url);

  const page = (c: Context, s: Session, title: string, here: string, body: string, charts?: PageCharts) => {
    const nonce = charts?.any ? charts.nonce : undefined;
    const flash = s.flash;
    delete s.flash;
    const nav = [
      ['/web', 'Overview'],
      ['/web/signals', 'Signals'],
      ['/web/trades', 'Trades'],
      ['/web/backtests', 'Backtests'],
      ['/web/scan', 'Scanner'],
    ]
      .map(([href, label]) => `<a href="${href}"${href === here ? ' class="on"' : ''}>${label}</a>`)
      .join('');
    return c.html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
        `<title>bosun · ${esc(title)}</title><style>${STYLE}</style></head><body>` +
        `<header><b>bosun</b><nav>${nav}</nav><span class="mute">${esc(s.person.name)} · ${s.person.role}</span>` +
        `<form method="post" action="/web/logout"><input type="hidden" name="csrf" value="${s.csrf}"><button class="plain">Sign out</button></form></header>` +
        `<main>${flash ? `<div class="card flash" role="status">${esc(flash)}</div>` : ''}${body}</main>` +
        (charts?.scripts() ?? '') +
        `</body></html>`,
      200,
      {
        'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; script-src 'self'${nonce ? ` 'nonce-${nonce}'` : ''}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
    );
  };

  /** A page of one card, outside a session (a refusal, the sign-in); `head`: more of its <head>. */
  const note = (c: Context, status: 200 | 401 | 403, html: string, head = '') =>
    c.html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8">${head}<meta name="viewport" content="width=device-width,initial-scale=1"><title>bosun</title><style>${STYLE}</style></head><body><main><div class="card">${html}</div></main></body></html>`,
      status,
      { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
    );
  const refuse = (c: Context, status: 401 | 403, text: string) => note(c, status, esc(text));

  const signedIn = (c: Context): Session | Response => {
    const s = o.access.session(getCookie(c, COOKIE));
    return (
      s ??
      refuse(
        c,
        401,
        'You are not signed in, or your session ended (they last 8 hours). Send /web in a private chat with bosun for a new link.',
      )
    );
  };

  /** A POST's session, checked for its CSRF token. */
  const posted = async (c: Context): Promise<{ s: Session; form: Record<string, string> } | Response> => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const form = (await c.req.parseBody()) as Record<string, string>;
    if (typeof form.csrf !== 'string' || !sameSecret(form.csrf, s.csrf))
      return refuse(
        c,
        403,
        'This form is out of date or did not come from bosun (its CSRF token is missing or wrong). Go back, reload the page and try again.',
      );
    return { s, form };
  };

  app.get('/web/login/:token', (c) => {
    const s = o.access.redeem(c.req.param('token'));
    if (!s)
      return refuse(
        c,
        403,
        'This link does not sign you in: it was used already, it is more than 5 minutes old, or bosun did not make it. Send /web in a private chat with bosun for a new one.',
      );
    setCookie(c, COOKIE, s.id, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: c.req.url.startsWith('https:') || c.req.header('x-forwarded-proto') === 'https',
      path: '/web',
      maxAge: SESSION_MS / 1000,
    });
    o.logger.info(
      { platform: s.person.platform, userId: s.person.id, role: s.person.role },
      'web session started',
    );
    // A page, not a redirect: the cookie is SameSite=Strict, and the chat's link is another site.
    return note(
      c,
      200,
      `Signed in as ${esc(s.person.name)} (${s.person.role}). <a href="/web">Open bosun</a>`,
      '<meta http-equiv="refresh" content="0;url=/web">',
    );
  });

  app.post('/web/logout', async (c) => {
    const p = await posted(c);
    if (p instanceof Response) return p;
    o.access.end(p.s.id);
    deleteCookie(c, COOKIE, { path: '/web' });
    return refuse(c, 401, 'Signed out. Send /web in a private chat with bosun to come back.');
  });

  // Chart.js and the two plugins the chart specs use (candlesticks, value labels), as browser builds.
  const assets = new Map<string, string>();
  for (const [name, pkg, file] of CHART_SCRIPTS)
    app.get(`/web/assets/${name}`, (c) => {
      let js = assets.get(name);
      if (js === undefined) {
        // Beside each package's main file (their exports do not name the browser builds).
        js = readFileSync(join(dirname(require.resolve(pkg)), file), 'utf8');
        assets.set(name, js);
      }
      return c.body(js, 200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=86400',
      });
    });

  app.get('/web', async (c) => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const e = services.engine;
    const state = e.state;
    const health = services.health();
    const quotes = e.quotes();
    const accounts = quotes.map((quote) => ({ quote, ...e.account(state, quote) }));
    const regime = services.watch.regime();
    // The equity chart: the daily report's spec, drawn here by Chart.js.
    const charts = new PageCharts(tz);
    let equity = '';
    const quote = quotes[0];
    if (quote) {
      const now = e.now();
      const rep = await e.performance(quote, now - 30 * 86_400_000, now);
      if (rep.days.length > 0) {
        const title = `Last 30 days · ${quote}`;
        equity = charts.draw(performanceChart(rep.days, title, quote, chartStyle(services.config)), title);
      }
    }
    const body = [
      `<div class="card">Mode <b>${services.trading.mode === 'live' ? 'live (real orders)' : 'paper (simulated)'}</b> · Health <b class="${health.status === 'ok' ? 'up' : 'down'}">${health.status}</b>` +
        health.checks
          .filter((k) => k.state !== 'ok')
          .map((k) => `<br><span class="mute">${esc(k.name)}: ${esc(k.detail)}</span>`)
          .join('') +
        `<br><span class="mute">${esc(e.feed.describe())}</span></div>`,
      `<h2>Accounts</h2>${table(
        ['Quote', 'Cash', 'Equity', 'Today'],
        accounts.map((a) => [esc(a.quote), n(a.cash), n(a.equity), pnl(a.equity - a.dayStartEquity)]),
      )}`,
      `<h2>Equity</h2>${equity || '<p class="mute">No closed day yet.</p>'}`,
      `<h2>Open positions</h2>${table(
        ['Position', 'Market', 'Side', 'Qty', 'Entry', 'Mark', 'Unrealised', 'Stop'],
        Object.values(state.positions).map((p) => [
          esc(p.id),
          esc(p.symbol),
          p.side === 1 ? 'long' : 'short',
          n(p.qty, 6),
          n(p.entryPrice),
          n(p.mark),
          pnl(p.side * p.qty * (p.mark - p.entryPrice)),
          n(typeof p.stop === 'number' ? p.stop : null),
        ]),
        'No open position.',
      )}`,
      `<h2>Runs</h2>${table(
        ['Run', 'Strategy', 'Market', 'State', 'Approval', 'Last signal'],
        Object.values(state.runs).map((r) => [
          esc(r.id),
          esc(r.strategy),
          `${esc(r.symbol)} ${esc(r.timeframe)}`,
          esc(r.state),
          esc(r.approve),
          r.lastSignal
            ? `${esc(r.lastSignal.id)} ${esc(r.lastSignal.side)} ${esc(r.lastSignal.status)}`
            : '-',
        ]),
        'No run. Start one with /start in chat.',
      )}`,
      `<h2>Regime</h2><div class="card">${
        regime.state === 'unknown'
          ? `unknown: ${esc(regime.why)}`
          : `<b>${esc(regime.state)}</b> since ${esc(localStamp(regime.since, tz))}`
      }</div>`,
    ].join('');
    return page(c, s, 'Overview', '/web', body, charts);
  });

  app.get('/web/signals', (c) => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const all = Object.values(services.engine.state.signals).sort((a, b) => b.createdAt - a.createdAt);
    const pending = all.filter((x) => x.status === 'pending');
    const mayDecide = s.person.role !== 'viewer';
    const cards = pending.map((x) => signalCard(x, s, mayDecide)).join('');
    const body =
      `<h2>Waiting for a decision</h2>${cards || '<p class="mute">No signal is waiting.</p>'}` +
      `<h2>Recent signals</h2>${table(
        ['Signal', 'Candle', 'Run', 'Side', 'Price', 'Status', 'Why', 'Indicators'],
        all.slice(0, 100).map((x) => [
          esc(x.id),
          esc(localStamp(x.barTime, tz)),
          esc(x.runId),
          esc(x.side),
          n(x.price),
          esc(x.status),
          esc(x.reason ?? x.note ?? ''),
          esc(
            Object.entries(x.indicators)
              .map(([k, v]) => `${k} ${v === null ? '-' : +v.toFixed(4)}`)
              .join(', '),
          ),
        ]),
        'No signal yet.',
      )}`;
    return page(c, s, 'Signals', '/web/signals', body);
  });

  app.post('/web/signals/:id', async (c) => {
    const p = await posted(c);
    if (p instanceof Response) return p;
    const id = c.req.param('id').toUpperCase();
    const action = p.form.action;
    if (action !== 'approve' && action !== 'half' && action !== 'reject')
      return refuse(c, 403, 'That is not a decision bosun knows; allowed: approve, half or reject.');
    const replies = await run(
      p.s,
      action === 'reject' ? 'reject' : 'approve',
      action === 'half' ? [id, 'half'] : [id],
    );
    p.s.flash = replies.flatMap((r) => renderMessages(r.blocks, PLAIN_TEXT)).join(' ');
    return c.redirect('/web/signals', 303);
  });

  app.get('/web/trades', async (c) => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const trades = (await services.engine.store.journal.trades({ limit: 100 })).reverse();
    const body = `<h2>Closed trades</h2>${table(
      ['Trade', 'Market', 'Side', 'Entry', 'Exit', 'Qty', 'PnL', 'Why'],
      trades.map((t) => [
        esc(t.id),
        esc(t.symbol),
        esc(t.side),
        `${n(t.entryPrice)}<br><span class="mute">${esc(localStamp(t.entryTime, tz))}</span>`,
        `${n(t.exitPrice)}<br><span class="mute">${esc(localStamp(t.exitTime, tz))}</span>`,
        n(t.quantity, 6),
        pnl(t.pnl),
        esc(t.exitReason),
      ]),
      'No closed trade yet.',
    )}`;
    return page(c, s, 'Trades', '/web/trades', body);
  });

  /** A command run as the signed-in person, through the chats' dispatcher: its replies. */
  async function run(s: Session, command: string, words: string[]): Promise<Reply[]> {
    const { transport, replies } = keptReplies();
    await o.dispatcher.run({
      command,
      words,
      person: s.person,
      chat: { platform: s.person.platform, id: `web:${s.person.id}`, private: true },
      transport,
    });
    return replies;
  }

  app.get('/web/backtests', async (c) => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const shown = s.shown;
    delete s.shown;
    const field = (name: string, label: string, value: string, hint: string) =>
      `<label>${label}<br><input name="${name}" value="${esc(value)}" placeholder="${esc(hint)}" autocapitalize="off" spellcheck="false"></label> `;
    const charts = new PageCharts(tz);
    const body =
      (shown ? `<h2>Result</h2>${repliesHtml(shown, charts)}` : '') +
      `<h2>Run a backtest</h2><form method="post" action="/web/backtests" class="card"><input type="hidden" name="csrf" value="${s.csrf}">` +
      field('strategy', 'Strategy', 'ema-cross', 'ema-cross') +
      field('symbol', 'Market', 'BTC/USDT', 'BTC/USDT') +
      field('timeframe', 'Timeframe', '1h', '1h') +
      field('period', 'Period', '90d', '90d') +
      field('params', 'Parameters', '', 'fast=9 slow=21') +
      `<br><button class="half" name="do" value="backtest">Run</button></form>` +
      `<h2>Compare kept backtests</h2><form method="post" action="/web/backtests" class="card"><input type="hidden" name="csrf" value="${s.csrf}">` +
      field('ids', 'IDs', '', 'B1 B2') +
      `<br><button class="half" name="do" value="compare">Compare</button></form>` +
      `<h2>Kept backtests</h2>${repliesHtml(await run(s, 'backtests', []))}`;
    return page(c, s, 'Backtests', '/web/backtests', body, charts);
  });

  app.post('/web/backtests', async (c) => {
    const p = await posted(c);
    if (p instanceof Response) return p;
    const f = p.form;
    const words = (v: unknown) => (typeof v === 'string' ? v.trim().split(/\s+/).filter(Boolean) : []);
    p.s.shown =
      f.do === 'compare'
        ? await run(p.s, 'compare', words(f.ids))
        : await run(p.s, 'backtest', [
            ...words(f.strategy),
            ...words(f.symbol),
            ...words(f.timeframe),
            ...words(f.period),
            ...words(f.params),
          ]);
    return c.redirect('/web/backtests', 303);
  });

  app.get('/web/scan', async (c) => {
    const s = signedIn(c);
    if (s instanceof Response) return s;
    const charts = new PageCharts(tz);
    const body = `<h2>Scanner</h2>${repliesHtml(await run(s, 'scan', []), charts)}`;
    return page(c, s, 'Scanner', '/web/scan', body, charts);
  });

  function signalCard(x: SignalRecord, s: Session, mayDecide: boolean): string {
    const form = (action: string, label: string, cls: string) =>
      `<button name="action" value="${action}" class="${cls}">${label}</button>`;
    return (
      `<div class="card"><b>${esc(x.id)}</b> ${esc(x.side.toUpperCase())} ${esc(x.symbol)} ${esc(x.timeframe)} · ${esc(x.strategy)} (run ${esc(x.runId)})` +
      `<br>Entry ${n(x.price)} · Stop ${n(x.stop)} · Targets ${x.targets.map((t) => n(t)).join(', ') || '-'} · Size ${n(x.quantity, 6)}` +
      (x.note ? `<br><span class="mute">Why: ${esc(x.note)}</span>` : '') +
      (mayDecide
        ? `<form method="post" action="/web/signals/${esc(x.id)}"><input type="hidden" name="csrf" value="${s.csrf}">` +
          form('approve', 'Approve', 'ok') +
          (x.noHalf ? '' : form('half', 'Half size', 'half')) +
          form('reject', 'Reject', 'no') +
          `</form>`
        : `<br><span class="mute">A trader or an admin decides.</span>`) +
      `</div>`
    );
  }
}

/** A command's replies as a page shows them: its text, tables as text, its charts drawn (or its images). */
function repliesHtml(replies: readonly Reply[], charts?: PageCharts): string {
  return replies
    .map((r) => {
      const text = renderMessages(
        r.blocks.filter((b) => b.kind !== 'image'),
        PLAIN_TEXT,
      ).join('\n');
      const images = r.blocks
        .flatMap((b) => (b.kind === 'image' ? [b] : []))
        .map((b) =>
          b.chart && charts && !b.chart.fixedSize
            ? charts.draw(b.chart, b.caption)
            : `<img src="data:image/png;base64,${Buffer.from(b.png).toString('base64')}" alt="${esc(b.caption)}" style="width:100%;height:auto">`,
        )
        .join('');
      return `<div class="card"><pre>${esc(text)}</pre>${images}</div>`;
    })
    .join('');
}

/** The browser builds the page's charts load: the name each is served at, its package, its file. */
const CHART_SCRIPTS = [
  ['chart.js', 'chart.js', 'chart.umd.min.js'],
  ['financial.js', 'chartjs-chart-financial', 'chartjs-chart-financial.min.js'],
  ['datalabels.js', 'chartjs-plugin-datalabels', 'chartjs-plugin-datalabels.min.js'],
] as const;

/**
 * What the page does with a chart spec before Chart.js draws it: a PNG's fixed size and silent
 * tooltips give way to a canvas that follows the page's width and tells the values under the pointer
 * (times in the bot's time zone). Date labels are centred on their ticks: the PNG's first label,
 * drawn from its tick rightwards, ran into the next one on a phone's narrower canvas.
 */
const DRAW = `function(tz){Chart.register(ChartDataLabels);var when=function(x){return new Date(x).toLocaleString('en-GB',{timeZone:tz,dateStyle:'medium',timeStyle:'short'})};return function(id,config){var o=config.options=config.options||{};o.responsive=true;o.maintainAspectRatio=false;o.animation=false;o.plugins=o.plugins||{};var x=o.scales&&o.scales.x;if(x&&x.ticks&&x.ticks.align==='inner'){x.ticks.align='center';x.ticks.autoSkipPadding=16}o.plugins.tooltip={enabled:true,mode:'nearest',axis:'x',intersect:false,filter:function(i){return !!i.dataset.label},callbacks:{title:function(items){var x=items[0]&&items[0].parsed&&items[0].parsed.x;return typeof x==='number'&&x>1e11?when(x):(items[0]?items[0].label:'')}}};new Chart(document.getElementById(id),config)}}`;

/** The charts a page draws in place: each panel of a chart spec on a canvas of its own, in the page's width. */
class PageCharts {
  readonly nonce = token();
  private readonly calls: string[] = [];

  constructor(private readonly tz: string) {}

  get any(): boolean {
    return this.calls.length > 0;
  }

  /** The chart's place in the page; its panels are drawn once the page's scripts have loaded. */
  draw(doc: ChartDocument, caption: string): string {
    const total = doc.panels.reduce((sum, p) => sum + p.weight, 0);
    const height = doc.height / doc.pixelRatio;
    const panels = doc.panels.map((p) => {
      const id = `chart${this.calls.length}`;
      this.calls.push(`draw('${id}',${safeScript(stringify(p.config) ?? '{}')})`);
      return `<div class="chart" style="height:${Math.round((height * p.weight) / total)}px"><canvas id="${id}" role="img" aria-label="${esc(caption)}"></canvas></div>`;
    });
    return `<figure class="charts" style="background:${esc(doc.background)}">${panels.join('')}</figure>`;
  }

  /** The scripts that draw them: the libraries, then one call per panel. */
  scripts(): string {
    if (!this.any) return '';
    const n = this.nonce;
    return (
      CHART_SCRIPTS.map(([name]) => `<script src="/web/assets/${name}" nonce="${n}"></script>`).join('') +
      `<script nonce="${n}">(function(){var draw=(${DRAW})(${safeScript(JSON.stringify(this.tz))});${this.calls.join(';')}})()</script>`
    );
  }
}

/** Script text safe inside a <script> element. */
function safeScript(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function pnl(v: number): string {
  return `<span class="${v >= 0 ? 'up' : 'down'}">${v >= 0 ? '+' : ''}${n(v)}</span>`;
}

/** Columns of figures: right-aligned. */
const NUMERIC = new Set([
  'Qty',
  'Cash',
  'Equity',
  'Today',
  'Entry',
  'Mark',
  'Unrealised',
  'Stop',
  'Price',
  'PnL',
  'Exit',
]);

/**
 * A table. One wider than a phone (over five columns) turns, on a narrow screen, into one card a row,
 * each cell on its own line after its column's name, so nothing hides off to the side.
 */
function table(head: string[], rows: string[][], empty = 'Nothing yet.'): string {
  if (rows.length === 0) return `<p class="mute">${esc(empty)}</p>`;
  const stack = head.length > 5 ? ' class="stack"' : '';
  return (
    `<div class="scroll"><table${stack}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows
      .map(
        (r) =>
          `<tr>${r
            .map(
              (cell, k) =>
                `<td data-label="${esc(head[k]!)}"${NUMERIC.has(head[k]!) ? ' class="n"' : ''}><span>${cell}</span></td>`,
            )
            .join('')}</tr>`,
      )
      .join('') +
    `</tbody></table></div>`
  );
}
