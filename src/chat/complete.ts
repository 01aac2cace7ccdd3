/** Suggestions for an argument as it is typed (Discord autocomplete), by the kind of value. */
import { strategyNames } from '../strategy/registry.js';
import { COMMON_TIMEFRAMES } from './arg-types.js';
import type { Completion, Services } from './command.js';

const POPULAR_SYMBOLS = [
  'BTC/USDT',
  'ETH/USDT',
  'SOL/USDT',
  'BNB/USDT',
  'XRP/USDT',
  'ADA/USDT',
  'DOGE/USDT',
  'ETH/BTC',
];

/** At most `limit` values of a kind containing `typed` (case-insensitive), those starting with it first. */
export function completions(services: Services, kind: Completion, typed: string, limit = 25): string[] {
  const all =
    kind === 'strategy'
      ? strategyNames()
      : kind === 'timeframe'
        ? COMMON_TIMEFRAMES
        : kind === 'command'
          ? services.registry.all().map((c) => c.name)
          : [...new Set([...services.market.sampleSymbols(), ...POPULAR_SYMBOLS])];
  const t = typed.trim().toLowerCase();
  const hits = all.filter((v) => v.toLowerCase().includes(t));
  hits.sort((a, b) => Number(!a.toLowerCase().startsWith(t)) - Number(!b.toLowerCase().startsWith(t)));
  return hits.slice(0, limit);
}
