/** What every chat adapter offers the composition root. */
import type { Platform } from './command.js';
import type { ChatStatus } from './services.js';

export interface ChatAdapter {
  readonly platform: Platform;
  status(): ChatStatus;
  /** Connect and start taking messages; resolves once connected. */
  start(): Promise<void>;
  /** Stop taking new messages and wait for the replies in flight; then disconnect. */
  stop(): Promise<void>;
}
