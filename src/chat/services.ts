/**
 * `Services` and `ChatStatus` live in ./command.ts (a command's context names the services, and the
 * services name the commands).
 */
// re-export until main.ts switches (issue 20)
export type { ChatStatus, Services } from './command.js';
