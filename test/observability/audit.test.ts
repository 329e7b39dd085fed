import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AuditLog, type AuditEntry } from '../../src/observability/audit.js';
import { createRedactor } from '../../src/observability/redact.js';
import { captureLogger, TEST_TOKEN } from '../helpers/logger.js';

function entry(updateId: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    ts: '2025-01-01T00:00:00.000Z',
    update_id: updateId,
    chat_id: 7,
    user_id: 42,
    kind: 'message',
    text_preview: 'what files do we have?',
    route: 'rules',
    skills: ['check_workspace_files'],
    outcome: 'replied',
    duration_ms: 12,
    ...over,
  };
}

const readLines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);

t.test('each finished update becomes one JSON line in DATA_DIR/audit.log', async (t) => {
  const dir = path.join(t.testdir(), 'data');
  const audit = new AuditLog({ dir });
  t.teardown(() => audit.close());
  audit.write(entry(1));
  audit.write(entry(2, { outcome: 'failed', error: 'skill timed out' }));
  audit.flush();
  t.same(readLines(path.join(dir, 'audit.log')), [entry(1), entry(2, { outcome: 'failed', error: 'skill timed out' })]);
});

t.test('the log rotates by size to audit.log.1 ... audit.log.N and keeps only N old files', async (t) => {
  const dir = t.testdir();
  const lineBytes = JSON.stringify(entry(1000)).length + 1;
  const audit = new AuditLog({ dir, maxBytes: lineBytes * 3, keep: 2 });
  t.teardown(() => audit.close());
  for (let id = 1000; id < 1010; id++) audit.write(entry(id));
  audit.flush();
  const files = fs.readdirSync(dir).sort();
  t.same(files, ['audit.log', 'audit.log.1', 'audit.log.2']);
  t.same(readLines(path.join(dir, 'audit.log')).map((e) => e.update_id), [1009]);
  t.same(readLines(path.join(dir, 'audit.log.1')).map((e) => e.update_id), [1006, 1007, 1008]);
  t.same(readLines(path.join(dir, 'audit.log.2')).map((e) => e.update_id), [1003, 1004, 1005]);
  for (const f of files) t.ok(fs.statSync(path.join(dir, f)).size <= lineBytes * 3, `${f} within maxBytes`);
});

t.test('an existing log is appended to and its size counts toward rotation', async (t) => {
  const dir = t.testdir();
  const lineBytes = JSON.stringify(entry(1)).length + 1;
  const first = new AuditLog({ dir, maxBytes: lineBytes * 2 });
  first.write(entry(1));
  first.close();
  const second = new AuditLog({ dir, maxBytes: lineBytes * 2 });
  t.teardown(() => second.close());
  second.write(entry(2));
  second.write(entry(3));
  second.flush();
  t.same(readLines(path.join(dir, 'audit.log.1')).map((e) => e.update_id), [1, 2]);
  t.same(readLines(path.join(dir, 'audit.log')).map((e) => e.update_id), [3]);
});

t.test('long previews are truncated and secrets are redacted', async (t) => {
  const dir = t.testdir();
  const audit = new AuditLog({ dir, redact: createRedactor([TEST_TOKEN]) });
  t.teardown(() => audit.close());
  audit.write(entry(1, { text_preview: 'x'.repeat(5000), error: `POST https://api.telegram.org/bot${TEST_TOKEN}/sendMessage failed` }));
  audit.flush();
  const raw = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8');
  t.notMatch(raw, TEST_TOKEN.split(':')[1]!);
  t.match(raw, /REDACTED/);
  t.ok(readLines(path.join(dir, 'audit.log'))[0]!.text_preview!.length <= 201);
});

t.test('a secret is redacted in whichever string field it sits, the skills list too, and the caller keeps its entry', async (t) => {
  const dir = t.testdir();
  const audit = new AuditLog({ dir, redact: createRedactor([TEST_TOKEN]) });
  t.teardown(() => audit.close());
  const leaked = `my token is ${TEST_TOKEN}, "quoted"`;
  const written = entry(1, { text_preview: leaked, route: `llm ${TEST_TOKEN}`, skills: ['ping', TEST_TOKEN], kind: TEST_TOKEN, error: leaked });
  audit.write(written);
  audit.flush();
  const raw = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8');
  t.notMatch(raw, TEST_TOKEN.split(':')[1]!);
  const [line] = readLines(path.join(dir, 'audit.log'));
  t.match(line, { text_preview: 'my token is [REDACTED], "quoted"', route: 'llm [REDACTED]', skills: ['ping', '[REDACTED]'], kind: '[REDACTED]', update_id: 1 });
  t.equal(written.text_preview, leaked, 'the entry handed in is not changed');
});

t.test('a write that cannot reach the disk never throws, is reported once, and writing recovers', async (t) => {
  const root = t.testdir({ data: 'a file where the directory should be' });
  const log = captureLogger();
  const dir = path.join(root, 'data');
  const audit = new AuditLog({ dir, logger: log.logger });
  t.teardown(() => audit.close());
  t.doesNotThrow(() => {
    audit.write(entry(1));
    audit.write(entry(2));
    audit.flush();
  });
  t.equal(log.lines.filter((l) => l.includes('Audit log write failed')).length, 1);
  fs.rmSync(dir);
  audit.write(entry(3));
  audit.flush();
  t.same(readLines(path.join(dir, 'audit.log')).map((e) => e.update_id), [3]);
});

t.test('writes after close are ignored', async (t) => {
  const dir = t.testdir();
  const audit = new AuditLog({ dir });
  audit.write(entry(1));
  audit.close();
  audit.close();
  audit.write(entry(2));
  t.same(readLines(path.join(dir, 'audit.log')).map((e) => e.update_id), [1]);
});

t.test('a few lines are written together within 20 ms, 32 KiB of them at the end of the turn; close writes what is still buffered', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'audit.log');
  const written = () => (fs.existsSync(file) ? readLines(file).map((e) => e.update_id) : []);
  const audit = new AuditLog({ dir });
  audit.write(entry(1));
  audit.write(entry(2));
  t.same(written(), [], 'nothing written by write() itself');
  await new Promise((resolve) => setTimeout(resolve, 60));
  t.same(written(), [1, 2], 'one write within 20 ms of the first line');
  const many = Array.from({ length: 300 }, (_, i) => 10 + i);
  for (const id of many) audit.write(entry(id, { text_preview: 'x'.repeat(150) }));
  t.same(written(), [1, 2], 'nothing written during the turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(written(), [1, 2, ...many], 'over 32 KiB buffered: written at the end of the turn');
  audit.write(entry(3));
  audit.close(); // graceful shutdown: the buffered line is not lost
  t.same(written(), [1, 2, ...many, 3]);
});
