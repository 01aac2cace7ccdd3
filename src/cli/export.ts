/**
 * `bosun export KIND`: one kind of the journal's history (the one the bot writes: SQLite in
 * DATA_DIR, or DATABASE_URL) as CSV, JSON lines or Parquet, to stdout or a file, streamed with
 * memory flat whatever the size (see src/store/export.ts).
 *
 * A file is written under a temporary name beside it and renamed when complete, so a failed or
 * interrupted export leaves no half file. Each bad argument is one line saying what was wrong and
 * what is allowed.
 */
import { closeSync, createWriteStream, fsyncSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { closest, type Config } from '../config.js';
import { echo } from '../echo.js';
import { badInput } from '../errors.js';
import { parseDate, timeframeMs } from '../market/timeframe.js';
import { storageError } from '../store/atomic.js';
import type * as ExportModuleType from '../store/export.js';
import type {
  ExportFilterName,
  ExportFormat,
  ExportKind,
  ExportQuery,
  ExportResult,
} from '../store/export.js';
import { oneOf, parseCommandArgs } from './args.js';

export const EXPORT_USAGE = `Usage: npm run export -- KIND [--from DATE] [--to DATE] [--run ID] [--symbol SYM] [--timeframe TF]
  [--format csv|jsonl|parquet] [--out FILE] [--book paper|live] [--instance NAME]
  KIND: candles, decisions, signals, trades, fills, equity, snapshots. DATE: YYYY-MM-DD, an ISO time
  or epoch ms; --from inclusive, --to exclusive. To stdout unless --out (format from its extension)`;

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  run: { type: 'string' },
  symbol: { type: 'string' },
  timeframe: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  book: { type: 'string' },
  instance: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

/** INSTANCE's rule (config.ts): a name in a shared database. */
const INSTANCE_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

/** File extensions that name a format. */
const EXTENSIONS: Record<string, ExportFormat> = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

type ExportModule = typeof ExportModuleType;

interface ExportArgs {
  query: ExportQuery;
  format: ExportFormat;
  /** Absolute path; undefined: stdout. */
  out: string | undefined;
}

export async function exportCommand(argv: string[], config: Config): Promise<number> {
  // Loaded here, not at the CLI's start: the drivers and writers serve this command only.
  const ex = await import('../store/export.js');
  const { query, format, out } = parseExportArgs(argv, config, ex);
  const started = Date.now();
  const reader = await ex.openJournalReader({ dataDir: config.dataDir, url: config.store.url });
  let result: ExportResult | undefined;
  try {
    result =
      out === undefined
        ? await toStdout((stream) => ex.exportJournal(reader.db, query, format, stream, { end: false }))
        : await toFile(out, (stream) => ex.exportJournal(reader.db, query, format, stream));
  } catch (err) {
    throw ex.readError(reader, err);
  } finally {
    await reader.close();
  }
  // The reader of the pipe went away (`| head`): it has what it wanted.
  if (result === undefined) return 0;
  const summary = `Exported ${result.rows.toLocaleString('en-US')} ${query.kind} (${result.columns.length} columns, ${format}) from ${reader.where}${out ? ` to ${out}` : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  // Nothing matched: say what was asked, so a mistyped name is seen, not taken for no history.
  const summaryLine = result.rows === 0 ? `${summary}; nothing matched ${asked(query)}` : summary;
  // With the data on stdout the summary goes to stderr, out of its way.
  if (out) console.log(summaryLine);
  else process.stderr.write(`${summaryLine}\n`);
  return 0;
}

/** The filters of a query, as a person typed them. */
function asked(q: ExportQuery): string {
  const parts = q.kind === 'candles' ? [] : [`instance ${q.instance}`, `book ${q.book}`];
  if (q.runId !== undefined) parts.push(`run ${q.runId}`);
  if (q.symbol !== undefined) parts.push(`symbol ${q.symbol}`);
  if (q.timeframe !== undefined) parts.push(`timeframe ${q.timeframe}`);
  if (q.from !== undefined) parts.push(`from ${new Date(q.from).toISOString()}`);
  if (q.to !== undefined) parts.push(`to ${new Date(q.to).toISOString()}`);
  return parts.length > 0 ? `(${parts.join(', ')})` : '(the journal has none)';
}

/** The command line into a query, a format and a destination; one line for the first bad argument. */
function parseExportArgs(argv: string[], config: Config, ex: ExportModule): ExportArgs {
  const [kindText, ...rest] = argv;
  const kind = parseKind(kindText, ex.EXPORT_KINDS);
  const { values: v } = parseCommandArgs('export', rest, OPTIONS);
  const spec = ex.KINDS[kind];

  const from = v.from === undefined ? undefined : parseDate(v.from, '--from');
  const to = v.to === undefined ? undefined : parseDate(v.to, '--to');
  if (from !== undefined && to !== undefined && from >= to)
    throw badInput(
      `export: --from ${new Date(from).toISOString()} is not before --to ${new Date(to).toISOString()}; --from is inclusive and --to exclusive, so --from must be earlier`,
    );
  const given: Record<ExportFilterName, string | undefined> = {
    run: v.run,
    symbol: v.symbol,
    timeframe: v.timeframe,
  };
  for (const [name, value] of Object.entries(given) as Array<[ExportFilterName, string | undefined]>)
    if (value !== undefined && spec.filters[name] === undefined)
      throw badInput(
        `export: --${name} does not apply to ${kind}; it filters ${ex.kindsWith(name).join(', ')}`,
      );
  if (v.timeframe !== undefined) timeframeMs(v.timeframe);
  if (!spec.scoped && (v.book !== undefined || v.instance !== undefined))
    throw badInput(
      `export: ${kind} are market data shared by every instance and book; --${v.book !== undefined ? 'book' : 'instance'} does not apply (filter them with --symbol and --timeframe)`,
    );
  const book = oneOf('book', v.book, ['paper', 'live'] as const) ?? 'paper';
  if (v.instance !== undefined && !INSTANCE_RE.test(v.instance))
    throw badInput(
      `--instance is ${echo(v.instance)}; allowed: letters, digits, - and _, at most 40, starting with a letter or digit`,
    );
  const format = parseFormat(v.format, v.out, ex.EXPORT_FORMATS);
  if (v.out === undefined && format === 'parquet' && process.stdout.isTTY)
    throw badInput('export: Parquet is binary; give --out FILE.parquet, or redirect stdout to a file');
  return {
    query: {
      kind,
      instance: v.instance ?? config.store.instance,
      book,
      from,
      to,
      runId: v.run,
      symbol: v.symbol,
      timeframe: v.timeframe,
    },
    format,
    out: v.out === undefined ? undefined : checkOut(v.out),
  };
}

function parseKind(text: string | undefined, kinds: readonly ExportKind[]): ExportKind {
  if (text === undefined || text.startsWith('-'))
    throw badInput(
      `export: which kind? give one first, e.g. bosun export decisions --from 2024-01-01; allowed: ${kinds.join(', ')}`,
    );
  if (!kinds.includes(text as ExportKind)) {
    const near = closest(text, kinds);
    throw badInput(
      `export: unknown kind ${echo(text)}${near ? ` (did you mean ${near}?)` : ''}; allowed: ${kinds.join(', ')}`,
    );
  }
  return text as ExportKind;
}

/** --format, or the --out file's extension, or CSV; a --format that contradicts the extension is refused. */
function parseFormat(
  text: string | undefined,
  out: string | undefined,
  formats: readonly ExportFormat[],
): ExportFormat {
  const format = oneOf('format', text, formats);
  const ext = out === undefined ? '' : extname(out).toLowerCase();
  const byName = EXTENSIONS[ext];
  if (format !== undefined && byName !== undefined && byName !== format)
    throw badInput(
      `export: --format ${format} but --out ${out} ends in ${ext}; give a file name ending in .${format}, or leave --format out`,
    );
  return format ?? byName ?? 'csv';
}

/** The --out path, absolute; not a directory. */
function checkOut(path: string): string {
  const full = resolve(path);
  let isDir = false;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    // Not there yet: it will be made.
  }
  if (isDir)
    throw badInput(`export: --out ${path} is a directory; give a file name, e.g. ${path}/export.csv`);
  return full;
}

/**
 * Write through `write` to stdout. Undefined when the reader of a pipe went away (EPIPE); another
 * failure to write (a full disk under `> file`) is one STORAGE line.
 */
async function toStdout<T>(write: (stream: Writable) => Promise<T>): Promise<T | undefined> {
  let stdoutError: unknown;
  const note = (err: unknown) => {
    stdoutError = err;
  };
  process.stdout.on('error', note);
  try {
    return await write(process.stdout);
  } catch (err) {
    if (err !== stdoutError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return undefined;
    throw storageError(err, 'stdout');
  } finally {
    process.stdout.off('error', note);
  }
}

/**
 * Write through `write` to a temporary file beside `path`, flushed to disk and renamed over `path`
 * when complete. Fails, or is interrupted (Ctrl-C, SIGTERM): the temporary file is removed.
 */
async function toFile<T>(path: string, write: (stream: Writable) => Promise<T>): Promise<T> {
  const tmp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
  const removeTmp = () => {
    try {
      unlinkSync(tmp);
    } catch {
      // Never made, or gone already.
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    removeTmp();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o644);
  } catch (err) {
    throw storageError(err, path);
  }
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const stream = createWriteStream(tmp, { fd, autoClose: false });
  let fileError: unknown;
  stream.on('error', (err) => {
    fileError = err;
  });
  try {
    const result = await write(stream);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    return result;
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
    removeTmp();
    throw err === fileError ? storageError(err, path) : err;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}
