/** What every chat adapter offers the composition root. */
import type { Platform } from './command.js';
import type { Reply } from './reply.js';
import type { ChatStatus } from './services.js';

export interface ChatAdapter {
  readonly platform: Platform;
  status(): ChatStatus;
  /** Connect and start taking messages; resolves once connected. */
  start(): Promise<void>;
  /** Stop taking new messages and wait for the replies in flight; then disconnect. */
  stop(): Promise<void>;
  /**
   * Send a message on bosun's own initiative (a notification) to a chat that talked to it before;
   * resolves to the id of the message that carries the buttons (or the first), for later edits.
   */
  push(chatId: string, reply: Reply): Promise<string>;
  /** Replace the text (and buttons) of a message sent earlier. */
  edit(chatId: string, messageId: string, reply: Reply): Promise<void>;
}
