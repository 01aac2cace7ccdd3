/** The Telegram emulator speaks the Bot API as Telegram does, checked over plain HTTP. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TelegramEmulator } from './telegram/server.js';

let tg: TelegramEmulator;
const call = async (method: string, body: Record<string, unknown> = {}, token = tg.token) => {
  const res = await fetch(`${tg.apiRoot}/bot${token}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      ok: boolean;
      result?: unknown;
      description?: string;
      parameters?: { retry_after: number };
    },
  };
};

describe('Telegram Bot API emulator', () => {
  beforeEach(async () => {
    tg = await new TelegramEmulator({
      limits: { perChat: { burst: 2, perSecond: 1 }, global: { burst: 30, perSecond: 30 } },
    }).start();
  });
  afterEach(() => tg.stop());

  it('refuses a wrong token with 401', async () => {
    expect((await call('getMe', {}, '1:wrong')).status).toBe(401);
    expect((await call('getMe')).body.result).toMatchObject({ is_bot: true, username: 'bosun_test_bot' });
  });

  it('long-polls getUpdates until a message arrives, and offsets confirm updates', async () => {
    const poll = call('getUpdates', { timeout: 5 });
    await new Promise((r) => setTimeout(r, 100));
    tg.userSends({ id: 5, first_name: 'U' }, '/help me');
    const first = (await poll).body.result as Array<{
      update_id: number;
      message: { text: string; entities: unknown[] };
    }>;
    expect(first).toHaveLength(1);
    expect(first[0]!.message.text).toBe('/help me');
    expect(first[0]!.message.entities).toEqual([{ type: 'bot_command', offset: 0, length: 5 }]);
    // Not confirmed yet: delivered again. Confirmed by the next offset: gone.
    expect(((await call('getUpdates', { timeout: 0 })).body.result as unknown[]).length).toBe(1);
    expect((await call('getUpdates', { offset: first[0]!.update_id + 1, timeout: 0 })).body.result).toEqual(
      [],
    );
  });

  it('answers a second concurrent poll with 409 Conflict', async () => {
    const poll = call('getUpdates', { timeout: 2 });
    await new Promise((r) => setTimeout(r, 50));
    const second = await call('getUpdates', { timeout: 2 });
    expect(second.status).toBe(409);
    tg.userSends({ id: 5, first_name: 'U' }, 'hi');
    await poll;
  });

  it('checks HTML entities, lengths and callback data as Telegram does', async () => {
    expect(
      (
        await call('sendMessage', {
          chat_id: 5,
          text: '<b>bold</b> &amp; <code>x</code>',
          parse_mode: 'HTML',
        })
      ).status,
    ).toBe(200);
    expect(
      (await call('sendMessage', { chat_id: 11, text: 'a < b', parse_mode: 'HTML' })).body.description,
    ).toMatch(/can't parse entities/);
    expect(
      (await call('sendMessage', { chat_id: 12, text: '<b>open', parse_mode: 'HTML' })).body.description,
    ).toMatch(/Can't find end tag/);
    expect((await call('sendMessage', { chat_id: 6, text: 'x'.repeat(4097) })).body.description).toBe(
      'Bad Request: message is too long',
    );
    const kb = { inline_keyboard: [[{ text: 'b', callback_data: 'x'.repeat(65) }]] };
    expect((await call('sendMessage', { chat_id: 7, text: 'k', reply_markup: kb })).body.description).toBe(
      'Bad Request: BUTTON_DATA_INVALID',
    );
  });

  it('refuses an edit that changes nothing, and a callback query answered twice', async () => {
    const sent = (await call('sendMessage', { chat_id: 5, text: 'same' })).body.result as {
      message_id: number;
    };
    expect(
      (await call('editMessageText', { chat_id: 5, message_id: sent.message_id, text: 'same' })).body
        .description,
    ).toMatch(/message is not modified/);
    const q = tg.userPresses({ id: 5, first_name: 'U' }, tg.messages[0]!, 'data');
    expect((await call('answerCallbackQuery', { callback_query_id: q })).status).toBe(200);
    expect((await call('answerCallbackQuery', { callback_query_id: q })).body.description).toMatch(
      /query is too old/,
    );
  });

  it('rate-limits a chat with 429 and retry_after past its burst', async () => {
    expect((await call('sendMessage', { chat_id: 9, text: '1' })).status).toBe(200);
    expect((await call('sendMessage', { chat_id: 9, text: '2' })).status).toBe(200);
    const third = await call('sendMessage', { chat_id: 9, text: '3' });
    expect(third.status).toBe(429);
    expect(third.body.parameters?.retry_after).toBe(1);
    expect(tg.rateLimited).toBe(1);
    expect((await call('sendMessage', { chat_id: 10, text: 'another chat' })).status).toBe(200);
  });

  it('takes at most 20 messages and edits in any minute in a group, then 429 with retry_after', async () => {
    const group = await new TelegramEmulator({
      limits: { perChat: { burst: 100, perSecond: 100 }, global: { burst: 100, perSecond: 100 } },
    }).start();
    try {
      const send = (method: string, body: Record<string, unknown>) =>
        fetch(`${group.apiRoot}/bot${group.token}/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { result?: { message_id: number }; parameters?: { retry_after: number } },
        }));
      const first = await send('sendMessage', { chat_id: -100500, text: 'm1' });
      for (let k = 2; k <= 19; k++)
        expect((await send('sendMessage', { chat_id: -100500, text: `m${k}` })).status).toBe(200);
      // An edit counts like a message: the 20th.
      const edit = { chat_id: -100500, message_id: first.body.result!.message_id, text: 'edited' };
      expect((await send('editMessageText', edit)).status).toBe(200);
      const over = await send('sendMessage', { chat_id: -100500, text: 'm21' });
      expect(over.status).toBe(429);
      expect(over.body.parameters!.retry_after).toBeGreaterThanOrEqual(59);
      expect(over.body.parameters!.retry_after).toBeLessThanOrEqual(60);
      expect(group.busiestWindow(-100500, 60_000)).toBe(20);
      // A private chat and another group are not held back.
      expect((await send('sendMessage', { chat_id: 77, text: 'private' })).status).toBe(200);
      expect((await send('sendMessage', { chat_id: -100501, text: 'other group' })).status).toBe(200);
    } finally {
      await group.stop();
    }
  });

  it('takes a photo as multipart and checks it is a PNG', async () => {
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.writeUInt32BE(640, 16);
    png.writeUInt32BE(480, 20);
    const form = new FormData();
    form.set('chat_id', '5');
    form.set('photo', new Blob([png]), 'a.png');
    const res = await fetch(`${tg.apiRoot}/bot${tg.token}/sendPhoto`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    expect(tg.messages.at(-1)!.photo).toEqual({ bytes: 33, filename: 'a.png', width: 640, height: 480 });
    const bad = new FormData();
    bad.set('chat_id', '5');
    bad.set('photo', new Blob([Buffer.from('not a png at all, really not')]), 'b.png');
    expect(
      (await fetch(`${tg.apiRoot}/bot${tg.token}/sendPhoto`, { method: 'POST', body: bad })).status,
    ).toBe(400);
  });
});
