import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';
import { waitUntil } from '../inbox/helpers.js';
import { DECORATOR } from '../skills/helpers.js';

const OWNER = { id: 111, first_name: 'Ada' };
const SKILLS = `${DECORATOR}
@skill("Write a note file into the workspace.", approval=True)
def write_note(path: str, text: str = "hello") -> str:
    with open(path, "w") as f:
        f.write(text)
    return f"wrote {path}"

@skill("Say hello.")
def hello() -> str:
    return "hello from python"

@skill("Print the contents of leak.txt.")
def leak() -> str:
    with open("leak.txt") as f:
        return f.read()
`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('a whole gateway in one process: approvals, readiness, metrics, audit', async (t) => {
  const dir = t.testdir({ skills: { 'notes.py': SKILLS }, workspace: {} });
  const adminPort = await freePort();
  const { telegram: fake, log } = await startWebhookGateway(t, { dir, env: { ADMIN_PORT: String(adminPort) } });
  const say = async (text: string) => {
    const before = fake.sent.length;
    const res = await fake.pushUpdate(fake.textUpdate(OWNER, text));
    t.equal(res.status, 200);
    return (await fake.waitForMessages(before + 1))[before]!;
  };

  t.test('a skill needing approval runs only after Approve, and the keyboard is removed', async (t) => {
    const ask = await say('/run write_note {"path": "note.txt", "text": "hi"}');
    t.notOk(fs.existsSync(path.join(dir, 'workspace/note.txt')), 'not run yet');
    const keyboard = ask.reply_markup as { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };
    const approve = keyboard.inline_keyboard.flat().find((b) => b.callback_data.startsWith('approve:'))!;
    t.ok(approve, 'an Approve button');
    const before = fake.sent.length;
    const res = await fake.pushUpdate({
      update_id: 90_001,
      callback_query: { id: 'cb-1', from: { id: OWNER.id, is_bot: false, first_name: 'Ada' }, data: approve.callback_data, message: { message_id: ask.message_id, chat: { id: OWNER.id }, date: 0 } },
    });
    t.equal(res.status, 200);
    await fake.waitFor(() => fake.sent.slice(before).some((m) => /wrote note\.txt/.test(m.text)), 10_000, 'the skill result');
    t.equal(fake.sent.length, before + 1, 'one message: the result');
    t.equal(fs.readFileSync(path.join(dir, 'workspace/note.txt'), 'utf8'), 'hi');
    t.ok(fake.callsOf('editMessageReplyMarkup').length >= 1, 'keyboard removed');
    t.ok(fake.callsOf('answerCallbackQuery').length >= 1, 'button answered');
  });

  t.test('invalid arguments are refused before anyone is asked to approve', async (t) => {
    const reply = await say('/run write_note {"text": 5}');
    t.match(reply.text, /write_note failed: .*path/);
    t.notOk(reply.reply_markup, 'no keyboard');
  });

  t.test('free text runs a matching skill through the real Python host', async (t) => {
    const reply = await say('say hello please');
    t.equal(reply.text, 'hello from python');
  });

  t.test('readiness, metrics and the audit log reflect the traffic', async (t) => {
    const ready = await request(`http://127.0.0.1:${adminPort}/readyz`);
    t.equal(ready.statusCode, 200);
    t.match(await ready.body.json(), { status: 'ready', reasons: [] });
    const metrics = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
    t.match(metrics, /skillgate_updates_total\{outcome="accepted"\} \d+/);
    t.match(metrics, /skillgate_skill_runs_total\{skill="hello",outcome="ok"\} 1/);
    t.match(metrics, /skillgate_telegram_api_calls_total\{method="sendMessage",status="200"\}/);
    t.match(metrics, /skillgate_update_processing_seconds_bucket/);
    t.match(metrics, /skillgate_inbox_pending/);
    // Audit lines are written together shortly after the reply (within 20 ms), not with it.
    const readAudit = () => {
      const file = path.join(dir, 'data/audit.log');
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    };
    await waitUntil(() => readAudit().some((a) => a.skills?.includes('hello') && a.outcome === 'replied'), 5_000, 'the audit line of the hello run');
    const audit = readAudit();
    t.ok(audit.some((a) => a.skills?.includes('hello') && a.outcome === 'replied'));
    t.ok(audit.every((a) => typeof a.update_id === 'number' && typeof a.duration_ms === 'number'));
  });

  t.test('a new skill file is picked up without a restart', async (t) => {
    fs.writeFileSync(path.join(dir, 'skills/extra.py'), `${DECORATOR}\n@skill("Tell the time of the moon.")\ndef moon_time() -> str:\n    return "moon o'clock"\n`);
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes('moon_time'); i++) {
      listed = (await say('/skills')).text;
      if (!listed.includes('moon_time')) await new Promise((r) => setTimeout(r, 200));
    }
    t.match(listed, /moon_time/);
  });

  t.test('a skill that prints a configured secret has it redacted before it reaches the chat', async (t) => {
    fs.writeFileSync(path.join(dir, 'workspace/leak.txt'), `token=${TEST_TOKEN} secret=${TEST_SECRET}`);
    const reply = await say('/run leak');
    t.equal(reply.text, 'token=[REDACTED] secret=[REDACTED]');
  });

  t.test('secrets never reached the log', async (t) => {
    t.notMatch(log.text(), TEST_TOKEN.split(':')[1]!);
    t.notMatch(log.text(), TEST_SECRET);
  });
});
