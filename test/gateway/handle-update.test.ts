import t from 'tap';
import type { TestContext } from '../helpers/tap.js';
import type { Alerter } from '../../src/alerts/alerter.js';
import { createUpdateHandler } from '../../src/gateway/handle-update.js';
import type { AuditEntry } from '../../src/observability/audit.js';
import { createRedactor } from '../../src/observability/redact.js';
import { RuleRouter } from '../../src/router/rules.js';
import type { IntentRouter } from '../../src/router/types.js';
import type { SkillInfo, SkillResult, SkillRunner } from '../../src/skills/types.js';
import { TelegramApi } from '../../src/telegram/api-client.js';
import { FakeTelegram } from '../../fakes/telegram.js';
import { captureLogger, TEST_TOKEN } from '../helpers/logger.js';

const OWNER = { id: 111, first_name: 'Ada' };
const STRANGER = { id: 666, first_name: 'Mallory' };

const noParams = { type: 'object' as const, properties: {}, required: [], additionalProperties: false as const };
const SKILLS: SkillInfo[] = [
  { name: 'check_workspace_files', description: 'List the files and folders in the training workspace.', parameters: noParams, file: 'system_skills.py', requiresApproval: false },
  { name: 'read_workspace_file', description: 'Read a text file inside the workspace.', parameters: { ...noParams, properties: { path: { type: 'string' } }, required: ['path'] }, file: 'system_skills.py', requiresApproval: false },
  { name: 'system_status', description: 'Report system load average and memory use.', parameters: noParams, file: 'system_skills.py', requiresApproval: false },
  { name: 'wipe_cache', description: 'Delete cached build artifacts.', parameters: noParams, file: 'ops.py', requiresApproval: true },
];

class RecordingSkills implements SkillRunner {
  readonly runs: Array<{ name: string; args: unknown }> = [];
  list() { return SKILLS; }
  get(name: string) { return SKILLS.find((s) => s.name === name); }
  async run(name: string, args: unknown): Promise<SkillResult> {
    this.runs.push({ name, args });
    if (!this.get(name)) return { skill: name, outcome: 'not_found', ok: false, output: `No skill named "${name}".`, truncated: false, durationMs: 0 };
    return { skill: name, outcome: 'ok', ok: true, output: `output of ${name}`, truncated: false, durationMs: 1 };
  }
}

/** What the stand-in approval service answers to an owner's tap on Approve. */
const APPROVED = { target: { chatId: OWNER.id }, text: 'output of wipe_cache' };

async function setup(t: TestContext, options: { shutdownSignal?: AbortSignal; router?: IntentRouter } = {}) {
  const fake = await FakeTelegram.start({ token: TEST_TOKEN });
  const log = captureLogger([TEST_TOKEN]);
  const api = new TelegramApi({ token: TEST_TOKEN, apiBase: fake.apiBase, logger: log.logger, redact: createRedactor([TEST_TOKEN]), maxAttempts: 2, sendRateLimits: { globalPerSecond: 1000, perChatPerSecond: 1000 } });
  const skills = new RecordingSkills();
  const audits: AuditEntry[] = [];
  const alerts: string[] = [];
  const alerter: Alerter = { alert: (text) => void alerts.push(text), flush: async () => {} };
  const approvals: Array<{ skill: string }> = [];
  const handler = createUpdateHandler({
    allowedUserIds: new Set([OWNER.id]),
    botUsername: 'skillgate_demo_bot',
    api,
    router: options.router ?? new RuleRouter(),
    skills,
    approvals: {
      request: async (input) => {
        approvals.push(input);
        return { skill: input.skill, outcome: 'pending_approval', ok: false, output: 'Approval requested.', truncated: false, durationMs: 0 };
      },
      handleCallback: async (query) => (query.data === 'approve:ok' ? APPROVED : undefined),
    },
    audit: { write: (e) => void audits.push(e) },
    alerter,
    logger: log.logger,
    shutdownSignal: options.shutdownSignal,
  });
  t.teardown(async () => {
    await api.close();
    await fake.close();
  });
  let replied = 0;
  const journal = { markReplied: () => void replied++ };
  const handle = (update: { update_id: number }) => handler({ updateId: update.update_id, payload: update }, journal);
  return { fake, log, skills, audits, alerts, approvals, handle, replied: () => replied };
}

t.test('the reference question runs check_workspace_files and replies with its output', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, 'OpenClaw, what files do we have in our training workspace?'));
  t.same(s.skills.runs, [{ name: 'check_workspace_files', args: {} }]);
  t.equal(s.fake.sent.at(-1)?.text, 'output of check_workspace_files');
  t.equal(s.replied(), 1, 'the reply is journaled');
  t.match(s.audits[0], { outcome: 'replied', route: 'rules', skills: ['check_workspace_files'], user_id: OWNER.id });
  t.ok(s.fake.callsOf('sendChatAction').length >= 1, 'typing shown while working');
  t.match(s.log.text(), /Received message from user_id: 111/);
  t.match(s.log.text(), /Reply dispatched/);
});

