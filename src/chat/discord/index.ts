/**
 * The Discord adapter (discord.js). Commands arrive as slash-command interactions with typed options
 * generated from the same schemas as everywhere else; button presses as component interactions with
 * the same signed ids; argument autocomplete from the argument's kind. Replies are markdown messages
 * (split at 2000 characters) with PNG attachments and button rows; errors are ephemeral.
 *
 * An interaction must be answered within 3 s: slow commands are deferred at once, any other command
 * when it has not answered after 2 s. `DISCORD_API_ROOT` points discord.js's REST (and so the gateway
 * it asks for) at another base.
 */
import {
  type AttachmentPayload,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type InteractionReplyOptions,
  MessageFlags,
  Routes,
} from 'discord.js';
import type { Role } from '../../config.js';
import { AppError, toAppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { type ChatAdapter, unreachable } from '../adapter.js';
import { argInfos } from '../args.js';
import { type ChatRef, type ChatStatus, ROLES, type SentMessage } from '../command.js';
import { completions } from '../complete.js';
import type { Dispatcher, Person, Transport } from '../dispatch.js';
import { type Dialect, images, PHONE_WIDTH, type Reply, renderMessages, reply } from '../reply.js';
import { deployCommands, slashCommands } from './commands.js';

const escapeMd = (t: string) => t.replace(/([\\*_~`|])/g, '\\$1').replace(/^([>#-])/, '\\$1');
const inlineCode = (t: string) => (t.includes('`') ? `\`\` ${t} \`\`` : `\`${t}\``);

export const DISCORD_MARKDOWN: Dialect = {
  escape: escapeMd,
  style: (s, t) =>
    s === 'bold' ? `**${escapeMd(t)}**` : s === 'italic' ? `_${escapeMd(t)}_` : inlineCode(t),
  link: (t, url) => `[${escapeMd(t)}](<${url}>)`,
  preOpen: '```\n',
  preClose: '\n```',
  escapePre: (t) => t.replace(/```/g, '`\u200b``'),
  limit: 2000,
  width: PHONE_WIDTH,
};

const BUTTON_STYLE = { primary: 1, secondary: 2, success: 3, danger: 4 } as const;
/** Answer (or defer) before Discord's 3 s deadline. */
const DEFER_AFTER_MS = 2000;

export interface DiscordOptions {
  token: string;
  apiRoot: string;
  guildId?: string;
  allowedUsers: Readonly<Record<string, Role>>;
  allowedRoles: Readonly<Record<string, Role>>;
  logger: Logger;
  /** How long to wait for the gateway's READY (default 30 s). */
  readyTimeoutMs?: number;
}

type Answered = 'none' | 'deferred' | 'replied';
type RepliableInteraction = ChatInputCommandInteraction | ButtonInteraction;

export class DiscordChat implements ChatAdapter {
  readonly platform = 'discord' as const;
  /** The discord.js client; a new one after a failed connection attempt. */
  client: Client;
  private state: ChatStatus['state'] = 'stopped';
  private detail: string | undefined;
  private accepting = false;
  private readonly handling = new Set<Promise<void>>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly options: DiscordOptions,
  ) {
    this.client = this.newClient();
  }

  private newClient(): Client {
    const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api: this.options.apiRoot } });
    client.on(Events.InteractionCreate, (interaction) => {
      // Only the current client serves: an earlier one left half-destroyed must not answer twice.
      if (!this.accepting || client !== this.client) return;
      const p = this.onInteraction(interaction).catch((err: unknown) =>
        this.options.logger.error({ err: toAppError(err).message }, 'discord interaction failed'),
      );
      this.handling.add(p);
      void p.finally(() => this.handling.delete(p));
    });
    client.on(Events.Error, (err) => this.options.logger.error({ err: err.message }, 'discord client error'));
    return client;
  }

  /**
   * Close a client, within 3 s: discord.js's destroy() waits without end on a gateway that took the
   * connection and never said READY.
   */
  private static async destroy(client: Client): Promise<void> {
    const destroyed = client.destroy().catch(() => undefined);
    await Promise.race([destroyed, new Promise((r) => setTimeout(r, 3_000).unref())]);
  }

  status(): ChatStatus {
    return { platform: 'discord', state: this.state, ...(this.detail ? { detail: this.detail } : {}) };
  }

  /** Discord's REST base, for the log. */
  get endpoint(): string {
    return this.options.apiRoot;
  }

  /**
   * One attempt to connect: log in, wait for the gateway's READY (30 s at most), register the slash
   * commands. A failed attempt destroys the client, so the next starts clean; a token Discord
   * refuses is BAD_CONFIG.
   */
  async start(signal?: AbortSignal): Promise<void> {
    this.state = 'connecting';
    const seconds = Math.round((this.options.readyTimeoutMs ?? 30_000) / 1000);
    let onReady: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // Whatever comes first ends the attempt: READY, a failure, the time limit, or the bot stopping.
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      this.client.once(Events.ClientReady, onReady);
      timer = setTimeout(
        () => reject(new AppError('NETWORK', `no READY from the Discord gateway within ${seconds} s`)),
        this.options.readyTimeoutMs ?? 30_000,
      );
      onAbort = () => reject(new AppError('NETWORK', 'connection abandoned: stopping'));
      signal?.addEventListener('abort', onAbort);
      if (signal?.aborted) onAbort();
    });
    try {
      const login = this.client.login(this.options.token);
      // A login still under way when the attempt ends fails later, into the void.
      login.catch(() => undefined);
      await Promise.race([login.then(() => ready), ready]);
      const app = this.client.application!;
      const result = await Promise.race([
        deployCommands(
          this.client.rest,
          app.id,
          slashCommands(this.dispatcher.services.registry),
          this.options.guildId,
        ),
        ready.then(() => new Promise<never>(() => {})),
      ]);
      this.options.logger.info(
        result,
        result.changed ? 'slash commands registered' : 'slash commands unchanged',
      );
    } catch (err) {
      const e = this.connectError(err);
      this.state = 'failed';
      this.detail = e.message;
      // The next attempt starts from a new client: this one may be stuck half-way.
      const failed = this.client;
      failed.off(Events.ClientReady, onReady!);
      this.client = this.newClient();
      await DiscordChat.destroy(failed);
      throw e;
    } finally {
      clearTimeout(timer);
      if (onReady) this.client.off(Events.ClientReady, onReady);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    this.detail = this.client.user?.tag;
    this.accepting = true;
    this.state = 'connected';
  }

  /** A failed connection attempt in words safe to print. */
  private connectError(err: unknown): AppError {
    const code = (err as { code?: unknown }).code;
    const status = (err as { status?: unknown }).status;
    if (code === 'TokenInvalid' || status === 401)
      return new AppError(
        'BAD_CONFIG',
        'Discord refused DISCORD_BOT_TOKEN (invalid token); check it in the Developer Portal',
      );
    if (status === 403)
      return new AppError(
        'BAD_CONFIG',
        `Discord refused access (403: ${(err as Error).message}); check DISCORD_GUILD_ID and the bot's invitation`,
      );
    if (err instanceof AppError) return new AppError(err.code, `Discord: ${err.message}`);
    if (typeof status === 'number') return new AppError('NETWORK', `Discord answered ${status}`);
    return unreachable('Discord', this.options.apiRoot, err);
  }

  async stop(): Promise<void> {
    this.accepting = false;
    await Promise.allSettled([...this.handling]);
    await DiscordChat.destroy(this.client);
    this.state = 'stopped';
  }

  async push(chatId: string, r: Reply): Promise<string> {
    const chat: ChatRef = { platform: 'discord', id: chatId, private: false };
    let last = '';
    for (const payload of await discordPayloads(this.dispatcher, chat, r)) {
      const { files, ...body } = payload as Omit<InteractionReplyOptions, 'files'> & {
        files?: AttachmentPayload[];
      };
      const attachments = (files ?? []).map((f, i) => ({
        id: i,
        filename: f.name,
        description: f.description,
      }));
      const sent = (await this.client.rest.post(Routes.channelMessages(chatId), {
        body: { ...body, ...(attachments.length > 0 ? { attachments } : {}) },
        files: (files ?? []).map((f) => ({ name: f.name!, data: f.attachment as Buffer })),
      })) as { id: string };
      last = sent.id;
    }
    return last;
  }

  async edit(chatId: string, messageId: string, r: Reply): Promise<void> {
    const chat: ChatRef = { platform: 'discord', id: chatId, private: false };
    const [payload] = await discordPayloads(this.dispatcher, chat, r);
    const { files: _files, ...body } = payload as InteractionReplyOptions & { files?: unknown };
    await this.client.rest.patch(Routes.channelMessage(chatId, messageId), {
      body: { ...body, components: body.components ?? [] },
    });
  }

  private person(interaction: Interaction): Person {
    const id = interaction.user.id;
    let role: Role | undefined = this.options.allowedUsers[id];
    const member = interaction.member;
    if (member) {
      const roleIds: string[] = Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
      for (const r of roleIds) {
        const granted = this.options.allowedRoles[r];
        if (granted && (role === undefined || ROLES.indexOf(granted) > ROLES.indexOf(role))) role = granted;
      }
    }
    return { platform: 'discord', id, name: interaction.user.username, role };
  }

  private chatOf(interaction: Interaction): ChatRef {
    return {
      platform: 'discord',
      id: interaction.channelId ?? interaction.user.id,
      private: !interaction.guildId,
    };
  }

  private async onInteraction(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) return this.onAutocomplete(interaction);
    if (interaction.isChatInputCommand()) return this.onCommand(interaction);
    if (interaction.isButton()) return this.onButton(interaction);
  }

  private async onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const command = this.dispatcher.services.registry.get(interaction.commandName);
    const chat = this.chatOf(interaction);
    const session = new InteractionReplies(interaction, this.dispatcher, chat);
    const options = Object.fromEntries(interaction.options.data.map((o) => [o.name, o.value]));
    const person = this.person(interaction);
    // Slow commands are deferred at once (when the caller may run them); the rest after 2 s of silence.
    if (command?.slow && person.role !== undefined) await session.defer();
    const timer = setTimeout(() => void session.defer().catch(() => undefined), DEFER_AFTER_MS);
    try {
      await this.dispatcher.run({
        command: interaction.commandName,
        options,
        person,
        chat,
        transport: session,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async onButton(interaction: ButtonInteraction): Promise<void> {
    const chat = this.chatOf(interaction);
    const session = new InteractionReplies(interaction, this.dispatcher, chat);
    await this.dispatcher.press(
      interaction.customId,
      this.person(interaction),
      chat,
      session,
      async (outcome) => {
        if (outcome.refused !== undefined) {
          await session.send(reply(outcome.refused).privately());
          return;
        }
        // A used single-use button leaves the message; the command's replies follow as new messages.
        if (outcome.once) await interaction.update({ components: [] });
        else await interaction.deferUpdate();
        session.answered = 'replied';
      },
    );
  }

  private async onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    // A stranger learns nothing from completions (strategies, markets); their command is refused.
    if (this.person(interaction).role === undefined) return interaction.respond([]);
    const command = this.dispatcher.services.registry.get(interaction.commandName);
    const focused = interaction.options.getFocused(true);
    const kind = command ? argInfos(command).find((a) => a.name === focused.name)?.complete : undefined;
    const values = kind ? completions(this.dispatcher.services, kind, String(focused.value)) : [];
    await interaction.respond(values.map((v) => ({ name: v, value: v })));
  }
}

/** The replies to one interaction: the first answers it (or fills the deferral), the rest follow up. */
class InteractionReplies implements Transport {
  answered: Answered = 'none';
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly interaction: RepliableInteraction,
    private readonly dispatcher: Dispatcher,
    private readonly chat: ChatRef,
  ) {}

  /** Acknowledge now ("bosun is thinking..."), unless already answered. */
  defer(): Promise<void> {
    return this.serial(async () => {
      if (this.answered !== 'none') return;
      await this.interaction.deferReply();
      this.answered = 'deferred';
    });
  }

  send(r: Reply): Promise<SentMessage> {
    return this.serial(async () => {
      const payloads = await discordPayloads(this.dispatcher, this.chat, r);
      let first: string | undefined;
      for (const payload of payloads) {
        const id = await this.post(payload, r.private);
        first ??= id;
      }
      const target = first!;
      return {
        edit: (next: Reply) =>
          this.serial(async () => {
            const [payload] = await discordPayloads(this.dispatcher, this.chat, next);
            await this.interaction.editReply({ ...(payload as object), message: target } as never);
          }),
      };
    });
  }

  /** Post one message; returns its id ("@original" for the interaction's own response). */
  private async post(payload: InteractionReplyOptions, isPrivate: boolean): Promise<string> {
    const flags = isPrivate ? { flags: MessageFlags.Ephemeral as const } : {};
    if (this.answered === 'none') {
      await this.interaction.reply({ ...payload, ...flags } as InteractionReplyOptions);
      this.answered = 'replied';
      return '@original';
    }
    if (this.answered === 'deferred') {
      this.answered = 'replied';
      if (isPrivate) {
        // A deferral is public; an error should not be: drop the placeholder and answer privately.
        await this.interaction.deleteReply();
        const msg = await this.interaction.followUp({ ...payload, ...flags } as InteractionReplyOptions);
        return msg.id;
      }
      await this.interaction.editReply(payload as never);
      return '@original';
    }
    const msg = await this.interaction.followUp({ ...payload, ...flags } as InteractionReplyOptions);
    return msg.id;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** A reply as Discord messages: text split at 2000, images and buttons on the last. */
async function discordPayloads(
  dispatcher: Dispatcher,
  chat: ChatRef,
  r: Reply,
): Promise<InteractionReplyOptions[]> {
  const texts = renderMessages(r.blocks, DISCORD_MARKDOWN);
  const files: AttachmentPayload[] = images(r).map((img) => ({
    attachment: Buffer.from(img.png),
    name: img.filename,
    description: img.caption || undefined,
  }));
  const rows = r.actions.length > 0 ? await dispatcher.signButtons(r, chat) : [];
  const components = rows.map((row) => ({
    type: 1,
    components: row.slice(0, 5).map((b) => ({
      type: 2,
      style: BUTTON_STYLE[b.style],
      label: b.label.slice(0, 80),
      custom_id: b.payload,
    })),
  }));
  const out: InteractionReplyOptions[] = texts.map((content) => ({ content }));
  if (out.length === 0) {
    const captions = images(r)
      .map((i) => i.caption)
      .filter(Boolean)
      .join('\n');
    out.push({ content: captions ? `_${escapeMd(captions)}_` : '' });
  }
  const last = out[out.length - 1]!;
  if (files.length > 0) last.files = files;
  if (components.length > 0) last.components = components.slice(0, 5) as never;
  return out;
}
