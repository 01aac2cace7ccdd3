/**
 * The risk manager: every entry signal passes here before anyone is asked to approve it, and again
 * when it fills. It sizes the position and refuses it, with a reason a trader can read, when a rule
 * says no. Pure functions over plain data; the engine supplies the account's numbers.
 *
 * Rules (from the seed bots), in the order they are checked:
 * 1. kill-switch engaged (the drawdown limit was hit): nothing trades until an admin resumes;
 * 2. daily loss limit: the account lost this share since the day began;
 * 3. cooldown: a losing trade on this symbol closed less than `cooldownMinutes` ago;
 * 4. max open positions;
 * 5. minimum reward/risk, when the signal has a target (no target: the rule cannot apply);
 * 6. sizing: risk % of equity over what a unit loses at the stop, fees and slippage included
 *    (`risk`), a fixed fraction of equity (`fraction`), or Kelly from the closed trades (`kelly`,
 *    half-Kelly, capped by `fraction`), never above `maxPositionSize` of equity;
 * 7. max exposure per symbol: the notional on one symbol, this entry included, as a share of equity.
 */
import { z } from 'zod';
import { positionSize, type Sizing, stopLossPerUnit } from '../backtest/sizing.js';
import { badInput } from '../errors.js';
import type { StrategyRisk } from '../strategy/define.js';

const SIZINGS = ['risk', 'fraction', 'kelly'] as const;

/** How a position is sized, and what each way means (for `/risk` and error lines). */
const SIZING_MEANINGS: Record<(typeof SIZINGS)[number], string> = {
  risk: 'risk % over the stop',
  fraction: 'of equity',
  kelly: 'half-Kelly, capped by fraction',
};

export const RiskSettings = z
  .object({
    sizing: z.enum(SIZINGS).default('risk'),
    riskPerTrade: z.number().gt(0).max(0.2).default(0.01),
    fraction: z.number().gt(0).max(1).default(0.1),
    defaultStop: z.number().min(0).lt(1).default(0.02),
    maxOpenPositions: z.number().int().min(1).max(1000).default(5),
    maxPositionSize: z.number().gt(0).max(1).default(1),
    maxSymbolExposure: z.number().gt(0).max(1).default(0.5),
    dailyLossLimit: z.number().gt(0).max(1).default(0.05),
    maxDrawdown: z.number().gt(0).max(1).default(0.2),
    minRewardRisk: z.number().min(0).max(100).default(1.5),
    cooldownMinutes: z.number().int().min(0).max(100_000).default(60),
  })
  .strict();
export type RiskSettings = z.infer<typeof RiskSettings>;

/**
 * What each number setting means, and a note said after its bounds. The bounds themselves are read
 * from {@link RiskSettings}, so the help cannot promise what the schema refuses.
 */
const MEANINGS: Record<Exclude<keyof RiskSettings, 'sizing'>, [what: string, note?: string]> = {
  riskPerTrade: ['share of equity risked per trade', '0.01 = 1%'],
  fraction: ['share of equity per position for fraction sizing and the Kelly cap'],
  defaultStop: ['stop distance for signals without one', '0: no stop, risk sizing skips'],
  maxOpenPositions: ['open positions at most'],
  maxPositionSize: ['largest position as a share of equity', '1: no cap'],
  maxSymbolExposure: ['notional on one symbol as a share of equity'],
  dailyLossLimit: ['loss since the day began that stops new entries'],
  maxDrawdown: ['fall from the peak that trips the kill-switch'],
  minRewardRisk: ['least reward/risk for signals with a target', '0: off'],
  cooldownMinutes: ['minutes without entries on a symbol after a losing trade'],
};

/** A number schema's bounds in words: `a whole number 1 to 1000`, `above 0 up to 1`, `0 to below 1`. */
function boundsText(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input' }) as {
    type?: string;
    minimum?: number;
    exclusiveMinimum?: number;
    maximum?: number;
    exclusiveMaximum?: number;
  };
  const whole = json.type === 'integer' ? 'a whole number ' : '';
  if (json.exclusiveMinimum !== undefined)
    return `${whole}above ${json.exclusiveMinimum} up to ${json.maximum}`;
  if (json.exclusiveMaximum !== undefined) return `${whole}${json.minimum} to below ${json.exclusiveMaximum}`;
  return `${whole}${json.minimum} to ${json.maximum}`;
}

/** `risk (...), fraction (...) or kelly (...)` */
function sizingHelp(): string {
  const ways = SIZINGS.map((name) => `${name} (${SIZING_MEANINGS[name]})`);
  return `${ways.slice(0, -1).join(', ')} or ${ways.at(-1)}`;
}