t.test('a stranger gets the security WARN and nothing else', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(STRANGER, '/run check_workspace_files'));
  t.equal(s.fake.sent.length, 0, 'no reply');
  t.equal(s.skills.runs.length, 0, 'no skill');
  t.equal(s.fake.callsOf('sendChatAction').length, 0, 'not even typing');
  const warn = s.log.lines.map((l) => JSON.parse(l)).find((l) => l.level === 40);
  t.equal(warn.msg, 'Security Filter: Unauthorized request from user_id: 666');
  t.match(s.audits[0], { outcome: 'unauthorized', user_id: 666 });
});

t.test('repeated attempts by a stranger raise one alert per window', async (t) => {
  const s = await setup(t);
  for (let i = 0; i < 6; i++) await s.handle(s.fake.textUpdate(STRANGER, 'hello?'));
  t.equal(s.alerts.length, 1);
  t.match(s.alerts[0], /user_id 666/);
});

t.test('a stranger pressing an inline button is refused the same way, and the button stops spinning', async (t) => {
  const s = await setup(t);
  await s.handle({ update_id: 50, callback_query: { id: 'cb1', from: { id: STRANGER.id }, data: 'approve:x', message: { message_id: 1, chat: { id: 1 } } } } as never);
  t.match(s.log.text(), /Security Filter: Unauthorized request from user_id: 666/);
  t.same(s.fake.calls.map((c) => [c.method, c.params]), [['answerCallbackQuery', { callback_query_id: 'cb1' }]], 'answered with nothing revealed');
});

t.test('a non-text message gets a short text-only reply', async (t) => {
  const s = await setup(t);
  await s.handle({ update_id: 7, message: { message_id: 7, from: { id: OWNER.id }, chat: { id: OWNER.id }, photo: [{ file_id: 'x' }] } } as never);
  t.match(s.fake.sent[0]?.text, /only understand text/);
  t.equal(s.skills.runs.length, 0);
});

t.test('edits and unknown update types are ignored without a reply', async (t) => {
  const s = await setup(t);
  await s.handle({ update_id: 8, edited_message: { message_id: 1, chat: { id: 1 }, text: 'x' } } as never);
  await s.handle({ update_id: 9, some_future_update: {} } as never);
  t.equal(s.fake.calls.length, 0);
  t.same(s.audits.map((a) => a.outcome), ['ignored', 'ignored']);
});

t.test('/whoami tells the user id, at once, without a typing indicator', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/whoami'));
  t.match(s.fake.sent[0]?.text, /111/);
  t.equal(s.fake.callsOf('sendChatAction').length, 0);
});

t.test('/skills lists names and descriptions, flagging approval', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/skills'));
  const text = s.fake.sent[0]!.text;
  for (const skill of SKILLS) t.match(text, skill.name);
  t.match(text, /Report system load/);
  t.match(text, /wipe_cache \[needs approval\]/);
});

t.test('/start and /help explain the commands; unknown commands point to /help', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/start'));
  await s.handle(s.fake.textUpdate(OWNER, '/help@skillgate_demo_bot'));
  await s.handle(s.fake.textUpdate(OWNER, '/frobnicate'));
  t.match(s.fake.sent[0]!.text, /\/run NAME/);
  t.match(s.fake.sent[1]!.text, /\/skills/);
  t.match(s.fake.sent[2]!.text, /Unknown command \/frobnicate/);
});

t.test('/run passes JSON arguments to the skill as data', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/run read_workspace_file {"path": "\\"; rm -rf ~"}'));
  t.same(s.skills.runs, [{ name: 'read_workspace_file', args: { path: '"; rm -rf ~' } }]);
});

t.test('/run refuses arguments that are not a JSON object', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/run read_workspace_file {path: x}'));
  await s.handle(s.fake.textUpdate(OWNER, '/run read_workspace_file [1]'));
  await s.handle(s.fake.textUpdate(OWNER, '/run'));
  t.equal(s.skills.runs.length, 0);
  t.match(s.fake.sent[0]!.text, /must be a JSON object/);
  t.match(s.fake.sent[1]!.text, /must be a JSON object/);
  t.match(s.fake.sent[2]!.text, /Usage: \/run NAME/);
});

t.test('/run of an unknown skill says so', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/run nope'));
  t.match(s.fake.sent[0]!.text, /nope failed: No skill named/);
});

