import t from 'tap';
import { chatIdOf } from '../../src/telegram/chat-id.js';

const chat = { chat: { id: -100123, type: 'supergroup' } };

t.test('chatIdOf finds the chat of every update type that has one', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['message', { update_id: 1, message: { message_id: 1, ...chat } }],
    ['edited_message', { update_id: 1, edited_message: { message_id: 1, ...chat } }],
    ['channel_post', { update_id: 1, channel_post: { message_id: 1, ...chat } }],
    ['edited_channel_post', { update_id: 1, edited_channel_post: { message_id: 1, ...chat } }],
    ['business_message', { update_id: 1, business_message: { message_id: 1, ...chat } }],
    ['callback_query.message.chat', { update_id: 1, callback_query: { id: 'q', from: { id: 5 }, message: { message_id: 1, ...chat } } }],
    ['my_chat_member', { update_id: 1, my_chat_member: { ...chat, from: { id: 5 } } }],
    ['chat_member', { update_id: 1, chat_member: { ...chat, from: { id: 5 } } }],
    ['chat_join_request', { update_id: 1, chat_join_request: { ...chat, from: { id: 5 } } }],
    ['message_reaction', { update_id: 1, message_reaction: { ...chat, message_id: 1 } }],
    ['chat_boost', { update_id: 1, chat_boost: { ...chat } }],
  ];
  for (const [name, update] of cases) t.equal(chatIdOf(update), -100123, name);
});

t.test('chatIdOf gives null for updates without a chat and for malformed input', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['inline_query', { update_id: 1, inline_query: { id: 'i', from: { id: 5 }, query: 'x' } }],
    ['callback from an inline message', { update_id: 1, callback_query: { id: 'q', from: { id: 5 }, inline_message_id: 'm' } }],
    ['poll', { update_id: 1, poll: { id: 'p' } }],
    ['unknown type', { update_id: 1, something_new: { chat: 'not an object' } }],
    ['chat id not a number', { update_id: 1, message: { chat: { id: '42' } } }],
    ['null', null],
    ['array', [1, 2]],
    ['string', 'message'],
  ];
  for (const [name, update] of cases) t.equal(chatIdOf(update), null, name);
});
