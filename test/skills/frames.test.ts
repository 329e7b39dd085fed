import { PassThrough } from 'node:stream';
import t from 'tap';
import { hostFrame, readFrames, type HostFrame } from '../../src/skills/frames.js';

/** Feeds `chunks` through readFrames and collects what it reports. */
async function read(chunks: Array<string | Buffer>, maxLineBytes = 1024) {
  const stream = new PassThrough();
  const frames: HostFrame[] = [];
  const bad: string[] = [];
  readFrames(stream, maxLineBytes, (f) => frames.push(f), (why) => bad.push(why));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await new Promise((resolve) => stream.on('end', resolve).resume());
  return { frames, bad };
}

const done = { t: 'done', result: { ok: true, value: { text: 'hi', truncated: false } }, stdout: '', code: 0, signal: null };

t.test('each frame kind the host writes parses', async (t) => {
  t.ok(hostFrame.safeParse({ t: 'start', pid: 12 }).success);
  t.ok(hostFrame.safeParse(done).success);
  t.ok(hostFrame.safeParse({ ...done, result: { ok: false, error: 'boom', trace: 'tb' } }).success);
  t.ok(hostFrame.safeParse({ ...done, result: null, oom: true }).success);
  t.ok(hostFrame.safeParse({ t: 'ready', pid: 3, skills: ['a'], errors: [{ file: 'b.py', error: 'SyntaxError' }] }).success);
  t.ok(hostFrame.safeParse({ t: 'importing', file: null }).success);
  t.notOk(hostFrame.safeParse({ t: 'kill' }).success, 'an unknown kind is refused');
  t.notOk(hostFrame.safeParse({ t: 'start', pid: 1.5 }).success, 'a pid must be an integer');
});

t.test('frames split across chunks and several in one chunk all arrive, in order', async (t) => {
  const line = `${JSON.stringify({ t: 'start', pid: 1 })}\n${JSON.stringify(done)}\n`;
  const { frames, bad } = await read([line.slice(0, 7), line.slice(7, 30), line.slice(30)]);
  t.same(frames.map((f) => f.t), ['start', 'done']);
  t.same(bad, []);
});

t.test('a multi-byte character cut between chunks is put back together', async (t) => {
  const bytes = Buffer.from(`${JSON.stringify({ ...done, stdout: 'héllo ✓' })}\n`);
  const cut = bytes.indexOf(Buffer.from('✓')) + 1;
  const { frames } = await read([bytes.subarray(0, cut), bytes.subarray(cut)]);
  t.equal((frames[0] as { stdout: string }).stdout, 'héllo ✓');
});

t.test('blank lines are skipped; non-JSON and unexpected frames are reported and dropped', async (t) => {
  const { frames, bad } = await read(['\n  \nnot json\n{"t":"nope"}\n{"t":"start","pid":2}\n']);
  t.same(frames, [{ t: 'start', pid: 2 }]);
  t.equal(bad.length, 2);
  t.match(bad[0], /^not JSON: not json/);
  t.match(bad[1], /^unexpected frame: \{"t":"nope"\}/);
});

t.test('a line over the limit is reported once and dropped, and the next line still parses', async (t) => {
  const long = 'x'.repeat(300);
  const { frames, bad } = await read([long, long, `${long}\n`, '{"t":"start","pid":4}\n'], 256);
  t.same(bad, ['frame longer than 256 bytes']);
  t.same(frames, [{ t: 'start', pid: 4 }]);
});
