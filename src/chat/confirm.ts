/**
 * One-time confirmation codes for dangerous commands (`/mode live`, `/panic`): the first answer
 * hands out a code on a button; the command runs only when the same person comes back with it,
 * once, before it expires.
 */
import { randomBytes } from 'node:crypto';

export class OneTimeCodes {
  private readonly codes = new Map<string, { by: string; expires: number }>();

  constructor(private readonly ttlMs = 120_000) {}

  /** A fresh code for `by`. */
  issue(by: string): string {
    const code = randomBytes(6).toString('hex');
    this.codes.set(code, { by, expires: Date.now() + this.ttlMs });
    return code;
  }

  /**
   * Whether `code` was issued to `by` and is still valid. Taking it uses it up; someone else's try
   * leaves it for the person it was issued to.
   */
  take(code: string, by: string): boolean {
    const c = this.codes.get(code);
    if (c === undefined || c.by !== by) return false;
    this.codes.delete(code);
    return c.expires >= Date.now();
  }

  /** Withdraw `code` (its Cancel button): it can no longer be taken. Someone else's try changes nothing. */
  withdraw(code: string, by: string): void {
    if (this.codes.get(code)?.by === by) this.codes.delete(code);
  }
}
