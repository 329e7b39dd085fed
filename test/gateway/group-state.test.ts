import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { waitUntil } from '../inbox/helpers.js';
import { FORUM_ID, NEW_SUPERGROUP_ID, OLD_GROUP_ID, OWNER_ID, startTrafficGateway } from './traffic-helpers.js';

const OWNER = { id: OWNER_ID, is_bot: false, first_name: 'Ada' };
const BOT_ID = 123456789;
const OLD_GROUP = { id: OLD_GROUP_ID, title: 'Ops', type: 'group' };
const NEW_GROUP = { id: NEW_SUPERGROUP_ID, title: 'Ops', type: 'supergroup' };
const FORUM = { id: FORUM_ID, title: 'Projects', type: 'supergroup', is_forum: true };

let nextId = 700_000;
const message = (chat: object, fields: object) => {
  const id = nextId++;
  return { update_id: id, message: { message_id: id, from: OWNER, chat, date: 1764680000, ...fields } };
};
const command = (chat: object, text: string, extra: object = {}) =>
  message(chat, { text, entities: [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]!.length }], ...extra });
const tap = (chat: object, messageId: number, data: string) => ({
  update_id: nextId++,
  callback_query: { id: `cb-${nextId}`, from: OWNER, chat_instance: '1', data, message: { message_id: messageId, from: { id: BOT_ID, is_bot: true, first_name: 'Bot' }, chat, date: 1764680000 } },
});
const approveData = (markup: unknown) =>
  (markup as { inline_keyboard: Array<Array<{ callback_data: string }>> }).inline_keyboard.flat().find((b) => b.callback_data.startsWith('approve:'))!.callback_data;

t.test('an approval in a forum topic: the prompt and the result stay in the topic, attached to the question', async (t) => {
  const { deliver, fake, dir } = await startTrafficGateway(t);
  const ask = command(FORUM, '/run@skillgate_demo_bot write_note {"path": "topic.txt"}', { message_thread_id: 77, is_topic_message: true });
  const asked = await deliver(ask);
  const prompt = asked.calls().find((c) => c.method === 'sendMessage')!.params;
  t.match(prompt.text, /Approve running write_note/);
  t.equal(prompt.message_thread_id, 77);
  t.same(prompt.reply_parameters, { message_id: ask.message.message_id, allow_sending_without_reply: true });
  t.same(prompt.link_preview_options, { is_disabled: true });
  const promptId = fake.sent.at(-1)!.message_id;
  const approved = await deliver(tap(FORUM, promptId, approveData(prompt.reply_markup)));
  t.same(approved.calls().map((c) => c.method), ['answerCallbackQuery', 'editMessageReplyMarkup', 'sendMessage']);
  const result = approved.calls().at(-1)!.params;
  t.match(result.text, /wrote topic\.txt/);
  t.equal(result.message_thread_id, 77, 'the approved run answers in the topic');
  t.same(result.reply_parameters, { message_id: ask.message.message_id, allow_sending_without_reply: true });
  t.equal(fs.readFileSync(path.join(dir, 'workspace/topic.txt'), 'utf8'), 'hi');
});

t.test('a tap on a button of ours that is no longer pending is answered and its keyboard removed; a foreign one is left alone', async (t) => {
  const { deliver } = await startTrafficGateway(t);
  const stale = await deliver(tap(FORUM, 5, 'approve:AAAAAAAAAAAAAAAA'));
  t.same(stale.calls().map((c) => c.method), ['answerCallbackQuery', 'editMessageReplyMarkup']);
  const foreign = await deliver(tap(FORUM, 6, 'like:42'));
  t.same(foreign.calls().map((c) => c.method), ['answerCallbackQuery']);
});