t.test('a skill that needs approval is not run; the approval gate is asked', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/run wipe_cache'));
  t.equal(s.skills.runs.length, 0);
  t.same(s.approvals.map((a) => a.skill), ['wipe_cache']);
  t.equal(s.fake.sent.length, 0, 'the approval prompt is the answer; nothing more is sent');
  t.equal(s.replied(), 1, 'and it counts as the reply');
});

t.test('free text that needs arguments explains how to run the skill', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, 'read the file'));
  t.match(s.fake.sent[0]!.text, /read_workspace_file needs arguments \(path\)/);
  t.equal(s.skills.runs.length, 0);
});

t.test('free text that matches nothing gets the help text', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, 'zebra quantum'));
  t.match(s.fake.sent[0]!.text, /did not find a skill/);
});

t.test('a reply Telegram refuses with 403 is logged, not retried, not thrown', async (t) => {
  const s = await setup(t);
  s.fake.failNext('sendMessage', { status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
  await s.handle(s.fake.textUpdate(OWNER, '/whoami'));
  t.equal(s.replied(), 0);
  t.match(s.log.text(), /Reply rejected by Telegram/);
  t.match(s.audits[0], { outcome: 'reply_rejected', error: /blocked by the user/ });
});

t.test('a reply that cannot reach Telegram is thrown so the inbox retries', async (t) => {
  const s = await setup(t);
  s.fake.failNext('sendMessage', { status: 502 }, { status: 502 });
  await t.rejects(s.handle(s.fake.textUpdate(OWNER, '/whoami')));
  t.equal(s.audits.length, 0, 'a failed attempt is audited by the dispatcher once final, not per attempt');
});

t.test('work cut short by shutdown sends nothing and throws, so the update stays for the next start', async (t) => {
  const shutdown = new AbortController();
  shutdown.abort();
  const s = await setup(t, { shutdownSignal: shutdown.signal });
  await t.rejects(s.handle(s.fake.textUpdate(OWNER, '/whoami')), { code: 'SG_SHUTTING_DOWN' });
  t.equal(s.fake.sent.length, 0);
  t.equal(s.replied(), 0);
});

t.test('a command addressed to another bot is ignored; one addressed to us is answered', async (t) => {
  const s = await setup(t);
  await s.handle(s.fake.textUpdate(OWNER, '/whoami@someone_elses_bot'));
  t.equal(s.fake.sent.length, 0);
  t.equal(s.audits[0]?.outcome, 'ignored');
  await s.handle(s.fake.textUpdate(OWNER, '/whoami@SkillGate_Demo_Bot'));
  t.match(s.fake.sent[0]?.text, /111/);
});

const tapApprove = (updateId: number) =>
  ({ update_id: updateId, callback_query: { id: `cb${updateId}`, from: { id: OWNER.id }, data: 'approve:ok', message: { message_id: 1, chat: { id: OWNER.id, type: 'private' } } } }) as never;

t.test('an approved run answers through the same reply stage: sent, journaled, audited', async (t) => {
  const s = await setup(t);
  await s.handle(tapApprove(60));
  t.equal(s.fake.sent.at(-1)?.text, 'output of wipe_cache');
  t.equal(s.replied(), 1, 'the result is journaled like any reply');
  t.match(s.audits[0], { kind: 'callback_query', outcome: 'replied', user_id: OWNER.id });
});

t.test('an approved run\'s result that Telegram refuses for good is audited as reply_rejected, not thrown', async (t) => {
  const s = await setup(t);
  s.fake.failNext('sendMessage', { status: 403, body: { ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' } });
  await s.handle(tapApprove(61));
  t.equal(s.replied(), 0);
  t.match(s.audits[0], { kind: 'callback_query', outcome: 'reply_rejected', error: /blocked by the user/ });
});

t.test('a tap with no decision to tell sends nothing and journals nothing', async (t) => {
  const s = await setup(t);
  await s.handle({ update_id: 62, callback_query: { id: 'cb62', from: { id: OWNER.id }, data: 'approve:gone', message: { message_id: 1, chat: { id: OWNER.id, type: 'private' } } } } as never);
  t.equal(s.fake.sent.length, 0);
  t.equal(s.replied(), 0);
});

t.test('with the model, its own answer follows the approval prompt (it knows the call waits)', async (t) => {
  const model: IntentRouter = {
    kind: 'llm',
    route: async (ctx) => {
      const result = await ctx.runSkill('wipe_cache', {});
      return { text: `Tap Approve to run it (${result.outcome}).`, skills: ['wipe_cache'] };
    },
  };
  const s = await setup(t, { router: model });
  await s.handle(s.fake.textUpdate(OWNER, 'please wipe the cache'));
  t.same(s.approvals.map((a) => a.skill), ['wipe_cache']);
  t.equal(s.fake.sent.at(-1)?.text, 'Tap Approve to run it (pending_approval).');
  t.equal(s.replied(), 1);
});
