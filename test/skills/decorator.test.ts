// Skill files may import the decorator shipped with the host package, or define their own inline
// (CONTRACT section 6): both work in every sandbox, warm and cold.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { DECORATOR, MODES, startRuntime } from './helpers.js';

const SHIPPED = `from skillgate_host.decorator import skill


@skill("Greet someone", approval=True)
def greet(name: str):
    return f"hello {name}"


@skill("Fetch a page", network=True)
def fetch(url: str):
    return url
`;

const INLINE = `${DECORATOR}

@skill("Add two numbers")
def add(a: int, b: int = 2):
    return a + b
`;

function bwrapWorks(): boolean {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-pid', '--unshare-net', '--', '/bin/true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const sandboxes = [
  { sandbox: 'auto', skip: false },
  { sandbox: 'bwrap', skip: bwrapWorks() ? false : 'bubblewrap (bwrap) is not installed or cannot create namespaces here' },
  { sandbox: 'none', skip: false },
] as const;

for (const { sandbox, skip } of sandboxes) {
  for (const mode of MODES) {
    t.test(`${mode}, SKILL_SANDBOX=${sandbox}: the shipped decorator and an inline one`, { skip }, async (t) => {
      const { runtime } = await startRuntime(t, { 'shipped.py': SHIPPED, 'inline.py': INLINE }, { mode, sandbox });
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
