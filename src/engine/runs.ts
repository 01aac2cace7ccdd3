/**
 * Runs: a strategy on a series, started and stopped by people, resumed after a restart. A run's
 * strategy is loaded once into its runtime (parameters checked, exit rules with the default stop).
 */
import { checkExits } from '../backtest/run.js';
import { AppError, badInput, toAppError } from '../errors.js';
import { isTimeframe, timeframeMs } from '../market/timeframe.js';
import type { ExitRules, Strategy } from '../strategy/define.js';
import { parseParams } from '../strategy/params.js';
import { MANUAL } from '../strategy/manual.js';
import { loadStrategy } from '../strategy/registry.js';
import type { RunRecord, State } from '../store/state.js';
import type { Accounts } from './account.js';
import { clone, type EngineContext, type RunSpec, type Runtime } from './context.js';
import type { EngineEvent } from './events.js';
import type { RiskSettings } from './risk.js';
import { dropPending, pauseRun } from './run-state.js';
import type { SeriesBook } from './series.js';

/** A strategy as a run trades it: parameters checked, its exit rules with the default stop. */
export function runtimeOf(
  strategy: Strategy,
  rawParams: Readonly<Record<string, unknown>>,
  tfMs: number,
  risk: RiskSettings,
): Runtime {
  const params = parseParams(strategy, rawParams);
  const exits = checkExits({ ...strategy.exits?.(params) });
  // A position never goes without a stop unless the settings say so.
  const rules: ExitRules =
    exits.stopLoss === undefined && risk.defaultStop > 0 ? { ...exits, stopLoss: risk.defaultStop } : exits;
  const direction = strategy.direction ?? 'long';
  return {
    strategy,
    params,
    rules,
    allowLong: direction !== 'short',
    allowShort: direction !== 'long',
    maxBars: rules.maxBars ?? 0,
    tfMs,
  };
}

export class Runs {
  constructor(
    private readonly c: EngineContext,
    private readonly accounts: Accounts,
    private readonly series: SeriesBook,
  ) {}

  private get state(): Readonly<State> {
    return this.c.store.data;
  }

  /** Load a run's strategy: parameters checked, exit rules with the default stop. */
  async load(run: Pick<RunRecord, 'strategy' | 'params' | 'timeframe'>): Promise<Runtime> {
    // The first run sized before start() (REPLAY_RUNS, /start) needs the stored risk checked too.
    await this.accounts.storedRiskChecked();
    // The runs of trades by hand have a strategy of their own, not one of strategies/ (see manual.ts).
    const strategy = run.strategy === MANUAL.name ? MANUAL : await loadStrategy(run.strategy);
    return runtimeOf(strategy, run.params, timeframeMs(run.timeframe), this.c.risk());
  }

  /**
   * Resume the runs in the state (active, or with an exit or a position to see through): every
   * run's strategy first, so each series catches up for all its runs at once. A run that cannot
   * resume is paused, with why.
   */
  async resume(): Promise<void> {
    const s = this.state;
    const resumed = Object.values(s.runs).filter(
      (run) =>
        !this.c.runtimes.has(run.id) &&
        (run.state === 'active' ||
          run.pendingExit !== undefined ||
          Object.values(s.positions).some((p) => p.runId === run.id)),
    );
    const failed = new Map<string, string>();
    for (const run of resumed) {
      try {
        this.c.runtimes.set(run.id, await this.load(run));
      } catch (err) {
        failed.set(run.id, toAppError(err).message);
      }
    }
    for (const run of resumed) {
      if (failed.has(run.id)) continue;
      try {
        await this.series.follow(run.symbol, run.timeframe);
        this.c.logger.info({ run: run.id, state: run.state }, 'run resumed');
      } catch (err) {
        failed.set(run.id, toAppError(err).message);
      }
    }
    if (failed.size === 0) return;
    const events: EngineEvent[] = [];
    await this.c.store.update((st) => {
      for (const [id, why] of failed) {
        this.c.runtimes.delete(id);
        pauseRun(st, st.runs[id]!, `cannot resume: ${why}`, this.c.wall(), events);
      }
    });
    this.c.emit(events);
  }

