// Types and lint of the Python side (src/skills, skills, test/skills/python): pyright (an npm
// devDependency, offline; pyrightconfig.json) and flake8 (the Debian package; .flake8).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';

const ROOT = path.resolve(import.meta.dirname, '../..');

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: 180_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  return { ...result, output: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

t.test('pyright finds no type error', async (t) => {
  const result = run(process.execPath, [path.join(ROOT, 'node_modules/pyright/index.js'), '-p', path.join(ROOT, 'pyrightconfig.json')]);
  if (result.error || result.status !== 0) t.fail(`pyright reported problems (${result.error?.message ?? `exit ${result.status}`}):\n${result.output}`);
  else t.match(result.output, /0 errors/, 'pyright: 0 errors');
});

const flake8 = spawnSync('flake8', ['--version'], { encoding: 'utf8' });
const skip = flake8.error ? 'flake8 is not installed (Debian package flake8; .ci/run installs it)' : false;

t.test('flake8 finds nothing', { skip }, async (t) => {
  const result = run('flake8', ['--config', path.join(ROOT, '.flake8'), 'src/skills', 'skills', 'test/skills/python']);
  if (result.error || result.status !== 0) t.fail(`flake8 reported problems (${result.error?.message ?? `exit ${result.status}`}):\n${result.output}`);
  else t.equal(result.output, '', 'flake8: no findings');
});
