import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { SkillInfo } from '../../src/skills/types.js';
import { DECORATOR, eventually, MODES, startRuntime } from './helpers.js';

const version = (word: string) => `${DECORATOR}\n@skill("Say ${word}")\ndef greet():\n    return "${word}"\n`;

for (const mode of MODES) {
  t.test(`${mode}: hot reload`, async (t) => {
    t.test('adding, editing and removing a file updates the registry without a restart', async (t) => {
      const { runtime, skillsDir } = await startRuntime(t, { 'greet.py': version('hello') }, { mode, watch: true });
      const reloads: SkillInfo[][] = [];
      runtime.on('reload', (skills: SkillInfo[]) => reloads.push(skills));

      fs.writeFileSync(path.join(skillsDir, 'extra.py'), `${DECORATOR}\n@skill("Extra")\ndef extra():\n    return "extra"\n`);
      t.ok(await eventually(() => runtime.get('extra') !== undefined, 100), 'an added file is picked up');
      t.equal((await runtime.run('extra', {})).output, 'extra');

      fs.writeFileSync(path.join(skillsDir, 'greet.py'), version('bonjour'));
      t.ok(await eventually(() => runtime.get('greet')?.description === 'Say bonjour', 100), 'an edit is picked up');
      t.equal((await runtime.run('greet', {})).output, 'bonjour', 'the new code runs');

      fs.rmSync(path.join(skillsDir, 'extra.py'));
      t.ok(await eventually(() => runtime.get('extra') === undefined, 100), 'a removed file is dropped');
      t.equal((await runtime.run('extra', {})).outcome, 'not_found');
      await runtime.reload();
      t.ok(reloads.length >= 3, `a reload event per change (${reloads.length})`);
    });

    t.test('a broken edit keeps the last good version, which still runs', async (t) => {
      const { runtime, skillsDir, logs } = await startRuntime(t, { 'greet.py': version('hello') }, { mode });
      fs.writeFileSync(path.join(skillsDir, 'greet.py'), 'def greet(:\n');
      await runtime.reload();
      t.ok(runtime.get('greet'), 'still registered');
      t.equal((await runtime.run('greet', {})).output, 'hello', 'the last good code runs');
      t.match(logs(), /greet\.py failed to import \(SyntaxError.*\); keeping the last good version/);

      fs.writeFileSync(path.join(skillsDir, 'greet.py'), version('fixed'));
      await runtime.reload();
      t.equal((await runtime.run('greet', {})).output, 'fixed', 'the fix is picked up');
    });

    t.test('reload() (SIGHUP) re-reads the folder and resolves with the new list', async (t) => {
      const { runtime, skillsDir } = await startRuntime(t, {}, { mode });
      t.same(runtime.list(), []);
      t.ok(runtime.ready, 'ready with no skills');
      fs.writeFileSync(path.join(skillsDir, 'greet.py'), version('hi'));
      const list = await runtime.reload();
      t.same(list.map((s) => s.name), ['greet']);
      t.match(runtime.status(), { ready: true, skills: 1, mode, sandbox: String, sandboxLevel: String, cgroups: String, reasons: [], warmHost: mode === 'warm' ? 'up' : 'off' });
    });
  });
}
