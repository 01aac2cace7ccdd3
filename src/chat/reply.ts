/**
 * Transport-neutral replies. A command answers with a {@link Reply}: lines of text in a small
 * formatting subset (bold, italic, inline code, links), monospaced tables and blocks, PNG images with
 * a caption, and rows of buttons that carry an action. Each chat adapter renders it for its platform
 * (Telegram HTML, Discord markdown, plain text on the console); commands never see the difference.
 *
 * @example
 * return reply()
 *   .line(bold('ema-cross'), ' on ', code('BTC/USDT'), ' 1h')
 *   .table([['Return', '+12.4%'], ['Trades', '31']])
 *   .image(png, { caption: 'ema-cross BTC/USDT 1h', filename: 'backtest.png' })
 *   .buttons([{ label: 'Chart 4h', command: 'chart', args: ['BTC/USDT', '4h'] }]);
 */
import type { ChartDocument } from '../charts/types.js';

/** A piece of a line: plain text or one styled run. Styles do not nest, which keeps every platform able to render them. */
export type Inline =
  string | { style: 'bold' | 'italic' | 'code'; text: string } | { link: string; text: string };

export type Block =
  | { kind: 'text'; lines: Inline[][] }
  /** Monospaced, aligned columns; the first row is a header when `header` is set. */
  | { kind: 'table'; rows: string[][]; header?: string[]; align?: Array<'left' | 'right'> }
  /** Monospaced text kept as it is. */
  | { kind: 'pre'; text: string }
  | {
      kind: 'image';
      png: Uint8Array;
      caption: string;
      filename: string;
      /** The Chart.js spec the PNG was drawn from: the web view draws it in the page instead. */
      chart?: ChartDocument;
    };

/**
 * A button runs a command with fixed arguments when pressed, under the presser's role. The adapter
 * signs it; the command behind it is checked again at press time.
 */
export interface Button {
  label: string;
  command: string;
  args: string[];
  style?: 'primary' | 'secondary' | 'success' | 'danger';
  /** Single use (default true): a second press, by anyone, is refused as stale. */
  once?: boolean;
}

export interface Reply {
  readonly blocks: readonly Block[];
  /** Rows of buttons, shown under the last message of the reply. */
  readonly actions: readonly (readonly Button[])[];
  /** Shown only to the caller where the platform can (Discord ephemeral); elsewhere a normal reply. */
  readonly private: boolean;
}

export const bold = (text: string): Inline => ({ style: 'bold', text });
export const italic = (text: string): Inline => ({ style: 'italic', text });
export const code = (text: string): Inline => ({ style: 'code', text });
export const link = (text: string, url: string): Inline => ({ link: url, text });

/** Builds a {@link Reply}; every method returns the builder so replies read as one expression. */
export class ReplyBuilder implements Reply {
  readonly blocks: Block[] = [];
  readonly actions: Button[][] = [];
  private isPrivate = false;
  private isUndone = false;

  get private(): boolean {
    return this.isPrivate;
  }

  /** It says nothing was done (a signal decided already): the HTTP API answers 409 for it. */
  get undone(): boolean {
    return this.isUndone;
  }

  /** Mark the reply as saying nothing was done (see {@link undone}). */
  nothingDone(): this {
    this.isUndone = true;
    return this;
  }

  /** One line of text made of plain strings and styled pieces. */
  line(...parts: Inline[]): this {
    const last = this.blocks[this.blocks.length - 1];
    if (last?.kind === 'text') last.lines.push(parts);
    else this.blocks.push({ kind: 'text', lines: [parts] });
    return this;
  }

  /** Several plain lines (a string with newlines becomes several lines). */
  text(text: string): this {
    for (const l of text.split('\n')) this.line(l);
    return this;
  }

  table(rows: string[][], options: { header?: string[]; align?: Array<'left' | 'right'> } = {}): this {
    this.blocks.push({ kind: 'table', rows, ...options });
    return this;
  }

  pre(text: string): this {
    this.blocks.push({ kind: 'pre', text });
    return this;
  }

  image(
    png: Uint8Array,
    options: { caption?: string; filename?: string; chart?: ChartDocument | undefined } = {},
  ): this {
    this.blocks.push({
      kind: 'image',
      png,
      caption: options.caption ?? '',
      filename: options.filename ?? 'chart.png',
      ...(options.chart ? { chart: options.chart } : {}),
    });
    return this;
  }

