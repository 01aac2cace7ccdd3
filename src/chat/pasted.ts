/**
 * Signals pasted or forwarded from a signal channel, in the shapes those channels use (the one Cornix
 * documents, and its common variants): a pair, a side, an entry or an entry zone, targets, a stop,
 * a leverage. The reader is strict: a text is a signal only when it names one pair with its quote
 * currency, exactly one side, and two of an entry, targets and a stop, on their own labelled lines
 * or phrases, and no question or news words (closed, hit, cancelled); anything else is left alone,
 * never guessed at.
 *
 * @example
 * parseSignal('#BTC/USDT LONG\nEntry: 27000 - 26800\nTP1: 27500\nTP2: 28000\nSL: 26000')
 * // { symbol: 'BTC/USDT', side: 'long', entry: [26800, 27000], targets: [27500, 28000], stop: 26000 }
 */

export interface PastedSignal {
  symbol: string;
  side: 'long' | 'short';
  /** The entry price, or the zone's two ends (low, high); none: at the market. */
  entry?: [number] | [number, number];
  /** Take-profit prices, nearest first. */
  targets: number[];
  stop?: number;
  leverage?: number;
}

const QUOTES = ['USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'USD', 'BTC', 'ETH', 'EUR'];
const END = String.raw`(?:\.P|PERP)?(?=$|[\s)\],.:!|])`;
/**
 * A pair as channels write it: in capitals, with or without a separator (BTCUSDT, BTC/USDT,
 * BTC_USDT, BTC-USDT, BTC / USDT), or in small letters with a slash (sui/usdt). Words of a sentence
 * ("Kenneth", "amateur") are not pairs.
 */
const PAIRS = [
  new RegExp(String.raw`(?:^|[\s#$(\[])([A-Z0-9]{2,12}?)(?:\s?\/\s?|[_-])?(${QUOTES.join('|')})${END}`, 'gm'),
  new RegExp(String.raw`(?:^|[\s#$(\[])([a-z0-9]{2,12})\/(${QUOTES.join('|').toLowerCase()})${END}`, 'gm'),
];
/** Words that make a text news about a signal (an update, a result), or a question: never one to follow. */
const NOT_A_SIGNAL = /\?|\b(cancel+ed|closed|hit|reached|stopped out|booked|achieved|done)\b/i;
const LONG = /\b(long|buy|bullish)\b/gi;
const SHORT = /\b(short|sell|bearish)\b/gi;

/** Section labels: what the numbers after them (on their line, or the numbered lines under them) are. */
const LABELS: Array<[RegExp, Section]> = [
  [/\b(stop[\s-]*loss|stop[\s-]*targets?|stop|sl|invalidation)\b/i, 'stop'],
  [
    /\b(take[\s-]*profits?(?:[\s-]*targets?)?|targets?|tp\d{1,2}|tps?(?:\s\d{1,2}(?=\s*[:=)\]-]))?|profit\s*targets?)\b/i,
    'targets',
  ],
  [
    /\b(entry[\s-]*(?:zone|targets?|price|points?)?|entries|buy[\s-]*(?:zone|range|between|at)|sell[\s-]*(?:zone|range|between|at)|enter|open)\b/i,
    'entry',
  ],
  [/\b(leverage|lev)\b/i, 'leverage'],
];
type Section = 'stop' | 'targets' | 'entry' | 'leverage';

/** A price in a channel's writing: 27000, 27,000, 0.0000123, 1.234,5 is not taken. */
const NUMBER = /(?<![\w.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w%]|[.,]\d|\s*%)/g;

