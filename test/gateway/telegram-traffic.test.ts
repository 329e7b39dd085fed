import t from 'tap';
import { loadFixtures, startTrafficGateway } from './traffic-helpers.js';

const TEXT_ONLY = /only understand text messages/;
const FORWARDED = /forwarded message, so I did not act on it/;
const fixtures = loadFixtures();

t.test('every update shape from the corpus gets 200 and exactly the Bot API calls it should', async (t) => {
  const { deliver, alerts, fake } = await startTrafficGateway(t);
  t.ok(fixtures.length >= 60, `${fixtures.length} shapes`);
  for (const fixture of fixtures) {
    await t.test(fixture.name, async (t) => {
      const { status, calls, logs } = await deliver(fixture.update);
      t.equal(status, 200, 'accepted');
      const { expect } = fixture;
      const message = fixture.update.message as { message_id: number } | undefined;
      if (expect.typing) await fake.waitFor(() => calls().some((c) => c.method === 'sendChatAction'), 5_000, 'typing');
      const sends = calls().filter((c) => c.method === 'sendMessage');
      const other = calls().filter((c) => !['sendMessage', 'sendChatAction'].includes(c.method));
      if (expect.callback) {
        t.same(calls().map((c) => c.method), ['answerCallbackQuery'], 'answered, nothing else (no keyboard removal)');
        const params = calls()[0]?.params ?? {};
        t.equal(params.text, undefined, 'the answer reveals nothing');
      } else if (expect.reply === null || expect.reply === undefined) {
        t.same(calls().map((c) => c.method), [], 'no Bot API call at all');
      } else {
        t.equal(sends.length, 1, 'one reply');
        t.same(other.map((c) => c.method), [], 'no other calls');
        const sent = sends[0]!.params;
        const pattern = expect.reply === 'text_only' ? TEXT_ONLY : expect.reply === 'forwarded' ? FORWARDED : new RegExp(expect.reply);
        t.match(String(sent.text), pattern, 'the expected reply');
        t.same(sent.link_preview_options, { is_disabled: true }, 'link previews off');
        if (expect.attached) t.same(sent.reply_parameters, { message_id: message!.message_id, allow_sending_without_reply: true }, 'attached to the question');
        else t.equal(sent.reply_parameters, undefined, 'not attached (private chat)');
        t.equal(sent.message_thread_id, expect.thread, expect.thread ? 'in the topic' : 'no topic');
        for (const action of calls().filter((c) => c.method === 'sendChatAction')) {
          t.equal(action.params.message_thread_id, expect.thread, 'typing shown in the same topic');
        }
      }
      if (expect.typing) t.ok(calls().some((c) => c.method === 'sendChatAction'), 'typing shown while the skill ran');
      const warns = logs().filter((l) => l.level >= 40);
      if (expect.warn) t.match(warns.map((w) => w.msg), [/Security Filter: Unauthorized request from user_id: 666/]);
      else t.same(warns.map((w) => w.msg), [], 'no WARN or worse');
    });
  }
  t.same(alerts, [], 'no alert from ordinary traffic');
});