t.test('a group upgraded to a supergroup: replies follow it, approvals move, the new id stays allowed', async (t) => {
  const { deliver, fake, dir, log } = await startTrafficGateway(t);
  // Before the upgrade: an approval asked in the old group.
  const ask = await deliver(command(OLD_GROUP, '/run@skillgate_demo_bot write_note {"path": "moved.txt"}'));
  const prompt = ask.calls().find((c) => c.method === 'sendMessage')!.params;
  t.equal(prompt.chat_id, OLD_GROUP_ID);
  const data = approveData(prompt.reply_markup);

  // Telegram upgrades the group; a reply still addressed to the old id is refused with the new one.
  fake.migrateChat(OLD_GROUP_ID, NEW_SUPERGROUP_ID);
  const late = await deliver(command(OLD_GROUP, '/whoami'));
  const sends = late.calls().filter((c) => c.method === 'sendMessage');
  t.same(sends.map((c) => c.params.chat_id), [OLD_GROUP_ID, NEW_SUPERGROUP_ID], 'refused at the old id, sent to the new one');
  t.match(fake.sent.at(-1), { chat_id: NEW_SUPERGROUP_ID, text: /user id is 111/ });

  // Both service messages of the upgrade: nothing is sent for either.
  const to = await deliver(message(OLD_GROUP, { migrate_to_chat_id: NEW_SUPERGROUP_ID }));
  t.same(to.calls(), []);
  const from = await deliver({ ...message(NEW_GROUP, { migrate_from_chat_id: OLD_GROUP_ID }) });
  t.same(from.calls(), []);
  t.match(log.text(), /Group -4001 was upgraded to supergroup -1004001001001/);
  t.same(JSON.parse(fs.readFileSync(path.join(dir, 'data/chat-migrations.json'), 'utf8')).moves, [[OLD_GROUP_ID, NEW_SUPERGROUP_ID]]);

  // The supergroup is allowed because the group it came from was.
  const q = command(NEW_GROUP, '/whoami@skillgate_demo_bot');
  const whoami = await deliver(q);
  t.match(whoami.calls().find((c) => c.method === 'sendMessage')?.params, {
    chat_id: NEW_SUPERGROUP_ID,
    text: /111/,
    reply_parameters: { message_id: q.message.message_id },
  });

  // The pending approval followed the chat: a tap in the supergroup runs it there.
  const approved = await deliver(tap(NEW_GROUP, 1, data));
  const result = approved.calls().filter((c) => c.method === 'sendMessage').at(-1)?.params;
  t.match(result, { chat_id: NEW_SUPERGROUP_ID, text: /wrote moved\.txt/ });
  t.equal(result?.reply_parameters, undefined, 'message ids do not carry over to the supergroup');
});

t.test('getMe failing at start: the gateway starts, retries with backoff, and until then /cmd@name in a group is not answered', async (t) => {
  const faults = Array.from({ length: 5 }, () => ({ status: 502 }));
  const { deliver, log } = await startTrafficGateway(t, { getMeFaults: faults });
  t.match(log.text(), /Could not reach the Telegram Bot API at start/);
  const GROUP = { id: -1002003004005, title: 'Ops team', type: 'supergroup' };
  const early = await deliver(command(GROUP, '/whoami@skillgate_demo_bot'));
  if (!/Connection verified/.test(log.text())) t.same(early.calls(), [], 'fail closed: not known to be ours yet');
  const bare = await deliver(command(GROUP, '/whoami'));
  t.match(bare.calls().find((c) => c.method === 'sendMessage')?.params.text, /111/, 'a bare command is still ours');
  await waitUntil(() => /Connection verified/.test(log.text()), 20_000, 'getMe to succeed');
  t.match(log.text(), /Connection verified with the Telegram Bot API: @skillgate_demo_bot \(after 2 attempts, \d+ ms\)/);
  const later = await deliver(command(GROUP, '/whoami@skillgate_demo_bot'));
  t.match(later.calls().find((c) => c.method === 'sendMessage')?.params.text, /111/, 'answered once the username is known');
  const other = await deliver(command(GROUP, '/whoami@poll_helper_bot'));
  t.same(other.calls(), [], 'another bot\'s command is still ignored');
});
