import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { matchSkill } from '../../src/router/keywords.js';
import { startRuntime } from './helpers.js';

const SKILLS = path.resolve(import.meta.dirname, '../../skills');
const shipped = () => Object.fromEntries(fs.readdirSync(SKILLS).filter((f) => f.endsWith('.py')).map((f) => [f, fs.readFileSync(path.join(SKILLS, f), 'utf8')]));

t.test('shipped skills', async (t) => {
  const { runtime, workspace } = await startRuntime(t, shipped(), { mode: 'warm' });
  fs.mkdirSync(path.join(workspace, 'data'));
  fs.writeFileSync(path.join(workspace, 'notes.txt'), 'hello from the workspace\n');
  fs.writeFileSync(path.join(workspace, 'data', 'big.csv'), 'a,b\n'.repeat(5000));
  fs.symlinkSync('/etc/passwd', path.join(workspace, 'passwd-link'));

  t.test('the demo question selects check_workspace_files', async (t) => {
    t.equal(matchSkill('OpenClaw, what files do we have in our training workspace?', runtime.list())?.skill.name, 'check_workspace_files');
  });

  t.test('check_workspace_files lists the workspace and refuses paths outside it', async (t) => {
    const result = await runtime.run('check_workspace_files', {});
    t.equal(result.outcome, 'ok');
    t.match(result.output, /data\//);
    t.match(result.output, /notes\.txt/);
    t.match(result.output, /passwd-link \(link outside the workspace, not followed\)/);
    const outside = await runtime.run('check_workspace_files', { subdir: '../..' });
    t.equal(outside.outcome, 'error');
    t.match(outside.output, /outside the workspace/);
  });

  t.test('check_python_packages never runs a pip.py planted in the workspace', async (t) => {
    fs.writeFileSync(path.join(workspace, 'pip.py'), 'print("PWNED")\nraise SystemExit(0)\n');
    t.teardown(() => fs.rmSync(path.join(workspace, 'pip.py')));
    const result = await runtime.run('check_python_packages', {});
    t.notMatch(result.output, /PWNED/);
  });

  t.test('read_text_file does not hang on a FIFO and follows links only inside', async (t) => {
    execFileSync('mkfifo', [path.join(workspace, 'pipe')]);
    fs.symlinkSync('notes.txt', path.join(workspace, 'notes-link'));
    t.teardown(() => {
      fs.rmSync(path.join(workspace, 'pipe'));
      fs.rmSync(path.join(workspace, 'notes-link'));
    });
    t.match((await runtime.run('read_text_file', { path: 'pipe' })).output, /not a file in the workspace/);
    t.equal((await runtime.run('read_text_file', { path: 'notes-link' })).output, 'hello from the workspace\n');
  });

  t.test('check_python_packages lists packages or says why it cannot', async (t) => {
    const result = await runtime.run('check_python_packages', {});
    t.equal(result.outcome, 'ok');
    t.match(result.output, /\$ (uv pip list|python -m pip list)\n|Neither uv nor pip is available/);
  });

  t.test('workspace_disk_usage reports size and free space', async (t) => {
    const result = await runtime.run('workspace_disk_usage', {});
    t.equal(result.outcome, 'ok');
    t.match(result.output, /in 2 files/);
    t.match(result.output, /free of/);
    t.match(result.output, /data/);
  });

  t.test('read_text_file reads inside, caps size, refuses traversal and symlinks out', async (t) => {
    t.equal((await runtime.run('read_text_file', { path: 'notes.txt' })).output, 'hello from the workspace\n');
    const capped = await runtime.run('read_text_file', { path: 'data/big.csv', max_bytes: 10 });
    t.match(capped.output, /^a,b\na,b\na,\n\[showing the first 10 bytes of/);
    for (const p of ['../../etc/passwd', '/etc/passwd', 'passwd-link']) {
      const refused = await runtime.run('read_text_file', { path: p });
      t.equal(refused.outcome, 'error', p);
      t.match(refused.output, /outside the workspace/, p);
    }
  });

  t.test('recent_files lists the newest files', async (t) => {
    const result = await runtime.run('recent_files', { limit: 5 });
    t.equal(result.outcome, 'ok');
    t.match(result.output, /notes\.txt/);
    t.notMatch(result.output, /passwd-link/, 'symlinks are not followed');
  });

  t.test('system_status reports load and memory', async (t) => {
    const result = await runtime.run('system_status', {});
    t.equal(result.outcome, 'ok');
    t.match(result.output, /Load: [\d.]+ [\d.]+ [\d.]+ on \d+ CPUs/);
    t.match(result.output, /Memory: .* available of/);
  });
});

t.test('check_python_packages without pip says so in a plain sentence, not a Python list', async (t) => {
  // A real interpreter that has no pip: a venv made --without-pip (system site-packages off).
  const venv = t.testdir();
  execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
  const python = path.join(venv, 'bin/python');
  // The skills folder and the host's (the shipped decorator lives with the host package).
  const code = 'import sys; sys.path[:0] = sys.argv[1:]; import system_skills; print(system_skills.check_python_packages())';
  // PATH without uv, so the pip attempt is the only one.
  const output = execFileSync(python, ['-c', code, SKILLS, path.resolve(import.meta.dirname, '../../src/skills')], { encoding: 'utf8', env: { PATH: path.join(venv, 'bin'), WORKSPACE_DIR: venv } });
  t.match(output, /^Neither uv nor pip is available for this Python \(.*\):\npython -m pip list: .*No module named pip\.\n$/);
  t.notMatch(output.trim().split('\n').at(-1), /\[|\]/, 'no brackets of a printed list');
});
