import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DECORATOR, eventually, MODES, startRuntime } from './helpers.js';

const skillFile = (name: string, output: string) => `${DECORATOR}\n@skill("Say ${output}")\ndef ${name}():\n    return "${output}"\n`;
const HARD_EXIT = 'import os\nos._exit(3)\n';
const SEGFAULT = 'import ctypes\nctypes.string_at(0)\n';

/** The messages of the WARN lines logged so far. */
function warnings(lines: string[]): string[] {
  return lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg);
}

/** How the last run of `skill` went over the wire ('warm' or 'cold'), from its trace line. */
function lastVia(lines: string[], skill: string): string | undefined {
  const traces = lines.map((l) => JSON.parse(l) as { skill?: string; via?: string }).filter((l) => l.skill === skill && l.via);
  return traces.at(-1)?.via;
}

for (const mode of MODES) {
  t.test(`${mode}: a file that kills Python on import costs only itself`, async (t) => {
    t.test('os._exit and a segfault on import are WARNs naming the file and how Python died; the others load', async (t) => {
      const { runtime, lines } = await startRuntime(t, { 'good.py': skillFile('hello', 'hello'), 'segv.py': SEGFAULT, 'z_exit.py': HARD_EXIT }, { mode });
      t.same(runtime.list().map((s) => s.name), ['hello']);
      t.ok(runtime.status().ready, 'ready');
      const warned = warnings(lines);
      t.ok(warned.some((m) => /z_exit\.py failed to import: importing it ended Python \(exit code 3\)/.test(m)), 'os._exit names the file and the exit code');
      t.ok(warned.some((m) => /segv\.py failed to import: importing it killed Python \(signal SIGSEGV\)/.test(m)), 'a segfault names the file and the signal');
      t.equal((await runtime.run('hello', {})).output, 'hello');
      if (mode === 'warm') {
        t.equal(runtime.status().warmHost, 'up', 'the warm host never imports the broken files');
        t.equal(lastVia(lines, 'hello'), 'warm');
      }
    });

    t.test('hot-adding such files: the others keep working and new good files still load', async (t) => {
      const { runtime, skillsDir, lines } = await startRuntime(t, { 'good.py': skillFile('hello', 'hello') }, { mode, watch: true });
      fs.writeFileSync(path.join(skillsDir, 'z_exit.py'), HARD_EXIT);
      fs.writeFileSync(path.join(skillsDir, 'segv.py'), SEGFAULT);
      fs.writeFileSync(path.join(skillsDir, 'fresh.py'), skillFile('fresh', 'fresh'));
      t.ok(await eventually(() => runtime.get('fresh') !== undefined, 100), 'a good file added next to them loads');
      t.equal((await runtime.run('fresh', {})).output, 'fresh');
      t.equal((await runtime.run('hello', {})).output, 'hello', 'the skills loaded before keep working');

      // A good file edited into one that kills Python keeps its last good version, which still runs.
      fs.writeFileSync(path.join(skillsDir, 'good.py'), SEGFAULT);
      await runtime.reload();
      t.equal((await runtime.run('hello', {})).output, 'hello', 'the last good code runs');
      t.ok(warnings(lines).some((m) => /good\.py failed to import \(importing it killed Python \(signal SIGSEGV\).*\); keeping the last good version/.test(m)));

      fs.writeFileSync(path.join(skillsDir, 'fresh.py'), skillFile('fresh', 'edited'));
      t.ok(await eventually(() => runtime.get('fresh')?.description === 'Say edited', 100), 'edits of good files still load');
      await runtime.reload(); // the registry is published before the new warm generation is ready
      t.equal((await runtime.run('fresh', {})).output, 'edited');
      if (mode === 'warm') {
        t.equal(runtime.status().warmHost, 'up');
        t.equal(lastVia(lines, 'fresh'), 'warm', 'and run in the warm host');
      }
    });
  });
}

