/**
 * The console chat: the same commands on a terminal (or a pipe), for running bosun with nothing
 * configured and for scripting. Replies print as plain text, tables as aligned columns, images are
 * saved under `DATA_DIR/out/` with their path printed, and buttons become choices named by their
 * message (`[6.1] Approve`): typing `6.1` presses that button. A number alone (`1`) presses the
 * choice of the one message with choices shown since the last line typed (or the only one still
 * open); when a newer message has taken the numbers it is refused, so a choice never lands on a
 * message other than the one read. The console user is an admin. Lines run one at a time, in order.
 */
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { writeFileAtomic } from '../../store/atomic.js';
import { harmless } from '../../echo.js';
import type { ChatAdapter } from '../adapter.js';
import type { ChatRef, ChatStatus, SentMessage } from '../command.js';
import type { Dispatcher, Person, Transport } from '../dispatch.js';
import { images, PLAIN_TEXT, type Reply, renderMessages } from '../reply.js';

const PLAIN = PLAIN_TEXT;

/** Messages whose choices stay open (older ones' buttons are no longer typed). */
const MAX_OPEN_MESSAGES = 20;

export interface ConsoleOptions {
  input?: Readable;
  output?: Writable;
  /** Where images go (DATA_DIR/out). */
  outDir: string;
  /** Show a prompt and redraw progress in place (a terminal). */
  interactive?: boolean;
  /** Where the log goes meanwhile (named in the greeting). */
  logFile?: string;
}

