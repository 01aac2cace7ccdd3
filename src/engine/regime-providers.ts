/**
 * Outside inputs for the regime engine, behind one interface, all off by default: the dollar index
 * (a rising DXY leans risk-off), BTC dominance (rising dominance: money leaving altcoins, risk-off)
 * and news headlines scored by keywords. Each provider reads JSON from a URL the operator sets; one
 * that fails is reported and left out, and the regime goes on with what it has.
 */
import { toAppError } from '../errors.js';
import type { ExternalReading } from './regime.js';

export interface RegimeProvider {
  readonly name: string;
  read(now: number): Promise<ExternalReading>;
}

export type FetchJson = (url: string) => Promise<unknown>;

/** `fetch` with a timeout, JSON only; one line on failure. */
export const fetchJson: FetchJson = async (url) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
};

interface Point {
  time: number;
  value: number;
}

function points(body: unknown, name: string): Point[] {
  if (!Array.isArray(body)) throw new Error(`${name}: expected a JSON array of {time, value}`);
  const out = body
    .filter(
      (p): p is Point =>
        typeof p?.time === 'number' && typeof p?.value === 'number' && Number.isFinite(p.value),
    )
    .sort((a, b) => a.time - b.time);
  if (out.length < 2) throw new Error(`${name}: fewer than 2 usable {time, value} points`);
  return out;
}

/**
 * A series provider: the change over `windowMs` up to now, scaled so that `fullMove` (0.01 = 1 %)
 * counts fully; `rising` says which way a rise leans (-1: risk-off).
 */
export function seriesProvider(
  name: string,
  url: string,
  opts: { windowMs: number; fullMove: number; rising: 1 | -1; label: string },
  get: FetchJson = fetchJson,
): RegimeProvider {
  return {
    name,
    async read(now) {
      const pts = points(await get(url), name).filter((p) => p.time <= now);
      const last = pts.at(-1);
      if (!last) throw new Error(`${name}: no point before now`);
      const base = [...pts].reverse().find((p) => p.time <= last.time - opts.windowMs) ?? pts[0]!;
      const change = last.value / base.value - 1;
      const bias = Math.max(-1, Math.min(1, (opts.rising * change) / opts.fullMove));
      return {
        provider: name,
        bias,
        detail: `${opts.label} ${last.value.toFixed(2)} (${change >= 0 ? '+' : ''}${(change * 100).toFixed(2)}%)`,
      };
    },
  };
}

/** A keyword rule: words that mark a headline, what it means, how much, and for how long. */
export interface NewsRule {
  category: 'regulation' | 'security' | 'macro' | 'adoption' | 'market';
  keywords: string[];
  /** -1 (bad for risk) to +1. */
  sentiment: number;
  /** 1 (minor) to 3 (major). */
  impact: number;
  /** Hours the headline counts for. */
  expiryHours: number;
}

export const NEWS_RULES: NewsRule[] = [
  {
    category: 'security',
    keywords: ['hack', 'exploit', 'stolen', 'drained'],
    sentiment: -1,
    impact: 3,
    expiryHours: 48,
  },
  {
    category: 'regulation',
    keywords: ['ban', 'lawsuit', 'sues', 'crackdown', 'sec charges'],
    sentiment: -1,
    impact: 2,
    expiryHours: 72,
  },
  {
    category: 'regulation',
    keywords: ['approval', 'approved', 'etf inflow', 'legal tender'],
    sentiment: 1,
    impact: 2,
    expiryHours: 72,
  },
  {
    category: 'macro',
    keywords: ['rate hike', 'hawkish', 'recession', 'inflation surge'],
    sentiment: -1,
    impact: 2,
    expiryHours: 24,
  },
  {
    category: 'macro',
    keywords: ['rate cut', 'dovish', 'stimulus'],
    sentiment: 1,
    impact: 2,
    expiryHours: 24,
  },
  {
    category: 'adoption',
    keywords: ['adopts', 'partnership', 'integrates', 'launches'],
    sentiment: 1,
    impact: 1,
    expiryHours: 24,
  },
  {
    category: 'market',
    keywords: ['liquidation', 'crash', 'plunge', 'sell-off', 'bankrupt'],
    sentiment: -1,
    impact: 2,
    expiryHours: 24,
  },
  {
    category: 'market',
    keywords: ['rally', 'all-time high', 'surge', 'record high'],
    sentiment: 1,
    impact: 1,
    expiryHours: 24,
  },
];

