// Skill files may import the decorator shipped with the host package, or define their own inline
// (CONTRACT section 6): both work in every sandbox, warm and cold. The same files are discovered by
// test/skills/python/test_discovery.py.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bwrapWorks, FIXTURES, MODES, startRuntime } from './helpers.js';

const form = (name: string) => fs.readFileSync(path.join(FIXTURES, 'skills-decorators', name), 'utf8');

const sandboxes = [
  { sandbox: 'auto', skip: false },
  { sandbox: 'bwrap', skip: bwrapWorks() ? false : 'bubblewrap (bwrap) is not installed or cannot create namespaces here' },
  { sandbox: 'none', skip: false },
] as const;

for (const { sandbox, skip } of sandboxes) {
  for (const mode of MODES) {
    t.test(`${mode}, SKILL_SANDBOX=${sandbox}: the shipped decorator and an inline one`, { skip }, async (t) => {
      const { runtime } = await startRuntime(t, { 'shipped.py': form('shipped_form.py'), 'inline.py': form('inline_form.py') }, { mode, sandbox });
      t.same(runtime.list().map((s) => s.name).sort(), ['add', 'fetch', 'greet'], 'both files load');
      t.equal(runtime.get('greet')?.requiresApproval, true, 'approval=True is read');
      t.equal(runtime.get('fetch')?.network, true, 'network=True is read');
      t.equal(runtime.get('add')?.requiresApproval, false);
      const greet = await runtime.run('greet', { name: 'op' });
      t.same([greet.outcome, greet.output], ['ok', 'hello op'], 'a skill of the shipped decorator runs');
      const add = await runtime.run('add', { a: 40 });
      t.same([add.outcome, add.output], ['ok', '42'], 'a skill of an inline decorator runs');
    });
  }
}
