import t from 'tap';
import { chunkMessage, TELEGRAM_MESSAGE_LIMIT } from '../../src/telegram/chunk.js';

t.test('a short message is one chunk', async (t) => {
  t.same(chunkMessage('hello'), ['hello']);
});

t.test('an empty message stays one (empty) chunk', async (t) => {
  t.same(chunkMessage(''), ['']);
});

t.test('exactly 4096 code units is one chunk', async (t) => {
  const text = 'x'.repeat(TELEGRAM_MESSAGE_LIMIT);
  t.same(chunkMessage(text), [text]);
});

t.test('long text is split at line breaks, each chunk within the limit', async (t) => {
  const line = 'a'.repeat(99);
  const text = Array.from({ length: 100 }, () => line).join('\n'); // 9999 units
  const chunks = chunkMessage(text);
  t.ok(chunks.length >= 3);
  for (const c of chunks) t.ok(c.length <= TELEGRAM_MESSAGE_LIMIT, `chunk of ${c.length}`);
  for (const c of chunks) t.notOk(c.startsWith('\n') || c.endsWith('\n'), 'cut at the line break');
  t.equal(chunks.join('\n'), text, 'nothing lost');
});

t.test('emoji (surrogate pairs) are never split across chunks', async (t) => {
  const text = '😀'.repeat(5000); // 10000 UTF-16 units, no spaces or line breaks
  const chunks = chunkMessage(text);
  for (const c of chunks) {
    t.ok(c.length <= TELEGRAM_MESSAGE_LIMIT);
    t.notOk(/[\ud800-\udbff]$/.test(c), 'does not end with a lone high surrogate');
    t.notOk(/^[\udc00-\udfff]/.test(c), 'does not start with a lone low surrogate');
  }
  t.equal(chunks.join(''), text);
});

t.test('an odd offset before emoji still keeps pairs whole', async (t) => {
  const text = `x${'😀'.repeat(3000)}`;
  const chunks = chunkMessage(text);
  t.equal(chunks[0]!.length, TELEGRAM_MESSAGE_LIMIT - 1, 'cut one unit early to keep the pair');
  t.equal(chunks.join(''), text);
});

t.test('falls back to spaces when there is no line break', async (t) => {
  const text = Array.from({ length: 1000 }, (_, i) => `word${i}`).join(' ');
  const chunks = chunkMessage(text);
  for (const c of chunks) t.ok(c.length <= TELEGRAM_MESSAGE_LIMIT);
  t.equal(chunks.join(' '), text);
});