/** What each setting means and allows, for `/risk`, error lines and the RISK_* config keys. */
export const RISK_HELP = Object.fromEntries(
  (Object.keys(RiskSettings.shape) as Array<keyof RiskSettings>).map((key) => {
    if (key === 'sizing') return [key, sizingHelp()];
    const [what, note] = MEANINGS[key];
    const bounds = boundsText(RiskSettings.shape[key].unwrap());
    return [key, `${what}, ${bounds}${note ? ` (${note})` : ''}`];
  }),
) as Record<keyof RiskSettings, string>;

/** Parse settings (from config and from admins' changes), one clear line on failure. */
/** The rules in force in one line: `risk 1% over the stop (default stop 2%), at most 5 open, ...`. */
export function describeRisk(r: RiskSettings): string {
  const p = (x: number) => `${+(x * 100).toFixed(2)}%`;
  const size =
    r.sizing === 'risk'
      ? `risk ${p(r.riskPerTrade)} over the stop`
      : r.sizing === 'fraction'
        ? `${p(r.fraction)} of equity`
        : `half-Kelly capped at ${p(r.fraction)}`;
  return [
    `${size} (default stop ${r.defaultStop > 0 ? p(r.defaultStop) : 'none'})`,
    `at most ${r.maxOpenPositions} open`,
    `${p(r.maxSymbolExposure)} a symbol`,
    `daily loss limit ${p(r.dailyLossLimit)}`,
    `kill-switch at ${p(r.maxDrawdown)} drawdown`,
    `R:R ${r.minRewardRisk} or more`,
    `cooldown ${r.cooldownMinutes} min after a loss`,
  ].join(', ');
}

export function parseRiskSettings(raw: Record<string, unknown>): RiskSettings {
  const parsed = RiskSettings.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0] ?? '');
  const help = RISK_HELP[key as keyof RiskSettings];
  if (!help) throw badInput(`unknown risk setting "${key}"; allowed: ${Object.keys(RISK_HELP).join(', ')}`);
  throw badInput(`risk setting ${key} is ${JSON.stringify(raw[key])}; allowed: ${help}`);
}

export interface Account {
  /** Cash not in positions, quote currency. */
  cash: number;
  /** Cash plus open positions at their marks. */
  equity: number;
  /** Equity when the current day began. */
  dayStartEquity: number;
  openPositions: number;
  /** Notional of open positions on the signal's symbol. */
  symbolNotional: number;
  /** Engine-clock time a losing trade on this symbol last closed, if any. */
  lastLossAt?: number;
  /** Net results of closed trades, for Kelly. */
  closedPnls: readonly number[];
  killSwitch?: string;
}

export interface Proposal {
  side: 1 | -1;
  /** Expected fill price (the signal bar's close, or the actual fill). */
  price: number;
  /** Stop price, NaN for none. */
  stop: number;
  /** Final target price, NaN for none. */
  target: number;
  fee: number;
  /** Slippage of market fills as a fraction (a stop-out sells slipped; risk sizing counts it). */
  slippage?: number;
  /** Engine-clock now. */
  now: number;
  /**
   * A quantity already announced and approved (a person's approval): the rules check it, sizing does
   * not change it; only the free cash and `maxPositionSize` can lower it.
   */
  quantity?: number;
  /**
   * Cut the size to what the exposure per symbol leaves, instead of refusing it (a trade by hand:
   * its asker sees the size before confirming). Strategies' signals are refused, as backtests are.
   */
  capExposure?: boolean;
}

export type Verdict =
  | { ok: true; quantity: number; risk: number; rewardRisk: number; sizing: string }
  | { ok: false; reason: string };

const pct = (x: number) => `${+(x * 100).toFixed(2)}%`;

/** The least trades Kelly sizing needs before it trusts the history; until then it uses `fraction`. */
export const KELLY_MIN_TRADES = 20;

/** Half-Kelly fraction from closed results, capped at `cap`; undefined without enough history. */
export function kellyFraction(pnls: readonly number[], cap: number): number | undefined {
  if (pnls.length < KELLY_MIN_TRADES) return undefined;
  // A trade that made exactly nothing is neither a win nor a loss.
  const wins = pnls.filter((p) => p > 0);
  const losses = pnls.filter((p) => p < 0);
  if (wins.length === 0) return 0;
  if (losses.length === 0) return cap;
  const avgWin = wins.reduce((a, b) => a + b, 0) / wins.length;
  const avgLoss = -losses.reduce((a, b) => a + b, 0) / losses.length;
  const w = wins.length / (wins.length + losses.length);
  const kelly = avgLoss > 0 ? w - (1 - w) / (avgWin / avgLoss) : w;
  return Math.max(0, Math.min(cap, kelly / 2));
}

