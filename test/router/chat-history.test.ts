import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ChatHistory, trimHistory, type HistoryMessage } from '../../src/router/chat-history.js';
import { captureLogger } from '../helpers/logger.js';

const user = (content: string): HistoryMessage => ({ role: 'user', content });
const answer = (content: string): HistoryMessage => ({ role: 'assistant', content });
const callMsg = (...ids: string[]): HistoryMessage => ({
  role: 'assistant',
  content: null,
  tool_calls: ids.map((id) => ({ id, type: 'function', function: { name: 'check_workspace_files', arguments: '{}' } })),
});
const toolMsg = (id: string, content = 'out'): HistoryMessage => ({ role: 'tool', tool_call_id: id, content });

function history(t: Test, limits: { maxMessages?: number; maxChars?: number } = {}) {
  const dataDir = t.testdir();
  const log = captureLogger();
  const make = () => new ChatHistory({ dataDir, maxMessages: limits.maxMessages ?? 20, maxChars: limits.maxChars ?? 16_000, logger: log.logger });
  return { dataDir, log, make, store: make() };
}

t.test('a chat with no file has an empty history', async (t) => {
  const { store } = history(t);
  t.same(await store.load(5), []);
});

t.test('appended turns are stored in DATA_DIR/chats/<chatId>.json and survive a new instance', async (t) => {
  const { store, make, dataDir } = history(t);
  await store.append(-100123, [user('hi'), answer('hello')]);
  await store.append(-100123, [user('again'), answer('yes')]);
  t.same(await make().load(-100123), [user('hi'), answer('hello'), user('again'), answer('yes')]);
  const file = path.join(dataDir, 'chats', '-100123.json');
  t.equal((await stat(file)).mode & 0o777, 0o600, 'only the gateway user can read a conversation');
  t.same(await readdir(path.join(dataDir, 'chats')), ['-100123.json'], 'no temp file is left behind');
});

t.test('chats are isolated from each other', async (t) => {
  const { store } = history(t);
  await store.append(1, [user('one'), answer('1')]);
  await store.append(2, [user('two'), answer('2')]);
  t.same(await store.load(1), [user('one'), answer('1')]);
  t.same(await store.load(2), [user('two'), answer('2')]);
});

t.test('reset forgets one chat only, and resetting an empty chat is fine', async (t) => {
  const { store } = history(t);
  await store.append(1, [user('one'), answer('1')]);
  await store.append(2, [user('two'), answer('2')]);
  await store.reset(1);
  await store.reset(3);
  t.same(await store.load(1), []);
  t.same(await store.load(2), [user('two'), answer('2')]);
});

t.test('a malformed history file is ignored with a WARN, and overwritten by the next turn', async (t) => {
  const { store, dataDir, log } = history(t);
  await mkdir(path.join(dataDir, 'chats'), { recursive: true });
  await writeFile(path.join(dataDir, 'chats', '7.json'), '{"version":1,"messages":[{"role":"tool"}]}');
  t.same(await store.load(7), []);
  t.match(log.text(), /chat history file is malformed/);
  await writeFile(path.join(dataDir, 'chats', '7.json'), 'not json at all');
  t.same(await store.load(7), []);
  await store.append(7, [user('fresh'), answer('ok')]);
  t.same(await store.load(7), [user('fresh'), answer('ok')]);
});

t.test('history off (0 messages) stores nothing', async (t) => {
  const { store, dataDir } = history(t, { maxMessages: 0 });
  await store.append(1, [user('one'), answer('1')]);
  t.same(await store.load(1), []);
  await t.rejects(readFile(path.join(dataDir, 'chats', '1.json')));
});

t.test('a chat id that is not an integer is refused rather than used in a path', async (t) => {
  const { store } = history(t);
  await t.rejects(store.append(1.5, [user('x')]), { code: 'SG_INVALID_OPTION' });
});

t.test('trimming keeps the newest messages within the message bound', async (t) => {
  const messages = [user('a'), answer('1'), user('b'), answer('2'), user('c'), answer('3')];
  t.same(trimHistory(messages, 4, 1000), [user('b'), answer('2'), user('c'), answer('3')]);
});

t.test('trimming keeps the newest messages within the character bound', async (t) => {
  const messages = [user('a'.repeat(50)), answer('b'.repeat(50)), user('c'.repeat(10)), answer('d'.repeat(10))];
  t.same(trimHistory(messages, 100, 60), [user('c'.repeat(10)), answer('d'.repeat(10))]);
});

t.test('trimming never splits a tool call from its results', async (t) => {
  const messages = [user('files?'), callMsg('c1', 'c2'), toolMsg('c1'), toolMsg('c2'), answer('two files'), user('thanks'), answer('welcome')];
  // 3 messages would cut into the call/results unit; the whole unit goes, and so does the
  // answer that would otherwise open the history without its question.
  t.same(trimHistory(messages, 5, 10_000), [user('thanks'), answer('welcome')]);
  t.same(trimHistory(messages, 7, 10_000), messages);
  const kept = trimHistory(messages, 6, 10_000);
  t.notOk(kept.some((m) => m.role === 'tool') && !kept.some((m) => m.role === 'assistant' && m.tool_calls), 'no orphan tool message');
});

t.test('tool-call arguments count toward the character bound', async (t) => {
  const big: HistoryMessage = {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: JSON.stringify({ path: 'x'.repeat(500) }) } }],
  };
  const messages = [user('read'), big, toolMsg('c1', 'short'), answer('done'), user('next'), answer('ok')];
  t.same(trimHistory(messages, 100, 100), [user('next'), answer('ok')]);
});

t.test('a history that would start with orphan tool messages is cleaned up on load-and-append', async (t) => {
  t.same(trimHistory([toolMsg('zz'), answer('stray'), user('q'), answer('a')], 100, 1000), [user('q'), answer('a')]);
});
