/**
 * The daily report: performance per quote currency over the last 24 hours, announced at REPORT_TIME
 * in the configured time zone. A live feed schedules it on the wall clock; a replay follows its own
 * clock, so a replayed month has a report per replayed day.
 */
import type { Job } from 'node-schedule';
import { toAppError } from '../errors.js';
import type { State } from '../store/state.js';
import type { Accounts } from './account.js';
import { nextTimeOfDay } from './clock.js';
import type { EngineContext } from './context.js';
import { performance, type PerformanceReport } from './report.js';

const DAY_MS = 86_400_000;

export class Reports {
  private nextReportAt: number | undefined;
  private job: Job | undefined;

  constructor(
    private readonly c: EngineContext,
    private readonly accounts: Accounts,
  ) {}

  /** Schedule the daily report on the wall clock (live feeds). */
  async schedule(): Promise<void> {
    const [hour, minute] = this.c.settings.reportTime.split(':').map(Number) as [number, number];
    const { default: schedule } = await import('node-schedule');
    this.job = schedule.scheduleJob({ hour, minute, tz: this.c.settings.timezone }, () => {
      void this.send(this.c.wall()).catch((err: unknown) =>
        this.c.logger.error({ err: toAppError(err).message }, 'daily report failed'),
      );
    });
  }

  stop(): void {
    this.job?.cancel();
  }

  /** A replay's clock moved: the report is due at each REPORT_TIME it passes, while anything trades. */
  async onClock(now: number): Promise<void> {
    const { timezone, reportTime } = this.c.settings;
    this.nextReportAt ??= nextTimeOfDay(
      (this.c.store.data.engine.lastReport ?? now - 1) + 1,
      timezone,
      reportTime,
    );
    if (now < this.nextReportAt) return;
    const at = this.nextReportAt;
    this.nextReportAt = nextTimeOfDay(at + 1, timezone, reportTime);
    // Only while something is being traded: stopped runs with no position left say nothing new.
    const s = this.c.store.data;
    const trading =
      Object.values(s.runs).some((r) => r.state !== 'stopped') || Object.keys(s.positions).length > 0;
    if (trading) await this.send(at);
  }

  /** Performance over [from, to) for a quote currency. */
  performance(quote: string, from: number, to = this.c.feed.now()): Promise<PerformanceReport> {
    const s = this.c.store.data;
    return performance(s as State, this.c.store.journal, {
      quote,
      initial: this.accounts.initialBalance(quote),
      cash: this.c.broker.cash(s, quote),
      from,
      to,
      tz: this.c.settings.timezone,
    });
  }

  /** Build the report of the 24 hours ending at `at` for every quote currency, and announce it. */
  async send(at: number, title = 'Daily report'): Promise<PerformanceReport[]> {
    const reports = await Promise.all(
      this.accounts.quotes().map((q) => this.performance(q, at - DAY_MS, at)),
    );
    await this.c.store.update((s) => {
      s.engine.lastReport = at;
    });
    this.c.emit(reports.map((report) => ({ type: 'report' as const, report, title })));
    return reports;
  }
}
