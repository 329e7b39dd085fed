import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatSkip, summarizeTap } from '../../scripts/test-summary.mjs';
import { ROOT } from '../helpers/gateway-process.js';

/**
 * The summary `npm test` ends with, fed the TAP text tap 21 prints (copied from real runs), and
 * once end to end: scripts/run-tests.mjs running tap on a tiny fixture project (one run: it
 * costs seconds).
 */

const file = (name: string, body: string, status = 'ok', n = 1) => `# Subtest: ${name}\n${body}\n${status} ${n} - ${name} # time=12.5ms\n`;
const totals = (counts: string) => `# { total: ${counts} }\n# time=100ms\n`;

t.test('all passing: exit 0 and a 0 failed line', async (t) => {
  const tap = `TAP version 14\n1..1\n${file('test/a.test.ts', '    ok 1 - works # time=1ms\n    1..1')}${totals('2, pass: 2')}`;
  const r = summarizeTap(tap, 0);
  t.equal(r.line, '2 passed, 0 failed, 0 skipped');
  t.equal(r.failed, 0);
});

t.test('a failed assertion is a failure, named by its path', async (t) => {
  const body = [
    '    # Subtest: adds',
    '        not ok 1 - one is two',
    '          ---',
    '          diff: |',
    '            ok 3 - looks like a test point inside the diagnostics',
    '          ...',
    '        1..1',
    '    not ok 1 - adds # time=3ms',
    '    1..1',
  ].join('\n');
  const r = summarizeTap(`1..1\n${file('test/a.test.ts', body, 'not ok')}${totals('1, pass: 0, fail: 1')}`, 1);
  t.equal(r.line, '0 passed, 1 failed, 0 skipped');
  t.same(r.failures, ['test/a.test.ts > adds > one is two'], 'innermost only; diagnostics are not parsed as results');
});

t.test('skips and todos are not failures, each with its reason; a todo counts as skipped', async (t) => {
  const body = [
    '    ok 1 - caddy live test # SKIP caddy is not installed',
    '    # Subtest: nginx',
    '        ok 1 - nginx is not installed # SKIP',
    '        1..1',
    '    ok 2 - nginx # time=2ms',
    '    ok 3 - retries # TODO not written yet',
    '    1..3',
  ].join('\n');
  const r = summarizeTap(`1..1\n${file('test/deploy/x.test.ts', body)}${totals('4, pass: 1, todo: 1, skip: 2')}`, 0);
  t.equal(r.line, '1 passed, 0 failed, 3 skipped');
  t.equal(r.failed, 0);
  t.same(r.skips.map(formatSkip), [
    'skip: test/deploy/x.test.ts > caddy live test: caddy is not installed',
    'skip: test/deploy/x.test.ts > nginx > nginx is not installed',
    'todo: test/deploy/x.test.ts > retries: not written yet',
  ]);
});

t.test('a crashed test file (non-zero exit, no plan) is a failure even if tap counted none', async (t) => {
  const crashed = file('test/b.test.ts', '    1..0 # no tests found', 'not ok', 2).replace(/\n$/, '\n  ---\n  exitCode: 3\n  ...\n');
  const r = summarizeTap(`1..2\n${file('test/a.test.ts', '    ok 1 - fine\n    1..1')}${crashed}${totals('1, pass: 1')}`, 1);
  t.equal(r.line, '1 passed, 1 failed, 0 skipped');
  t.same(r.failures, ['test/b.test.ts']);
  t.match(r.problems.join('\n'), /1 test file\(s\) failed or crashed/);
});

t.test('no tests at all is a failure', async (t) => {
  t.equal(summarizeTap('', 1).line, '0 passed, 1 failed, 0 skipped', 'tap found no test files');
  t.equal(summarizeTap(`1..0\n${totals('0, pass: 0')}`, 0).line, '0 passed, 1 failed, 0 skipped', 'zero tests, exit 0');
});

t.test('a non-zero exit with nothing counted as failed is still a failure', async (t) => {
  const r = summarizeTap(`1..1\n${file('test/a.test.ts', '    ok 1 - fine\n    1..1')}${totals('1, pass: 1')}`, 1);
  t.equal(r.failed, 1);
  t.match(r.problems[0], /tap exited with code 1/);
});

t.test('npm test on a tiny project: real tap, real TAP text', async (t) => {
  // Outside .tap/fixtures (tap's default exclude), and without the TAP_* environment of the tap
  // running this test, which would make the inner tap behave as its child.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skillgate-tap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TAP|_TAPJS)/.test(k)));
  mkdirSync(path.join(dir, 'test'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', tap: { 'disable-coverage': true, include: ['test/**/*.test.mjs'] } }));
  const write = (name: string, code: string) => writeFileSync(path.join(dir, 'test', name), `import t from 'tap';\n${code}\n`);
  write('ok.test.mjs', "t.test('passes', async (t) => t.ok(true));\nt.test('later', { todo: 'not yet' }, async () => {});");
  write('skip.test.mjs', "t.test('caddy live test', { skip: 'caddy is not installed' }, async () => {});");
  const run = (): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [path.join(ROOT, 'scripts/run-tests.mjs')], { cwd: dir, env, timeout: 90_000 }, (err, stdout) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout }),
      );
    });

  const green = await run();
  t.equal(green.code, 0, green.out);
  t.equal(green.out.trim().split('\n').at(-1), '1 passed, 0 failed, 2 skipped');
  t.match(green.out, /^skip: test\/skip\.test\.mjs > caddy live test: caddy is not installed$/m);
  t.match(green.out, /^todo: test\/ok\.test\.mjs > later: not yet$/m);
});