  async start(spec: RunSpec, by: string): Promise<RunRecord> {
    if (!isTimeframe(spec.timeframe))
      throw badInput(`timeframe "${spec.timeframe}" is not valid; allowed: like 15m, 1h, 4h, 1d`);
    const symbol = spec.symbol.toUpperCase();
    const rt = await this.load({ strategy: spec.strategy, params: spec.params, timeframe: spec.timeframe });
    await this.c.feed.check(symbol, spec.timeframe);
    const s = this.state;
    if (s.engine.killSwitch)
      throw new AppError(
        'FORBIDDEN',
        `the kill-switch is on (${s.engine.killSwitch.reason}); an admin must /risk resume first`,
      );
    const same = Object.values(s.runs).find(
      (r) =>
        r.state === 'active' &&
        r.strategy === spec.strategy &&
        r.symbol === symbol &&
        r.timeframe === spec.timeframe &&
        JSON.stringify(r.params) === JSON.stringify(rt.params),
    );
    if (same)
      throw badInput(
        `${spec.strategy} already runs on ${symbol} ${spec.timeframe} with these parameters as ${same.id}`,
      );
    // The run starts after the last candle its series has: history is warm-up, never traded.
    const lastBar = (await this.series.follow(symbol, spec.timeframe)).buffer.lastTime;
    const run = await this.c.store.update((st) => {
      const id = `R${st.engine.nextId++}`;
      const r: RunRecord = {
        id,
        strategy: spec.strategy,
        symbol,
        timeframe: spec.timeframe,
        params: rt.params,
        approve: spec.approve,
        state: 'active',
        createdAt: this.c.wall(),
        createdBy: by,
        ...(Number.isFinite(lastBar) ? { lastBar } : {}),
        realizedPnl: 0,
        trades: 0,
      };
      st.runs[id] = r;
      return clone(r);
    });
    this.c.runtimes.set(run.id, rt);
    return run;
  }

  /** Stop one run or all: no new signals; open positions keep their stops and targets. */
  async stop(id: string, by: string): Promise<RunRecord[]> {
    const events: EngineEvent[] = [];
    const stopped = await this.c.store.update((s) => {
      const runs = id === 'all' ? Object.values(s.runs).filter((r) => r.state !== 'stopped') : [s.runs[id]];
      const out: RunRecord[] = [];
      for (const run of runs) {
        if (!run) throw this.unknown(id, s);
        if (run.state === 'stopped') throw badInput(`run ${run.id} is already stopped`);
        run.state = 'stopped';
        run.reason = `stopped by ${by}`;
        dropPending(s, run, 'its run was stopped', this.c.wall(), events);
        out.push(clone(run));
      }
      return out;
    });
    this.c.emit(events);
    return stopped;
  }

  /**
   * Why a run can never signal on this feed: its warm-up needs more candles of its timeframe than the
   * feed will ever give (a 1d run on a three-week replay). Undefined when it can, or the feed has no end.
   */
  warmupShortfall(id: string): string | undefined {
    const run = this.state.runs[id];
    const rt = this.c.runtimes.get(id);
    const most = run ? this.c.feed.capacity?.(run.timeframe) : undefined;
    if (!run || !rt || most === undefined) return undefined;
    const need = rt.strategy.warmup(rt.params) + 1;
    if (most >= need) return undefined;
    return `${run.id} needs ${need} ${run.timeframe} candles to warm up, and the replay holds ${most}: it will never signal. A shorter timeframe or a longer REPLAY_FILE would.`;
  }

  private unknown(id: string, s: State): AppError {
    const ids = Object.values(s.runs)
      .filter((r) => r.state !== 'stopped')
      .map((r) => r.id);
    return new AppError(
      'NOT_FOUND',
      `no run ${id}; ${ids.length ? `running: ${ids.join(', ')}` : 'nothing is running'}`,
    );
  }
}