export function parseSignal(text: string): PastedSignal | undefined {
  if (text.length > 2000 || text.trimStart().startsWith('/') || NOT_A_SIGNAL.test(text)) return undefined;
  const pairs = new Set<string>();
  for (const re of PAIRS)
    for (const m of text.matchAll(re)) {
      const base = m[1]!.toUpperCase();
      const quote = m[2]!.toUpperCase();
      // "USDT/USD" or a bare quote ("USDT") is no pair.
      if (QUOTES.includes(base) && base !== 'BTC' && base !== 'ETH') continue;
      pairs.add(`${base}/${quote}`);
    }
  if (pairs.size !== 1) return undefined;
  const symbol = [...pairs][0]!;
  // The side: one word, either way; both or none is no signal.
  const sideless = PAIRS.reduce((t, re) => t.replace(new RegExp(re.source, 'gm'), ' '), text);
  const longs = sideless.match(LONG)?.length ?? 0;
  const shorts = sideless.match(SHORT)?.length ?? 0;
  // "Buy zone" and "sell zone" label an entry; they say the side too.
  if (longs > 0 === shorts > 0) return undefined;
  const side = longs > 0 ? 'long' : 'short';

  const found: Record<Section, number[]> = { stop: [], targets: [], entry: [], leverage: [] };
  let section: Section | undefined;
  for (const raw of text.split(/\r?\n/)) {
    // Percentages and notes in brackets ("27500 (+2%)") are not prices.
    let line = raw.replace(/\([^)]*%[^)]*\)|\[[^\]]*%[^\]]*\]/g, ' ');
    const parts = splitLabels(line);
    if (parts.length === 0) {
      // A numbered line under a label ("1) 27000", "2 - 27500", "• 27500") belongs to it.
      line = line.replace(/^\s*(?:\d{1,2}\s*[).:-]\s+|[•\-–*]\s*)/, ' ');
      if (section) found[section].push(...numbers(line, symbol));
      continue;
    }
    for (const [label, rest] of parts) {
      section = label;
      if (label === 'leverage') {
        const x = /(\d+(?:\.\d+)?)\s*x\b|\bx\s*(\d+(?:\.\d+)?)/i.exec(rest);
        if (x) found.leverage.push(Number(x[1] ?? x[2]));
        continue;
      }
      found[label].push(...numbers(rest.replace(/^\s*\d{1,2}\s*(?:\)|[.:]\s)\s*(?=\d)/, ' '), symbol));
    }
  }
  // Two of an entry, targets and a stop: one level alone is talk ("my target is 30000").
  if ([found.entry, found.targets, found.stop].filter((l) => l.length > 0).length < 2) return undefined;
  const dir = side === 'long' ? 1 : -1;
  const targets = [...new Set(found.targets)].sort((a, b) => dir * (a - b));
  const entries = [...new Set(found.entry)].sort((a, b) => a - b);
  const out: PastedSignal = { symbol, side, targets };
  if (entries.length === 1) out.entry = [entries[0]!];
  else if (entries.length > 1) out.entry = [entries[0]!, entries[entries.length - 1]!];
  if (found.stop.length > 0) out.stop = found.stop[0]!;
  if (found.leverage.length > 0) out.leverage = found.leverage[0]!;
  // Levels on the wrong side of the entry are a text misread or a mistyped signal: not taken.
  const ref = out.entry ? out.entry[0] + (out.entry[out.entry.length - 1]! - out.entry[0]) / 2 : undefined;
  if (ref !== undefined) {
    if (out.stop !== undefined && dir * (ref - out.stop) <= 0) return undefined;
    if (targets.some((t) => dir * (t - ref) <= 0)) return undefined;
  }
  return out;
}

/** The labelled parts of a line, each with the text after its label up to the next label. */
function splitLabels(line: string): Array<[Section, string]> {
  const all: Array<{ at: number; end: number; section: Section }> = [];
  for (const [re, section] of LABELS)
    for (const m of line.matchAll(new RegExp(re.source, 'gi')))
      all.push({ at: m.index, end: m.index + m[0].length, section });
  // The longest label wins where two overlap ("Entry Targets" is an entry, "Stop Targets" a stop).
  all.sort((a, b) => b.end - b.at - (a.end - a.at));
  const hits: typeof all = [];
  for (const h of all) if (!hits.some((k) => h.at < k.end && h.end > k.at)) hits.push(h);
  hits.sort((a, b) => a.at - b.at);
  return hits.map((h, k) => [h.section, line.slice(h.end, hits[k + 1]?.at ?? line.length)]);
}

/** The prices in a piece of text (the pair's own name, like "1000PEPE", is not one). */
function numbers(text: string, symbol: string): number[] {
  const base = symbol.split('/')[0]!;
  const clean = text.replace(new RegExp(`\\b${base}\\b`, 'gi'), ' ');
  return [...clean.matchAll(NUMBER)]
    .map((m) => Number(m[1]!.replace(/,/g, '')))
    .filter((n) => Number.isFinite(n) && n > 0);
}
