/**
 * Signed chat buttons. A button's payload on the platform (Telegram callback data, at most 64
 * bytes; Discord custom id, at most 100) is compact: `b.<id>.<expiry>.<hmac>`. The HMAC, keyed with
 * the install's secret from the state store, covers the id and the expiry, so a forged or altered
 * payload is refused before anything is looked up, and an expired one without a lookup. What the
 * button does (a command and its arguments) stays in the state store under the id; a single-use
 * button is marked used, durably, before its action runs, so a replayed press changes nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StateStore } from '../store/state.js';
import { type ChatRef, chatKey } from './command.js';
import type { Button } from './reply.js';

export type Redeemed =
  | { ok: true; command: string; args: string[]; once: boolean }
  | {
      ok: false;
      reason: 'forged' | 'expired' | 'used' | 'unknown' | 'elsewhere' | 'forbidden';
      message: string;
    };

const PAYLOAD_RE = /^b\.([A-Za-z0-9_-]{12})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;

export class ButtonSigner {
  constructor(
    private readonly store: StateStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private sign(id: string, expiry: string): string {
    return createHmac('sha256', this.store.data.install.secret)
      .update(`${id}.${expiry}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  /** Store the button's action and return its signed payload. */
  async register(button: Button, chat: ChatRef): Promise<string> {
    const now = this.now();
    const id = randomBytes(9).toString('base64url');
    const expiresAt = now + this.ttlMs;
    const expiry = Math.ceil(expiresAt / 1000).toString(36);
    await this.store.update((s) => {
      for (const [key, b] of Object.entries(s.buttons)) if (b.expiresAt < now) delete s.buttons[key];
      s.buttons[id] = {
        command: button.command,
        args: [...button.args],
        chat: chatKey(chat),
        once: button.once ?? true,
        createdAt: now,
        expiresAt,
      };
    });
    return `b.${id}.${expiry}.${this.sign(id, expiry)}`;
  }

  /**
   * Check a press. `refusal(command, args)` says why the presser may not run the button's command
   * with its arguments (or undefined when they may); a refused press does not use the button up. For a single-use button
   * the use is recorded durably before this resolves.
   */
  async redeem(
    payload: string,
    chat: ChatRef,
    presserName: string,
    refusal: (command: string, args: readonly string[]) => string | undefined,
  ): Promise<Redeemed> {
    const m = PAYLOAD_RE.exec(payload);
    const refuse = (reason: Exclude<Redeemed, { ok: true }>['reason'], message: string): Redeemed => ({
      ok: false,
      reason,
      message,
    });
    if (!m) return refuse('forged', 'This button is not one of mine; nothing was done.');
    const [, id, expiry, sig] = m as unknown as [string, string, string, string];
    const expected = Buffer.from(this.sign(id, expiry));
    if (!timingSafeEqual(expected, Buffer.from(sig)))
      return refuse('forged', 'This button is not one of mine; nothing was done.');
    if (parseInt(expiry, 36) * 1000 < this.now())
      return refuse('expired', 'This button has expired; run the command again.');
    return this.store.update((s): Redeemed => {
      const record = s.buttons[id];
      if (!record) return refuse('unknown', 'This button is no longer valid; run the command again.');
      if (record.chat !== chatKey(chat)) return refuse('elsewhere', 'This button belongs to another chat.');
      if (record.once && record.usedAt !== undefined)
        return refuse(
          'used',
          `This button was already used${record.usedBy ? ` by ${record.usedBy}` : ''}; nothing was done.`,
        );
      const refused = refusal(record.command, record.args);
      if (refused !== undefined) return refuse('forbidden', refused);
      if (record.once) {
        record.usedAt = this.now();
        record.usedBy = presserName;
      }
      return { ok: true, command: record.command, args: [...record.args], once: record.once };
    });
  }
}
