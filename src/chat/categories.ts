/**
 * What the chats hear about, by category (`/subscribe`, `/unsubscribe`): the engine's events and the
 * market watch's, each in one category.
 */
import type { EngineEvent } from '../engine/events.js';
import type { WatchEvent } from '../engine/market-watch.js';

export const NOTICE_CATEGORIES = ['signals', 'approvals', 'fills', 'exits', 'alerts', 'reports'] as const;
export type NoticeCategory = (typeof NOTICE_CATEGORIES)[number];

/** Everything the notifier tells the chats about. */
export type BotEvent = EngineEvent | WatchEvent;

/** Which chats' category an event belongs to. */
export function categoryOf(e: BotEvent): NoticeCategory {
  switch (e.type) {
    case 'signal':
    case 'scan':
      return 'signals';
    case 'decided':
      return 'approvals';
    case 'entry':
    case 'add':
    case 'entry-skipped':
    case 'order':
      return 'fills';
    case 'exit':
      return 'exits';
    case 'report':
      return 'reports';
    default:
      return 'alerts';
  }
}
