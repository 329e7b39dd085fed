// The host package's own unit tests (Python unittest, test/skills/python/), in the tap suite.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TESTS = path.join(ROOT, 'test/skills/python');

t.test('python3 -m unittest: the skill host package', async (t) => {
  const run = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', TESTS, '-t', TESTS], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH, PYTHONDONTWRITEBYTECODE: '1' },
  });
  const output = `${run.stdout}${run.stderr}`.trim();
  if (run.error || run.status !== 0) t.fail(`python3 -m unittest failed (${run.error?.message ?? `exit ${run.status}`}):\n${output}`);
  else t.pass('every Python test passed');
  const ran = Number(/^Ran (\d+) tests?/m.exec(output)?.[1] ?? 0);
  t.ok(ran >= 20, `it ran the Python tests (${ran})`);
});