export class ConsoleChat implements ChatAdapter {
  readonly platform = 'console' as const;
  private rl: Interface | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Open choices by message number: the signed button payloads, numbered from 1. */
  private choices = new Map<number, string[]>();
  /** The message count when the line being handled was typed: messages after it are new to the reader. */
  private seenUpTo = 0;
  private state: ChatStatus['state'] = 'stopped';
  private lastBlock: { id: number; lines: number } | undefined;
  private nextId = 1;
  private imageCount = 0;
  private outputGone = false;
  private lines = 0;
  private closedResolve!: () => void;
  /** Resolves when the input ends (Ctrl-D, or the end of a pipe) and every line has been answered. */
  readonly closed = new Promise<void>((r) => (this.closedResolve = r));
  private readonly output: Writable;
  private readonly person: Person = {
    platform: 'console',
    id: 'local',
    name: safeUserName(),
    role: 'admin',
  };
  private readonly chat: ChatRef = { platform: 'console', id: 'local', private: true };

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: ConsoleOptions,
  ) {
    this.output = options.output ?? process.stdout;
  }

  status(): ChatStatus {
    return { platform: 'console', state: this.state };
  }

  async start(): Promise<void> {
    const interactive = this.options.interactive ?? false;
    this.rl = createInterface({
      input: this.options.input ?? process.stdin,
      ...(interactive ? { output: this.output, prompt: 'bosun> ' } : {}),
      terminal: interactive,
    });
    // Whoever reads our output went away (`npm start | head`): stop taking lines, end cleanly.
    this.output.on('error', () => {
      this.outputGone = true;
      this.rl?.close();
    });
    this.state = 'connected';
    this.write('bosun console chat. Type /help for the commands, Ctrl-D to quit.\n');
    if (this.options.logFile)
      this.write(`The log is in ${this.options.logFile}; warnings and errors show here too.\n`);
    this.prompt();
    this.rl.on('line', (line) => {
      this.lines++;
      // The typed line now stands under the last message: it can no longer be redrawn in place.
      this.lastBlock = undefined;
      this.queue = this.queue.then(() => this.handle(line)).then(() => this.prompt());
    });
    this.rl.on('close', () => {
      void this.queue.then(() => {
        this.state = 'stopped';
        this.closedResolve();
      });
    });
  }

  /** Lines read from the input so far (none: it was empty, as /dev/null). */
  get linesRead(): number {
    return this.lines;
  }

  async stop(): Promise<void> {
    this.rl?.close();
    await this.queue;
    this.state = 'stopped';
  }

  async push(_chatId: string, r: Reply): Promise<string> {
    return String(await this.print(r));
  }

  async edit(_chatId: string, messageId: string, r: Reply): Promise<void> {
    await this.print(r, Number(messageId));
  }

  private prompt(): void {
    if (this.options.interactive && this.state === 'connected') this.rl?.prompt();
  }

  private async handle(line: string): Promise<void> {
    const text = line.trim();
    if (text === '') return;
    const transport = this.transport();
    const seen = this.seenUpTo;
    this.seenUpTo = this.nextId - 1;
    const choice = /^(?:(\d+)\.)?(\d+)$/.exec(text);
    if (choice) {
      const message = choice[1] !== undefined ? Number(choice[1]) : this.onlyOpen(seen);
      if (typeof message === 'string') {
        this.write(`${message}\n`);
        return;
      }
      const payload = this.choices.get(message)?.[Number(choice[2]) - 1];
      if (!payload) {
        this.write(`No choice ${harmless(text)} here; type a choice as shown, like ${this.example()}.\n`);
        return;
      }
      // A button is used once: its message's choices close with it.
      this.choices.delete(message);
      const { refused } = await this.dispatcher.press(payload, this.person, this.chat, transport);
      if (refused) this.write(`${refused}\n`);
      return;
    }
    const [, command = '', rest = ''] = /^\/?(\S*)\s*([\s\S]*)$/.exec(text)!;
    await this.dispatcher.run({
      command: command.toLowerCase(),
      text: rest,
      person: this.person,
      chat: this.chat,
      transport,
    });
  }

  /**
   * The message a number alone means: the one message with choices printed since the reader last
   * typed (after message `seen`), else the only one with choices open; otherwise why it is refused.
   */
  private onlyOpen(seen: number): number | string {
    const open = [...this.choices.keys()];
    const fresh = open.filter((id) => id > seen);
    const candidates = fresh.length > 0 ? fresh : open;
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0) return 'No choices are open; buttons come with the replies that offer them.';
    return `More than one message has choices (${candidates.join(', ')}); type the message's number too, like ${candidates.at(-1)}.1.`;
  }

  private example(): string {
    const last = [...this.choices.keys()].at(-1);
    return last === undefined ? '3.1' : `${last}.1`;
  }

  private transport(): Transport {
    return {
      send: async (r: Reply): Promise<SentMessage> => {
        const id = await this.print(r);
        return {
          edit: async (next: Reply) => {
            await this.print(next, id);
          },
        };
      },
    };
  }

  /** Print a reply; an edit of the last thing printed redraws it in place on a terminal. */
  private async print(r: Reply, editOf?: number): Promise<number> {
    const out: string[] = renderMessages(r.blocks, PLAIN);
    for (const img of images(r))
      out.push(`[image] ${img.caption ? `${img.caption}: ` : ''}${this.saveImage(img.png, img.filename)}`);
    const id = editOf ?? this.nextId++;
    // An edit replaces the message's choices (an approval decided or expired has none left).
    this.choices.delete(id);
    if (r.actions.length > 0) {
      const payloads: string[] = [];
      const labels: string[] = [];
      for (const signed of (await this.dispatcher.signButtons(r, this.chat)).flat()) {
        payloads.push(signed.payload);
        labels.push(`[${id}.${payloads.length}] ${signed.label}`);
      }
      this.choices.set(id, payloads);
      // Only the latest few messages keep open choices.
      for (const old of [...this.choices.keys()].slice(0, -MAX_OPEN_MESSAGES)) this.choices.delete(old);
      out.push(`Choose: ${labels.join('  ')}`);
    }
    // Replies may carry what someone typed: no control character of theirs reaches the terminal.
    const text = `${out.map((l) => l.split('\n').map(harmless).join('\n')).join('\n')}\n`;
    if (editOf !== undefined && this.options.interactive && this.lastBlock?.id === editOf) {
      this.write(`\x1b[${this.lastBlock.lines}A\x1b[0J`);
    }
    this.write(text);
    this.lastBlock = { id, lines: text.split('\n').length - 1 };
    return id;
  }

  private saveImage(png: Uint8Array, filename: string): string {
    mkdirSync(this.options.outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const path = join(
      this.options.outDir,
      `${stamp}-${++this.imageCount}-${filename.replace(/[^\w.-]+/g, '_')}`,
    );
    writeFileAtomic(path, png);
    return path;
  }

  private write(text: string): void {
    if (!this.outputGone) this.output.write(text);
  }
}

function safeUserName(): string {
  try {
    return userInfo().username || 'console';
  } catch {
    return 'console';
  }
}