t.test('a file that blocks in C code on import is killed at the deadline and named', async (t) => {
  // SIGALRM cannot interrupt this import (signals are blocked), only the parent's deadline can.
  const blocked = 'import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\ntime.sleep(30)\n';
  const { runtime, lines } = await startRuntime(t, { 'blocked.py': blocked, 'good.py': skillFile('hello', 'hello') }, { mode: 'cold', timeoutMs: 1000 });
  t.same(runtime.list().map((s) => s.name), ['hello']);
  t.ok(warnings(lines).some((m) => /blocked\.py failed to import: importing took too long \(killed after 3 s/.test(m)));
});

/** skills/_common.py: a shared decorator without functools.wraps (the wrapper keeps its own name). */
const COMMON_WITHOUT_WRAPS = `def skill(description=None, name=None):
    def decorator(func):
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        wrapper.is_skill = True
        if description:
            wrapper.description = description
        if name:
            wrapper.__name__ = name
        return wrapper
    return decorator
`;

const USES_COMMON = `from _common import skill


@skill("Made by a shared decorator")
def shared_one():
    return "shared"


@skill()
def add(a: int, b: int = 2):
    """Add two numbers.

    Args:
        a: the first one
    """
    return a + b


@skill("Named by the decorator", name="renamed")
def original():
    return "renamed"
`;

for (const mode of MODES) {
  t.test(`${mode}: a skill made by a shared decorator without functools.wraps is found in the file that uses it`, async (t) => {
    const { runtime, lines } = await startRuntime(t, { '_common.py': COMMON_WITHOUT_WRAPS, 'uses_common.py': USES_COMMON }, { mode });
    t.same(runtime.list().map((s) => s.name).sort(), ['add', 'renamed', 'shared_one'], 'named after the decorated function, unless the decorator names it');
    t.equal(runtime.get('shared_one')?.description, 'Made by a shared decorator');
    t.match(runtime.get('shared_one')?.file, /uses_common\.py$/);
    t.equal(runtime.get('add')?.description, 'Add two numbers.', 'the docstring of the decorated function');
    t.same(runtime.get('add')?.parameters, {
      type: 'object',
      properties: { a: { type: 'integer', description: 'the first one' }, b: { type: 'integer', default: 2 } },
      required: ['a'],
      additionalProperties: false,
    }, 'the parameters of the function the wrapper forwards to');
    t.equal((await runtime.run('shared_one', {})).output, 'shared');
    t.equal((await runtime.run('add', { a: 40 })).output, '42');
    t.equal((await runtime.run('renamed', {})).output, 'renamed');
    t.equal((await runtime.run('add', { a: 'x' })).outcome, 'invalid_args');
    t.notOk(warnings(lines).some((m) => /is not exposed/.test(m)), 'no *args/**kwargs warnings: the wrapper only forwards');
  });
}

t.test('a skill imported by name from another file is listed once, where it is defined, with a WARN in the importer', async (t) => {
  const importer = 'from good import hello\nfrom uses_common import shared_one\n';
  const { runtime, lines } = await startRuntime(t, {
    '_common.py': COMMON_WITHOUT_WRAPS,
    'a_importer.py': importer, // scanned first: the skills must still belong to their own files
    'good.py': skillFile('hello', 'hello'),
    'uses_common.py': USES_COMMON,
  });
  t.match(runtime.get('hello')?.file, /good\.py$/);
  t.match(runtime.get('shared_one')?.file, /uses_common\.py$/);
  const warned = warnings(lines);
  t.ok(warned.some((m) => m.includes("a_importer.py: skill 'hello' skipped here: it is defined in good.py and only imported by this file")));
  t.ok(warned.some((m) => m.includes("a_importer.py: skill 'shared_one' skipped here: it is defined in uses_common.py and only imported by this file")));
  t.notOk(warned.some((m) => /duplicate skill name/.test(m)), 'not a duplicate');
  t.equal((await runtime.run('shared_one', {})).output, 'shared');
});

t.test('a skill imported from a helper file is skipped with a WARN, never silently', async (t) => {
  const helper = `${DECORATOR}\n@skill("Lives in a helper")\ndef helper_skill():\n    return "no"\n`;
  const { runtime, lines } = await startRuntime(t, { '_helper.py': helper, 'user.py': 'from _helper import helper_skill\n' }, { mode: 'cold' });
  t.equal(runtime.get('helper_skill'), undefined);
  t.ok(warnings(lines).some((m) => m.includes("user.py: skill 'helper_skill' skipped here: it is defined in _helper.py and only imported by this file")));
});

t.test('a file that kills only the warm host while it imports it: the host restarts without it, its skills run cold', async (t) => {
  // Discovery and cold calls import it fine; the warm host (host.py serve) dies on it.
  const treacherous = `${DECORATOR}\nimport os, sys\nif sys.argv[1] == "serve":\n    os._exit(4)\n\n@skill("Survives cold")\ndef survivor():\n    return "cold"\n`;
  const { runtime, lines } = await startRuntime(t, { 'good.py': skillFile('hello', 'hello'), 'treacherous.py': treacherous }, { mode: 'warm' });
  t.same(runtime.list().map((s) => s.name).sort(), ['hello', 'survivor'], 'discovery lists both files');
  t.equal(runtime.status().warmHost, 'up', 'the warm host is up without the file');
  t.ok(warnings(lines).some((m) => /Skill file treacherous\.py killed the warm skill host while it imported it \(exit 4\); restarting the host without it/.test(m)));
  t.equal((await runtime.run('hello', {})).output, 'hello');
  t.equal(lastVia(lines, 'hello'), 'warm', 'the other files run warm');
  t.equal((await runtime.run('survivor', {})).output, 'cold');
  t.equal(lastVia(lines, 'survivor'), 'cold', "the file's own skills run cold");
});
