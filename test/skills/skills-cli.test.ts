import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { fixture } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], env: Record<string, string>, cwd: string) {
  const tsx = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
  const res = spawnSync(process.execPath, [tsx, path.join(ROOT, 'scripts/skills.ts'), ...args], {
    cwd,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

t.test('npm run skills', async (t) => {
  const dir = t.testdir({ skills: { 'hostile.py': fixture('hostile.py') }, workspace: {} });
  const env = { SKILLS_DIR: path.join(dir, 'skills'), WORKSPACE_DIR: path.join(dir, 'workspace'), SKILL_TIMEOUT_MS: '2000' };

  t.test('list prints a table of name, description, parameters and file', async (t) => {
    const r = cli(['list'], env, dir);
    t.equal(r.code, 0);
    t.match(r.stdout, /^NAME\s+DESCRIPTION\s+PARAMETERS\s+FILE/);
    t.match(r.stdout, /echo\s+Echo the argument back, and where we run\s+text: string\s+.*hostile\.py/);
  });

  t.test('run prints the output and exits 0', async (t) => {
    const r = cli(['run', 'echo', '{"text":"from the shell"}'], env, dir);
    t.equal(r.code, 0);
    t.match(r.stdout, /"text": "from the shell"/);
  });

  t.test('run exits 1 on a failing skill, invalid arguments or an unknown name', async (t) => {
    t.equal(cli(['run', 'raises'], env, dir).code, 1);
    const invalid = cli(['run', 'echo', '{"text": 1}'], env, dir);
    t.equal(invalid.code, 1);
    t.match(invalid.stderr, /argument "text" must be a string/);
    t.equal(cli(['run', 'nope'], env, dir).code, 1);
  });

  t.test('bench of an unknown skill exits 1 naming it and the catalogue code', async (t) => {
    const r = cli(['bench', 'nope', '1'], env, dir);
    t.equal(r.code, 1);
    t.match(r.stderr, /SG_SKILL_NOT_FOUND: no skill named nope/);
  });

  t.test('bad JSON or no command is a usage error (exit 2)', async (t) => {
    t.equal(cli(['run', 'echo', '{oops'], env, dir).code, 2);
    t.equal(cli([], env, dir).code, 2);
  });

  t.test('a configuration error prints the variable and exits 78', async (t) => {
    const r = cli(['list'], { ...env, SKILL_TIMEOUT_MS: 'soon' }, dir);
    t.equal(r.code, 78);
    t.match(r.stderr, /SKILL_TIMEOUT_MS: must be/);
    t.notMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
  });
});

t.test('npm run skills -- list: a file that hard-exits on import is named; the others are listed', async (t) => {
  const dir = t.testdir({ skills: { 'hostile.py': fixture('hostile.py'), 'z_exit.py': 'import os\nos._exit(3)\n' }, workspace: {} });
  const env = { SKILLS_DIR: path.join(dir, 'skills'), WORKSPACE_DIR: path.join(dir, 'workspace'), SKILL_TIMEOUT_MS: '2000' };
  const r = cli(['list'], env, dir);
  t.equal(r.code, 0);
  t.match(r.stdout, /echo\s+Echo the argument back/);
  t.match(r.stdout + r.stderr, /z_exit\.py failed to import: importing it ended Python \(exit code 3\)/);
});