/** The sizing rule these settings give, for this account's history. */
export function sizingFor(settings: RiskSettings, account: Account): { sizing: Sizing; label: string } {
  if (settings.sizing === 'risk')
    return {
      sizing: { mode: 'risk', risk: settings.riskPerTrade },
      label: `${pct(settings.riskPerTrade)} risk`,
    };
  if (settings.sizing === 'fraction')
    return {
      sizing: { mode: 'fraction', fraction: settings.fraction },
      label: `${pct(settings.fraction)} of equity`,
    };
  const k = kellyFraction(account.closedPnls, settings.fraction);
  if (k === undefined)
    return {
      sizing: { mode: 'fraction', fraction: settings.fraction },
      label: `${pct(settings.fraction)} of equity (Kelly needs ${KELLY_MIN_TRADES} trades)`,
    };
  return { sizing: { mode: 'fraction', fraction: k }, label: `half-Kelly ${pct(k)}` };
}

/** The account's settings tightened by a strategy's own limits (the stricter of each applies). */
export function withStrategyRisk(settings: RiskSettings, limits: StrategyRisk | undefined): RiskSettings {
  if (!limits) return settings;
  return {
    ...settings,
    maxPositionSize: Math.min(settings.maxPositionSize, limits.maxPositionSize ?? 1),
    maxOpenPositions: Math.min(
      settings.maxOpenPositions,
      limits.maxOpenPositions ?? Number.POSITIVE_INFINITY,
    ),
  };
}

export function evaluate(settings: RiskSettings, account: Account, p: Proposal): Verdict {
  const no = (reason: string): Verdict => ({ ok: false, reason });
  if (account.killSwitch)
    return no(`the kill-switch is on (${account.killSwitch}); an admin must /risk resume`);
  if (account.dayStartEquity > 0) {
    const dayLoss = (account.dayStartEquity - account.equity) / account.dayStartEquity;
    if (dayLoss >= settings.dailyLossLimit)
      return no(`daily loss limit: down ${pct(dayLoss)} today, the limit is ${pct(settings.dailyLossLimit)}`);
  }
  if (account.lastLossAt !== undefined && settings.cooldownMinutes > 0) {
    const until = account.lastLossAt + settings.cooldownMinutes * 60_000;
    if (p.now < until)
      return no(
        `cooldown after a loss: no entries on this symbol for ${Math.ceil((until - p.now) / 60_000)} more minute(s)`,
      );
  }
  if (account.openPositions >= settings.maxOpenPositions)
    return no(`max open positions: ${account.openPositions} open, the limit is ${settings.maxOpenPositions}`);
  const riskPerUnit = Number.isNaN(p.stop) ? Number.NaN : Math.abs(p.price - p.stop);
  const rewardRisk =
    Number.isNaN(p.target) || !(riskPerUnit > 0) ? Number.NaN : (p.side * (p.target - p.price)) / riskPerUnit;
  if (settings.minRewardRisk > 0 && !Number.isNaN(rewardRisk) && rewardRisk < settings.minRewardRisk)
    return no(`reward/risk ${rewardRisk.toFixed(2)} is below the minimum ${settings.minRewardRisk}`);

  const { sizing, label } = sizingFor(settings, account);
  if (sizing.mode === 'risk' && Number.isNaN(p.stop))
    return no('risk sizing needs a stop, and this signal has none (set defaultStop above 0)');
  // Size on equity like the backtester sizes on its account value, but never beyond the free cash.
  let quantity = p.quantity ?? positionSize(sizing, account.equity, p.price, p.fee, p.stop, p.slippage);
  quantity = Math.min(
    quantity,
    account.cash / (p.price * (1 + p.fee)),
    (settings.maxPositionSize * account.equity) / p.price,
  );
  if (p.capExposure)
    quantity = Math.min(
      quantity,
      (settings.maxSymbolExposure * account.equity - account.symbolNotional) / p.price,
    );
  if (!(quantity > 0)) return no(`no free cash for a position (cash ${account.cash.toFixed(2)})`);
  const notional = quantity * p.price;
  const exposure = (account.symbolNotional + notional) / account.equity;
  if (exposure > settings.maxSymbolExposure + 1e-12)
    return no(
      `max exposure per symbol: this entry would put ${pct(exposure)} of equity on it, the limit is ${pct(settings.maxSymbolExposure)}`,
    );
  // What a stop-out loses, fees and slippage included (risk sizing makes it riskPerTrade x equity).
  const risk = Number.isNaN(riskPerUnit)
    ? Number.NaN
    : stopLossPerUnit(p.price, p.stop, p.fee, p.slippage) * quantity;
  return { ok: true, quantity, risk, rewardRisk, sizing: label };
}
