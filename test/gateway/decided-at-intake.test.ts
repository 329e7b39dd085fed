import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chatIdOf } from '../../src/telegram/chat-id.js';
import { committedRows, waitUntil } from '../inbox/helpers.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';

const EDITOR = { id: 111, is_bot: false, first_name: 'Ada' };
const edit = (updateId: number) => ({
  update_id: updateId,
  edited_message: { message_id: 7, from: EDITOR, chat: { id: 111, type: 'private' }, date: 0, edit_date: 1, text: 'edited' },
});

interface AuditLine {
  update_id: number;
  [field: string]: unknown;
}

t.test('an edit posted to a real gateway is decided at intake: 200, stored done, audited and counted as the handler would, never dispatched', async (t) => {
  const dir = t.testdir({ skills: {}, workspace: {} });
  const { gateway, telegram, log } = await startWebhookGateway(t, { dir, logLevel: 'debug' });
  const auditFile = path.join(dir, 'data/audit.log');
  const audit = (): AuditLine[] =>
    fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditLine) : [];
  const apiCallsBefore = telegram.calls.length;

  t.equal((await telegram.pushUpdate(edit(500))).status, 200, 'the edit is acknowledged');
  t.equal((await telegram.pushUpdate(edit(500))).status, 200, 'its re-delivery too');
  await waitUntil(() => audit().some((a) => a.update_id === 500), 5_000, 'the audit line');

  const rows = committedRows(gateway.store.location, 'SELECT state, payload, attempts FROM updates WHERE update_id = ?', 500);
  t.same(rows, [{ state: 'done', payload: null, attempts: 0 }], 'one row, done from the start, never claimed by the dispatcher');
  t.equal(gateway.store.pendingCount(), 0, 'nothing pending');
  t.same(gateway.store.openSince(0), [], 'nothing open');
  t.same(telegram.calls.slice(apiCallsBefore).map((c) => c.method), [], 'no sendMessage, no Bot API call at all');
  t.match(log.text(), /duplicate update acknowledged and ignored/, 'the re-delivery logged as a duplicate');

  // The same edit stored as an older run (or the poller) stored it: the handler decides it. Both
  // paths must leave the same audit line, log lines and metrics.
  await gateway.store.accept(501, chatIdOf(edit(501)), JSON.stringify(edit(501)));
  await waitUntil(() => audit().some((a) => a.update_id === 501), 5_000, 'the handler audit line');
  const lines = audit();
  t.equal(lines.filter((a) => a.update_id === 500).length, 1, 'one audit line for the edit and its re-delivery');
  const comparable = (a: AuditLine | undefined) => {
    const { ts, duration_ms, update_id, ...rest } = a!;
    t.match(ts, /^\d{4}-\d\d-\d\dT/, 'a timestamp');
    t.type(duration_ms, 'number');
    return rest;
  };
  const atIntake = comparable(lines.find((a) => a.update_id === 500));
  t.same(atIntake, { chat_id: null, user_id: null, kind: 'other', skills: [], outcome: 'ignored' }, 'the audit line of an ignored update type');
  t.same(atIntake, comparable(lines.find((a) => a.update_id === 501)), 'the line the handler writes for it');

  const ignoredLogs = log.lines.map((l) => JSON.parse(l) as { level: number; msg: string; updateId?: number }).filter((l) => l.msg === 'Update type ignored');
  t.same(ignoredLogs.map((l) => [l.level, l.updateId]), [[20, 500], [20, 501]], 'the same debug line on both paths');
  const metrics = await gateway.metrics.registry.metrics();
  t.match(metrics, /skillgate_updates_total\{outcome="accepted"\} 1\n/, 'the webhook counted one accepted');
  t.match(metrics, /skillgate_updates_total\{outcome="duplicate"\} 1\n/, 'and one duplicate');
  t.match(metrics, /skillgate_updates_total\{outcome="ignored"\} 2\n/, 'ignored: once at intake, once by the handler');
  t.match(metrics, /skillgate_update_processing_seconds_count 2\n/, 'both observed in the processing histogram');
});