export interface ScoredHeadline {
  title: string;
  time: number;
  category: NewsRule['category'];
  sentiment: number;
  impact: number;
  expiresAt: number;
}

/** Whole words only: "ban" must not match "bank". */
function wordsIn(text: string, phrase: string): boolean {
  let at = text.indexOf(phrase);
  while (at >= 0) {
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + phrase.length] ?? '';
    if (!/[a-z0-9]/.test(before) && !/[a-z0-9]/.test(after)) return true;
    at = text.indexOf(phrase, at + 1);
  }
  return false;
}

/** Score headlines: each takes its strongest matching rule; unmatched and expired ones drop out. */
export function scoreHeadlines(
  headlines: ReadonlyArray<{ title: string; time: number }>,
  now: number,
  rules: readonly NewsRule[] = NEWS_RULES,
): { bias: number; scored: ScoredHeadline[] } {
  const scored: ScoredHeadline[] = [];
  for (const h of headlines) {
    const text = h.title.toLowerCase();
    let best: NewsRule | undefined;
    for (const r of rules)
      if (r.keywords.some((k) => wordsIn(text, k)) && (!best || r.impact > best.impact)) best = r;
    if (!best) continue;
    const expiresAt = h.time + best.expiryHours * 3_600_000;
    if (h.time > now || expiresAt <= now) continue;
    scored.push({
      title: h.title,
      time: h.time,
      category: best.category,
      sentiment: best.sentiment,
      impact: best.impact,
      expiresAt,
    });
  }
  // Newer headlines weigh more: linear decay to zero at expiry; 3 points of weighted impact is a full bias.
  let sum = 0;
  for (const s of scored) sum += s.sentiment * s.impact * ((s.expiresAt - now) / (s.expiresAt - s.time));
  return { bias: Math.max(-1, Math.min(1, sum / 3)), scored };
}

export function newsProvider(url: string, get: FetchJson = fetchJson, rules = NEWS_RULES): RegimeProvider {
  return {
    name: 'news',
    async read(now) {
      const body = await get(url);
      if (!Array.isArray(body)) throw new Error('news: expected a JSON array of {time, title}');
      const headlines = body.filter(
        (h): h is { title: string; time: number } =>
          typeof h?.title === 'string' && typeof h?.time === 'number',
      );
      const { bias, scored } = scoreHeadlines(headlines, now, rules);
      const top = [...scored].sort((a, b) => b.impact - a.impact)[0];
      return {
        provider: 'news',
        bias,
        detail: `news ${scored.length} live headline${scored.length === 1 ? '' : 's'}${top ? `, e.g. ${top.category}: "${top.title.slice(0, 60)}"` : ''}`,
      };
    },
  };
}

/** Read every provider; failures come back as one line each instead of failing the regime. */
export async function readProviders(
  providers: readonly RegimeProvider[],
  now: number,
): Promise<{ readings: ExternalReading[]; failures: Array<{ provider: string; error: string }> }> {
  const settled = await Promise.allSettled(providers.map((p) => p.read(now)));
  const readings: ExternalReading[] = [];
  const failures: Array<{ provider: string; error: string }> = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') readings.push(r.value);
    else failures.push({ provider: providers[i]!.name, error: toAppError(r.reason).message.split('\n')[0]! });
  });
  return { readings, failures };
}

/** The providers the configuration turns on (none by default). */
export function configuredProviders(
  c: { dxyUrl?: string; dominanceUrl?: string; newsUrl?: string },
  get: FetchJson = fetchJson,
): RegimeProvider[] {
  const day = 86_400_000;
  return [
    ...(c.dxyUrl
      ? [
          seriesProvider(
            'dxy',
            c.dxyUrl,
            { windowMs: 5 * day, fullMove: 0.01, rising: -1, label: 'DXY' },
            get,
          ),
        ]
      : []),
    ...(c.dominanceUrl
      ? [
          seriesProvider(
            'dominance',
            c.dominanceUrl,
            { windowMs: 7 * day, fullMove: 0.03, rising: -1, label: 'BTC dominance' },
            get,
          ),
        ]
      : []),
    ...(c.newsUrl ? [newsProvider(c.newsUrl, get)] : []),
  ];
}
