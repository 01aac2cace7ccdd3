/**
 * The settings history: every change to how bosun trades, with when, who, the old and the new value,
 * kept in the journal (`settings_changes`). Keys name what changed: `config:LOG_LEVEL` for the
 * configuration bosun started with (recorded by `config` when it differs from the last start),
 * `risk:maxOpenPositions` for /risk, `pairlist:minVolume` for /pairlist, `mode` for /mode, and
 * `killSwitch` when an admin clears it.
 */
import { type Config, configSnapshot } from '../config.js';
import type { State, StateStore } from '../store/state.js';

export interface SettingsEdit {
  key: string;
  old: unknown;
  new: unknown;
}

/** Who the settings recorded at a journal's first start are by: the baseline, not changes. */
export const FIRST_START = 'first start';

/** Values as the history keeps them: text, `null` for unset. */
export function settingText(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** An edit for each of `keys` under `prefix` (`risk`, `pairlist`): its value before and after. */
export function editsOf<T extends object>(
  prefix: string,
  keys: readonly string[],
  before: T,
  after: T,
): SettingsEdit[] {
  return keys.map((k) => ({
    key: `${prefix}:${k}`,
    old: (before as Record<string, unknown>)[k],
    new: (after as Record<string, unknown>)[k],
  }));
}

/** Note settings changes in the change under way (they commit with it). Unchanged values are skipped. */
export function noteSettings(s: State, who: string, edits: readonly SettingsEdit[], at = Date.now()): void {
  for (const e of edits) {
    const old = settingText(e.old);
    const now = settingText(e.new);
    if (old !== now) s.log.settings.push({ at, who, key: e.key, old, new: now });
  }
}

/**
 * Record the configuration bosun starts with: each key whose value differs from the one the
 * history last recorded. On a fresh journal all of them are recorded as the baseline (by
 * {@link FIRST_START}). Secrets are recorded as `set` or unset, URLs without their credentials.
 * Returns how many keys changed since the last start (0 on the first).
 */
export async function recordStartConfig(store: StateStore, config: Readonly<Config>): Promise<number> {
  const last = await store.journal.lastSettings();
  const edits: SettingsEdit[] = [];
  for (const [env, value] of Object.entries(configSnapshot(config))) {
    const key = `config:${env}`;
    const before = last.has(key) ? last.get(key)! : null;
    if (before !== value) edits.push({ key, old: before, new: value });
  }
  // A key that disappeared from the configuration (a RISK_ override removed) goes back to unset.
  for (const [key, value] of last)
    if (key.startsWith('config:') && value !== null && !(key.slice(7) in configSnapshot(config)))
      edits.push({ key, old: value, new: null });
  if (edits.length === 0) return 0;
  // The first start's settings are the baseline the changes are measured from, not changes.
  const who = last.size === 0 ? FIRST_START : 'config';
  await store.update((s) => noteSettings(s, who, edits));
  return who === FIRST_START ? 0 : edits.length;
}