  /** One row of buttons per call. */
  buttons(row: Button[]): this {
    if (row.length > 0) this.actions.push(row);
    return this;
  }

  /** Ask the platform to show this reply to the caller only. */
  privately(): this {
    this.isPrivate = true;
    return this;
  }
}

export function reply(text?: string): ReplyBuilder {
  const r = new ReplyBuilder();
  return text === undefined ? r : r.text(text);
}

/** The plain text of a line, without styles (console, captions, logs). */
export function plainLine(parts: readonly Inline[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : p.text)).join('');
}

/** Lay a table out in aligned monospaced columns; numbers align right unless told otherwise. */
export function tableLines(block: Extract<Block, { kind: 'table' }>): string[] {
  const rows = block.header ? [block.header, ...block.rows] : block.rows;
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, c) => Math.max(0, ...rows.map((r) => (r[c] ?? '').length)));
  const numeric = (c: number) =>
    block.rows.length > 0 && block.rows.every((r) => /^[-+]?[\d.,]+%?$|^$|^-$/.test(r[c] ?? ''));
  const align = widths.map((_, c) => block.align?.[c] ?? (c > 0 && numeric(c) ? 'right' : 'left'));
  const out = rows.map((r) =>
    widths
      .map((w, c) => {
        const cell = r[c] ?? '';
        return align[c] === 'right' ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd(),
  );
  if (block.header) out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out;
}

/** How one platform writes the formatting subset. */
export interface Dialect {
  escape(text: string): string;
  style(style: 'bold' | 'italic' | 'code', text: string): string;
  link(text: string, url: string): string;
  preOpen: string;
  preClose: string;
  /** Escape text inside a monospaced block. */
  escapePre(text: string): string;
  /** Longest message the platform accepts. */
  limit: number;
  /**
   * Widest monospaced line that reads without wrapping (40 on a phone; none on a terminal). Wider
   * tables become stacked cards and wider monospaced lines are wrapped to it.
   */
  width?: number;
}

/** Plain text: the console's dialect, and how the journal keeps the notifications sent. */
export const PLAIN_TEXT: Dialect = {
  escape: (t) => t,
  style: (_s, t) => t,
  link: (t, url) => `${t} <${url}>`,
  preOpen: '',
  preClose: '',
  escapePre: (t) => `  ${t}`,
  limit: Number.MAX_SAFE_INTEGER,
};

/** Monospaced columns a phone shows without wrapping: Telegram's and Discord's dialects use it. */
export const PHONE_WIDTH = 40;

/**
 * Fold a line into lines of at most `width` characters, breaking at spaces where it can, with the
 * continuation lines indented by `indent`.
 */
export function wrapLine(line: string, width: number, indent = '  '): string[] {
  if (line.length <= width) return [line];
  const out: string[] = [];
  let rest = line;
  let room = width;
  while (rest.length > room) {
    const space = rest.lastIndexOf(' ', room);
    const cut = space > room / 3 ? space : room;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    room = width - indent.length;
  }
  if (rest) out.push(rest);
  return out.map((l, k) => (k === 0 ? l : indent + l));
}

/**
 * A table too wide for `width` as stacked cards: one card per row, its first cell as the card's
 * title and each other cell on a line of its own under its column's name; a table without a header
 * keeps its rows, a value that does not fit beside its name going under it. Every line fits `width`.
 */
export function cardLines(block: Extract<Block, { kind: 'table' }>, width: number): string[] {
  const out: string[] = [];
  if (!block.header) {
    // Name and value: on one line when they fit, else the value under its name.
    for (const row of block.rows) {
      const [first = '', ...rest] = row;
      const value = rest.filter((c) => c !== '').join('  ');
      const line = value ? `${first}  ${value}` : first;
      if (line.length <= width) out.push(line);
      else {
        out.push(...wrapLine(first, width));
        if (value) out.push(...wrapLine(`  ${value}`, width, '  '));
      }
    }
    return out;
  }
  const names = block.header.slice(1);
  const pad = Math.min(Math.max(0, ...names.map((n) => n.length)), Math.floor(width / 2));
  const indent = ' '.repeat(Math.min(pad + 4, Math.floor(width / 2)));
  block.rows.forEach((row, k) => {
    if (k > 0) out.push('');
    out.push(...wrapLine(row[0] ?? '', width));
    names.forEach((name, c) => {
      const value = row[c + 1] ?? '';
      if (value === '' || value === '-') return;
      // A column without a name shows its value alone.
      const line = `  ${name.padEnd(pad)}  ${value}`;
      if (name === '') out.push(...wrapLine(`  ${value}`, width, '    '));
      else if (line.length <= width) out.push(line);
      // A value too long beside its name goes whole under it when it fits there.
      else if (value.length + 4 <= width) out.push(`  ${name}`, `    ${value}`);
      else out.push(...wrapLine(line, width, indent));
    });
  });
  return out;
}

/** The monospaced lines of a table as the dialect shows them: aligned columns, or cards when too wide. */
export function tableFor(block: Extract<Block, { kind: 'table' }>, width?: number): string[] {
  const lines = tableLines(block);
  if (width === undefined || lines.every((l) => l.length <= width)) return lines;
  return cardLines(block, width);
}

interface Segment {
  pre: boolean;
  lines: string[];
}

/**
 * Render a reply's text blocks (tables and pre blocks included, images and buttons not) into
 * messages no longer than the dialect's limit. Splits fall between lines; a monospaced block cut in
 * two is closed and reopened, so every message is well formed on its own. A single line longer than
 * the limit is cut at the limit.
 */
export function renderMessages(blocks: readonly Block[], dialect: Dialect): string[] {
  const segments: Segment[] = [];
  for (const block of blocks) {
    if (block.kind === 'text') {
      segments.push({ pre: false, lines: block.lines.map((l) => renderLine(l, dialect)) });
    } else if (block.kind === 'table') {
      segments.push({
        pre: true,
        lines: tableFor(block, dialect.width).map((l) => dialect.escapePre(l)),
      });
    } else if (block.kind === 'pre') {
      const width = dialect.width;
      const lines = block.text.split('\n');
      segments.push({
        pre: true,
        lines: (width === undefined ? lines : lines.flatMap((l) => wrapLine(l, width))).map((l) =>
          dialect.escapePre(l),
        ),
      });
    }
  }
  const wrap = dialect.preOpen.length + dialect.preClose.length;
  const messages: string[] = [];
  let current = '';
  let inPre = false;
  const closeCurrent = () => {
    if (inPre) current = current.replace(/\n$/, '') + dialect.preClose;
    inPre = false;
    if (current.trim() !== '') messages.push(current.replace(/\n+$/, ''));
    current = '';
  };
  for (const seg of segments) {
    if (current !== '' && !current.endsWith('\n')) current += '\n';
    for (const raw of seg.lines) {
      const room = dialect.limit - (seg.pre ? wrap : 0);
      const pieces = raw.length > room ? chop(raw, room) : [raw];
      for (const piece of pieces) {
        const cost = piece.length + 1 + (seg.pre && !inPre ? wrap : 0);
        if (current.length + cost + (inPre ? dialect.preClose.length : 0) > dialect.limit) closeCurrent();
        if (seg.pre && !inPre) {
          current += dialect.preOpen;
          inPre = true;
        }
        current += `${piece}\n`;
      }
    }
    if (inPre) {
      current = current.replace(/\n$/, '') + dialect.preClose + '\n';
      inPre = false;
    }
  }
  closeCurrent();
  return messages;
}

function renderLine(parts: readonly Inline[], d: Dialect): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return d.escape(p);
      if ('link' in p) return d.link(p.text, p.link);
      return d.style(p.style, p.text);
    })
    .join('');
}

/** Cut a rendered line into pieces of at most `size` characters, not inside an escape like `&amp;`. */
function chop(line: string, size: number): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > size) {
    let cut = size;
    const amp = rest.lastIndexOf('&', cut);
    if (amp > cut - 8 && rest.indexOf(';', amp) >= cut) cut = amp;
    if (rest[cut - 1] === '\\') cut -= 1;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  out.push(rest);
  return out;
}

/** Every image in a reply. */
export function images(r: Reply): Array<Extract<Block, { kind: 'image' }>> {
  return r.blocks.filter((b): b is Extract<Block, { kind: 'image' }> => b.kind === 'image');
}
