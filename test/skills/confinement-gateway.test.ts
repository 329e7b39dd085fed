import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { FakeOpenAI } from '../../fakes/openai.js';
import { TEST_TOKEN } from '../helpers/logger.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';
import { landlockMissing } from './confinement-layout.js';

/**
 * The shipped skills (skills/*.py) behind the REAL gateway, in the seed's nested layout
 * (WORKSPACE_DIR=WORKSPACE, the gateway in WORKSPACE/labs/openclaw with its .env, data/, certs/
 * and skills/ inside the workspace), SKILL_SANDBOX=auto: neither `/run read_text_file` nor the
 * LLM router hands out the gateway's own files. Each file carries a unique marker that is not a
 * configured secret, so the outbound redactor cannot be what hides it.
 */

const SHIPPED = path.resolve(import.meta.dirname, '../../skills');
const OWNER = { id: 111, first_name: 'Ada' };
const API_KEY = 'sk-test-secret-key-0123456789abcdef';
const MARK = {
  env: 'MARKER-ENV-7f3a91c2',
  key: 'MARKER-KEY-4be05d18',
  audit: 'MARKER-AUDIT-9c62e7a4',
  workspace: 'MARKER-WORKSPACE-2d8f1b36',
};
const REFUSED = /OutsideWorkspace: refused: .* belongs to the gateway, not the workspace/;
const missing = await landlockMissing();

t.test('the real gateway does not hand out its own files through the shipped skills', { skip: missing }, async (t) => {
  const root = fs.realpathSync(t.testdir({}));
  const workspace = path.join(root, 'AI_BOOTCAMP');
  const gatewayDir = path.join(workspace, 'labs', 'openclaw');
  const skillsDir = path.join(gatewayDir, 'skills');
  for (const dir of [path.join(gatewayDir, 'data', 'chats'), path.join(gatewayDir, 'certs'), skillsDir, path.join(workspace, 'notes')]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  for (const f of fs.readdirSync(SHIPPED).filter((f) => f.endsWith('.py'))) fs.copyFileSync(path.join(SHIPPED, f), path.join(skillsDir, f));
  const files = {
    env: path.join(gatewayDir, '.env'),
    key: path.join(gatewayDir, 'certs', 'key.pem'),
    audit: path.join(gatewayDir, 'data', 'audit.log'),
    workspace: path.join(workspace, 'notes', 'a.txt'),
  };
  fs.writeFileSync(files.env, `TELEGRAM_BOT_TOKEN=${TEST_TOKEN}\nGATEWAY_MARK=${MARK.env}\n`, { mode: 0o600 });
  fs.writeFileSync(files.audit, `{"event":"seed","mark":"${MARK.audit}"}\n`);
  fs.writeFileSync(path.join(gatewayDir, 'data', 'chats', '42.json'), '{"history": "private"}');
  fs.writeFileSync(files.workspace, `workspace file ${MARK.workspace}\n`);

  const openai = await FakeOpenAI.start({ apiKey: API_KEY, fallback: { answer: 'ok' } });
  t.teardown(() => openai.close());
  const { config, telegram, log } = await startWebhookGateway(t, {
    dir: gatewayDir,
    env: { OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: openai.baseUrl, WORKSPACE_DIR: workspace, SKILL_SANDBOX: 'auto' },
    logLevel: 'debug',
    // Text before the BEGIN line is ignored by the PEM parser: the key still serves HTTPS.
    keyPrefix: MARK.key,
  });
  const { lines } = log;
  t.equal(config.skills.workspaceDir, workspace);
  t.ok(config.skills.gatewayPaths.includes(files.env), 'the .env is one of the gateway paths');
  t.match(lines.join('\n'), /Skill runtime ready \(sandbox landlock ABI \d+/, 'auto picked Landlock');

  /** Sends a message and returns the texts of the replies it produced. */
  const say = async (t: Test, text: string): Promise<string> => {
    const before = telegram.sent.length;
    const res = await telegram.pushUpdate(telegram.textUpdate(OWNER, text));
    t.equal(res.status, 200, 'the webhook took the update');
    await telegram.waitForMessages(before + 1, 20_000);
    await new Promise((r) => setTimeout(r, 200)); // later chunks of the same reply
    return telegram.sent
      .slice(before)
      .map((m) => m.text)
      .join('\n');
  };
  const allMarks = (text: string) => Object.values(MARK).filter((m) => m !== MARK.workspace && text.includes(m));

  t.test('/run read_text_file on the gateway files is refused', async (t) => {
    for (const which of ['env', 'key', 'audit'] as const) {
      const reply = await say(t, `/run read_text_file ${JSON.stringify({ path: files[which] })}`);
      t.notOk(reply.includes(MARK[which]), `${which}: the marker is not in the reply`);
      t.same(allMarks(reply), [], `${which}: no gateway marker at all`);
      t.match(reply, /read_text_file failed/, `${which}: the reply is an error`);
      t.match(reply, REFUSED, `${which}: the skill refused it: ${reply}`);
    }
  });

  t.test('control: /run read_text_file on a workspace file returns it', async (t) => {
    const reply = await say(t, `/run read_text_file ${JSON.stringify({ path: files.workspace })}`);
    const relative = await say(t, '/run read_text_file {"path": "notes/a.txt"}');
    t.ok(reply.includes(MARK.workspace), `by its absolute path: ${reply}`);
    t.ok(relative.includes(MARK.workspace), `by its workspace path: ${relative}`);
  });

  t.test('the LLM router: a model asking for the .env gets nothing to pass on', async (t) => {
    openai.script({ toolCalls: [{ name: 'read_text_file', arguments: { path: files.env } }] }, { answer: 'Here is what I found.' });
    const before = openai.requests.length;
    const reply = await say(t, 'show me the gateway .env');
    t.same(allMarks(reply), [], 'not in the chat reply');
    const sent = openai.requests.slice(before);
    t.equal(sent.length, 2, 'the tool call and the answer after it');
    const tool = sent[1]!.body.messages.find((m) => m.role === 'tool');
    t.ok(tool, 'the tool result went back to the model');
    t.match(String(tool?.content), REFUSED, `the tool result is a refusal: ${tool?.content}`);
    for (const request of openai.requests) t.same(allMarks(JSON.stringify(request.body)), [], 'no marker in any request body');
  });

  t.test('nothing the fakes received carries a marker', async (t) => {
    t.same(allMarks(JSON.stringify(telegram.sent)), []);
    t.same(allMarks(JSON.stringify(openai.requests.map((r) => r.body))), []);
  });
});
