/**
 * Engine data in words: the messages for signals, approvals, fills, exits, alerts and reports, and
 * the number formats the trading commands share. The engine never formats; commands and the notifier
 * call these.
 */
import { pct } from '../backtest/summary.js';
import { chartStyle, performanceChart } from '../charts/index.js';
import { localStamp } from '../engine/clock.js';
import { currentStop } from '../engine/positions.js';
import { type OpenPositionView, type PerformanceReport, winRate } from '../engine/report.js';
import type { PositionRecord, RunRecord, SignalRecord, TradeRecord } from '../store/state.js';
import type { ScanResult } from '../engine/scanner.js';
import { toAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { baseOf, quoteOf } from '../market/symbol.js';
import type { BotEvent } from './categories.js';
import { bold, code, italic, type ReplyBuilder, reply } from './reply.js';
import type { Services } from './command.js';

/** A price with as many decimals as its size needs. */
export function price(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  const digits = a >= 1000 ? 2 : a >= 1 ? 4 : 8;
  return v.toLocaleString('en-US', {
    minimumFractionDigits: Math.min(2, digits),
    maximumFractionDigits: digits,
  });
}

export function qty(v: number): string {
  return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** A signed amount of money: +12.34 / -5.00. */
export function money(v: number): string {
  const s = Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${v < 0 ? '-' : '+'}${s}`;
}

const STATUS_LINE: Record<SignalRecord['status'], string> = {
  pending: 'Waiting for approval',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired, not taken',
  refused: 'Refused by the risk manager',
  ordered: 'Order sent to the exchange',
  filled: 'Filled',
  skipped: 'Entry skipped',
};

/** The signal message: what, where, how much, at what risk, and its state. */
export function signalReply(sig: SignalRecord, tz: string, withButtons: boolean): ReplyBuilder {
  const r = sig.manual
    ? reply().line(
        bold(`${sig.side === 'long' ? 'Buy' : 'Sell short'} ${sig.id}`),
        ' · ',
        code(sig.symbol),
        ` · by hand, for ${sig.manual.by}${sig.manual.source ? ` (${sig.manual.source})` : ''}`,
      )
    : reply().line(
        bold(`Signal ${sig.id}`),
        ` · ${sig.side.toUpperCase()} `,
        code(sig.symbol),
        ` ${sig.timeframe} · ${sig.strategy} (${sig.runId})`,
      );
  const stopPct = sig.stop !== null ? ` (${pct((sig.stop - sig.price) / sig.price)})` : '';
  const rows: string[][] = [
    ['Entry', `~${price(sig.price)}`],
    ['Stop', `${price(sig.stop)}${stopPct}`],
    [
      'Targets',
      sig.targets.length > 0
        ? sig.targets.map(price).join(' / ')
        : sig.manual
          ? 'none'
          : 'none (exits by signal)',
    ],
  ];
  if (sig.quantity > 0) {
    rows.push([
      'Size',
      `${qty(sig.quantity)} ${baseOf(sig.symbol)} (${price(sig.quantity * sig.price)} ${quoteOf(sig.symbol)})`,
    ]);
    rows.push(['Risk', sig.risk > 0 ? `${money(sig.risk).slice(1)} ${quoteOf(sig.symbol)}` : 'no stop']);
    rows.push(['R:R', sig.rewardRisk !== null ? sig.rewardRisk.toFixed(2) : 'n/a (no target)']);
  }
  r.table(rows, { align: ['left', 'left'] });
  const ind = Object.entries(sig.indicators)
    .filter(([, v]) => v !== null)
    .slice(0, 6)
    .map(([k, v]) => `${k} ${price(v)}`);
  if (ind.length > 0) r.line('On: ', ind.join(', '));
  if (sig.note && !sig.manual) r.line('Why: ', sig.note);
  if (sig.manual?.trail)
    r.line(`Trailing stop: ${+(sig.manual.trail * 100).toFixed(2)}% behind the best price`);
  if (sig.adds?.length) r.line(addsText(sig));
  if (sig.regime) r.line('Regime: ', sig.regime);
  r.line(statusText(sig, tz));
  if (withButtons && sig.status === 'pending' && sig.manual) {
    const pasted = sig.manual.source === 'pasted signal';
    r.buttons([
      { label: pasted ? 'Follow' : 'Confirm', command: 'approve', args: [sig.id], style: 'success' },
      { label: pasted ? 'Ignore' : 'Cancel', command: 'reject', args: [sig.id], style: 'danger' },
    ]);
  } else if (withButtons && sig.status === 'pending') {
    // No half size where half would be under the exchange's minimums (it would only be refused).
    if (sig.noHalf) r.line(`Half size: not offered (${sig.noHalf}).`);
    r.buttons([
      { label: 'Approve', command: 'approve', args: [sig.id], style: 'success' },
      ...(sig.noHalf
        ? []
        : [{ label: 'Half size', command: 'approve', args: [sig.id, 'half'], style: 'primary' as const }]),
      { label: 'Reject', command: 'reject', args: [sig.id], style: 'danger' },
    ]);
  }
  return r;
}

/**
 * A signal's adds in words: where each rests and its share of the size; the first fill takes the rest,
 * and the stop and targets follow the average.
 */
export function addsText(sig: Pick<SignalRecord, 'adds' | 'side' | 'price'>): string {
  const adds = sig.adds ?? [];
  const dir = sig.side === 'long' ? -1 : 1;
  const first = 1 - adds.reduce((a, l) => a + l.share, 0);
  const levels = adds.map(
    (l) =>
      `${'price' in l ? `${price(l.price)}${-dir * (l.price - sig.price) >= 0 ? ' (reached: now)' : ''}` : `${price(sig.price * (1 + dir * l.at))} (${pct(dir * l.at)})`} ${+(l.share * 100).toFixed(1)}%`,
  );
  return `Adds: ${levels.join(', ')}; first fill ${+(first * 100).toFixed(1)}%. The stop and targets follow the average; adds left go at the first exit.`;
}

function statusText(sig: SignalRecord, tz: string): string {
  const when = (t: number | undefined) => (t === undefined ? '' : ` at ${localStamp(t, tz)} ${tz}`);
  switch (sig.status) {
    case 'pending':
      return sig.manual
        ? `Nothing is sent before ${sig.manual.source === 'pasted signal' ? 'Follow' : 'Confirm'} (until ${localStamp(sig.expiresAt ?? 0, tz)} ${tz}); it fills at the price then.`
        : `Waiting for approval until ${localStamp(sig.expiresAt ?? 0, tz)} ${tz}.`;
    case 'approved':
      return sig.decidedBy === 'auto'
        ? 'Auto-approved: enters at the next open.'
        : `Approved by ${sig.decidedBy}${sig.size === 0.5 ? ' (half size)' : ''}${when(sig.decidedAt)}.`;
    case 'filled':
      return `Filled${sig.decidedBy && sig.decidedBy !== 'auto' ? `, approved by ${sig.decidedBy}${sig.size === 0.5 ? ' (half size)' : ''}` : ''}.`;
    case 'rejected':
      return `Rejected by ${sig.decidedBy}${when(sig.decidedAt)}.`;
    case 'expired':
      return `${sig.reason === 'expired' || !sig.reason ? 'Expired' : `Withdrawn: ${sig.reason}`}${when(sig.decidedAt)}; nothing was done.`;
    default:
      return `${STATUS_LINE[sig.status]}: ${sig.reason ?? ''}`;
  }
}

const EXIT_WORDS: Record<string, string> = {
  signal: 'Exit signal',
  stop: 'Stop hit',
  'trailing-stop': 'Trailing stop hit',
  'take-profit': 'Target hit',
  time: 'Time exit',
  manual: 'Closed by hand',
  end: 'Closed',
};

export function positionLine(p: PositionRecord): string {
  const stop = currentStop(p);
  return `${p.id} ${p.side === 1 ? 'long' : 'short'} ${qty(p.qty)} ${p.symbol} at ${price(p.entryPrice)}, stop ${Number.isNaN(stop) ? 'none' : price(stop)}${p.targetPrices.length > p.nextTarget ? `, targets ${p.targetPrices.slice(p.nextTarget).map(price).join(' / ')}` : ''}`;
}

export function tradeLine(t: TradeRecord): string {
  return `${t.id} ${t.side} ${qty(t.quantity)} ${t.symbol} ${price(t.entryPrice)} -> ${price(t.exitPrice)}: ${money(t.pnl)} ${t.quote} (${pct(t.returnPct)}, ${t.exitReason})`;
}

export function openRows(open: readonly OpenPositionView[]): string[][] {
  return open.map((p) => [
    p.id,
    p.symbol,
    p.side,
    qty(p.quantity),
    price(p.entryPrice),
    price(p.mark),
    money(p.unrealized),
  ]);
}
export const OPEN_HEADER = ['Id', 'Symbol', 'Side', 'Qty', 'Entry', 'Mark', 'Unrealised'];

/** The report text (the chart goes with it as an image). */
export function reportReply(rep: PerformanceReport, title: string, tz: string): ReplyBuilder {
  const rate = (w: number, l: number) =>
    w + l === 0 ? '-' : `${(winRate(w, l)! * 100).toFixed(1)}% (${w}/${w + l})`;
  const r = reply()
    .line(
      bold(`${title} · ${rep.quote}`),
      ` · ${localStamp(rep.from, tz)} to ${localStamp(rep.to, tz)} ${tz}`,
    )
    .table(
      [
        ['PnL in period', `${money(rep.windowPnl)} ${rep.quote}`],
        ['  realised', `${money(rep.windowRealized)} ${rep.quote}`],
        [
          'PnL since start',
          `${money(rep.cumulativePnl)} ${rep.quote} (${pct(rep.initial > 0 ? rep.cumulativePnl / rep.initial : 0)})`,
        ],
        ['Equity', `${price(rep.equity)} ${rep.quote} (cash ${price(rep.cash)})`],
        ['Trades in period', String(rep.windowTrades)],
        ['Win rate in period', rate(rep.windowWins, rep.windowLosses)],
        ['Win rate overall', rate(rep.allWins, rep.allLosses)],
      ],
      { align: ['left', 'left'] },
    );
  if (rep.open.length > 0) r.line(bold('Open positions')).table(openRows(rep.open), { header: OPEN_HEADER });
  else r.line('No open positions.');
  return r;
}

/**
 * The report with its chart (equity and daily PnL), for /daily and the scheduled report alike. A
 * chart that cannot be drawn (the renderer down or failing) costs the picture, never the report:
 * the numbers go alone, with one line saying so.
 */
export async function reportWithChart(
  rep: PerformanceReport,
  title: string,
  services: Pick<Services, 'config' | 'charts'>,
  logger: Logger,
): Promise<ReplyBuilder> {
  const r = reportReply(rep, title, services.config.timezone);
  if (rep.days.length === 0) return r;
  try {
    const doc = performanceChart(rep.days, `${title} · ${rep.quote}`, rep.quote, chartStyle(services.config));
    const png = await (await services.charts()).render(doc);
    r.image(png, {
      caption: `${title}: equity and daily PnL, ${rep.quote}`,
      filename: 'performance.png',
      chart: doc,
    });
  } catch (err) {
    logger.warn({ err: toAppError(err).message }, 'report chart failed; sending the numbers alone');
    r.line(
      italic('The chart could not be drawn this time (the chart renderer failed); the numbers are above.'),
    );
  }
  return r;
}

/** The words for an engine event (reports and signals have their own builders). */
export function eventReply(e: BotEvent, tz: string): ReplyBuilder | undefined {
  switch (e.type) {
    case 'signal':
      return signalReply(e.signal, tz, true);
    case 'decided':
      return reply(
        `Signal ${e.signal.id} (${e.signal.side} ${e.signal.symbol}): ${statusText(e.signal, tz)}`,
      );
    case 'entry':
      return reply().line(
        bold('Opened '),
        positionLine(e.position),
        ` (signal ${e.signal.id}, run ${e.position.runId})`,
      );
    case 'add': {
      const p = e.position;
      return reply().line(
        bold('Added '),
        `${qty(e.fill.quantity)} at ${price(e.fill.price)} (add ${e.n} of ${p.adds?.prices.length ?? e.n}); average now: ${positionLine(p)}`,
      );
    }
    case 'entry-skipped':
      return reply(
        `Entry for signal ${e.signal.id} (${e.signal.side} ${e.signal.symbol}) skipped: ${e.reason}.`,
      );
    case 'exit': {
      const f = e.fill;
      const what = EXIT_WORDS[f.reason] ?? f.reason;
      const line = reply().line(
        bold(`${what} `),
        `on ${e.position.id} ${e.position.symbol}: ${e.position.side === 1 ? 'sold' : 'bought back'} ${qty(f.quantity)} at ${price(f.price)}, ${money(f.pnl)} ${e.position.quote}`,
      );
      if (e.trade)
        line.line(
          `Position closed: ${money(e.trade.pnl)} ${e.trade.quote} (${pct(e.trade.returnPct)}) over ${e.trade.bars} bar(s).`,
        );
      return line;
    }
    case 'run':
      return reply(
        `Run ${e.run.id} (${runTitle(e.run)}) ${e.what}: ${e.run.reason ?? ''}. Its positions keep their stops; /runs shows it.`,
      );
    case 'kill-switch':
      return reply()
        .line(bold('Kill-switch: '), e.reason, '.')
        .line(
          'Every run is stopped; open positions keep their stops and targets. An admin can /risk resume.',
        );
    case 'feed':
      if (e.journal)
        return reply(
          `Journal problem: ${e.detail}. Nothing after the last saved candle happened; fix the journal and restart bosun to go on from there.`,
        );
      if (e.stream) return reply(`Market stream: ${e.detail}.`);
      return reply(e.up ? `Market data is back: ${e.detail}.` : `Market data problem: ${e.detail}.`);
    case 'report':
      return undefined;
    case 'order':
      return reply(orderText(e));
    case 'exchange':
      return reply(e.up ? `Exchange: ${e.detail}.` : `${'\u26a0'} Exchange: ${e.detail}.`);
    case 'reconcile':
      return reply().line(bold('Reconciliation: '), e.detail, '.');
    case 'panic':
      return reply().line(bold('Panic'), ` by ${e.by}: ${e.detail}.`);
    case 'mode':
      return reply().line(bold(e.mode === 'live' ? 'LIVE TRADING' : 'Paper trading'), `: ${e.detail}.`);
    case 'scan':
      return scanReply(e.result, e.top, tz);
    case 'regime':
      return reply().line(
        bold(`Regime ${e.change.to}`),
        `${e.change.from ? ` (was ${e.change.from})` : ''}, confidence ${Math.round(e.change.confidence * 100)}%: ${e.change.why}.`,
      );
  }
}

const signed = (n: number) => `${n > 0 ? '+' : ''}${n}`;

/** The scanner's ranking: the strongest markets first, each with its score, side and reasons. */
export function scanReply(result: ScanResult, top: number, tz: string): ReplyBuilder {
  const r = reply().line(
    bold(`Momentum scan ${result.timeframe}`),
    ` at ${localStamp(result.at, tz)} ${tz}: ${result.rows.length} market${result.rows.length === 1 ? '' : 's'} from ${result.source}`,
  );
  if (result.rows.length === 0) r.line('Nothing to rank.');
  result.rows.slice(0, top).forEach((row, i) => {
    const corr = row.correlation === null ? '' : `, BTC corr ${row.correlation.toFixed(2)}`;
    r.line(
      `${i + 1}. `,
      bold(row.symbol),
      ` ${signed(row.score)}/10${row.side === 'none' ? '' : ` ${row.side}`} at ${price(row.last)}${corr}: ${row.reasons.join(', ')}`,
    );
  });
  if (result.skipped.length > 0)
    r.line(
      italic(
        `Skipped ${result.skipped.length}: ${result.skipped
          .slice(0, 3)
          .map((s) => `${s.symbol} (${s.reason})`)
          .join('; ')}`,
      ),
    );
  return r;
}

const ORDER_WORDS: Record<string, string> = { entry: 'entry', exit: 'exit', stop: 'stop-loss', add: 'add' };

/** One line about a live order: what it is and what happened to it. */
function orderText(e: Extract<BotEvent, { type: 'order' }>): string {
  const o = e.order;
  const what = `${ORDER_WORDS[o.purpose]} order ${o.id} (${o.side} ${qty(o.amount)} ${o.symbol} ${o.type}${o.stopPrice !== undefined ? ` at ${price(o.stopPrice)}` : o.price !== undefined ? ` at ${price(o.price)}` : ''})`;
  switch (e.what) {
    case 'placed':
      return `Placed ${what} on the exchange.`;
    case 'adopted':
      return `Found ${what} on the exchange by its client id and took it over (${o.status}).`;
    case 'rejected':
      return `The exchange refused ${what}: ${e.detail ?? o.error ?? 'no reason given'}.`;
    case 'unknown':
      return `Sent ${what}, but its outcome is unknown (${e.detail}); it will be checked against the exchange, never sent twice.`;
    case 'cancelled':
      return `Cancelled: ${what}${e.detail ? `: ${e.detail}` : ''}.`;
    case 'unmatched':
      return `${what}: ${e.detail}.`;
  }
}

export function runTitle(run: Pick<RunRecord, 'strategy' | 'symbol' | 'timeframe'>): string {
  return `${run.strategy} ${run.symbol} ${run.timeframe}`;
}
