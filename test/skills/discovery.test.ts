import t from 'tap';
import { compileArgsValidator } from '../../src/skills/validate.js';
import { DECORATOR, fixture, startRuntime } from './helpers.js';

const TYPED = `${DECORATOR}
from typing import Literal, Optional


@skill("Typed parameters of every supported kind")
def typed(name: str, count: int, ratio: float, flag: bool, level: Literal["low", "high"], tags: list[str],
          note: Optional[str] = None, limit: int = 5):
    """Ignored: the description attribute wins.

    Args:
        name: who to greet
        count (int): how many times
    """
    return "ok"


@skill("Needs approval", approval=True)
def dangerous():
    return "ran"


def from_docstring():
    """First paragraph
    continues here.

    Second paragraph is not part of it.
    """
    return "ok"
from_docstring.is_skill = True


@skill("Takes anything")
def variadic(path: str, *args, **kwargs):
    return path


@skill("Hidden optional of an unsupported type")
def hidden(x: str, opts: dict = {}):
    return x


@skill("Required parameter of an unsupported type")
def unsupported(opts: dict):
    return "no"


def not_a_skill():
    return "plain function"
`;

t.test('discovery turns signatures and type hints into JSON schemas', async (t) => {
  const { runtime, logs } = await startRuntime(t, { 'typed.py': TYPED }, { mode: 'cold' });
  const typed = runtime.get('typed')!;
  t.equal(typed.description, 'Typed parameters of every supported kind');
  t.same(typed.parameters, {
    type: 'object',
    properties: {
      name: { type: 'string', description: 'who to greet' },
      count: { type: 'integer', description: 'how many times' },
      ratio: { type: 'number' },
      flag: { type: 'boolean' },
      level: { enum: ['low', 'high'], type: 'string' },
      tags: { type: 'array', items: { type: 'string' } },
      note: { type: ['string', 'null'], default: null },
      limit: { type: 'integer', default: 5 },
    },
    required: ['name', 'count', 'ratio', 'flag', 'level', 'tags'],
    additionalProperties: false,
  });
  t.match(typed.file, /typed\.py$/);
  t.equal(typed.requiresApproval, false);
  t.equal(runtime.get('dangerous')!.requiresApproval, true, 'approval=True marks the skill');
  t.equal(runtime.get('from_docstring')!.description, 'First paragraph continues here.', 'first docstring paragraph');
  t.same(Object.keys(runtime.get('variadic')!.parameters.properties), ['path'], '*args/**kwargs not exposed');
  t.match(logs(), /\*args is not exposed/);
  t.same(Object.keys(runtime.get('hidden')!.parameters.properties), ['x'], 'unsupported optional hidden');
  t.equal(runtime.get('unsupported'), undefined, 'required unsupported type: skipped');
  t.match(logs(), /skill 'unsupported': skipped: required parameter 'opts' has an unsupported type/);
  t.equal(runtime.get('not_a_skill'), undefined);
  t.match(logs(), /Skills loaded: .*typed/);
});

t.test('a syntax error or a missing import in one file is a WARN naming it; the others load', async (t) => {
  const { runtime, logs } = await startRuntime(t, {
    'hostile.py': fixture('hostile.py'),
    'syntax_error.py': fixture('syntax_error.py'),
    'missing_import.py': fixture('missing_import.py'),
  });
  t.ok(runtime.get('echo'), 'the good file loads');
  t.equal(runtime.get('never_loads'), undefined);
  t.match(logs(), /syntax_error\.py failed to import: SyntaxError/);
  t.match(logs(), /missing_import\.py failed to import: ModuleNotFoundError: No module named 'skillgate_module_that_is_not_installed'/);
  t.equal((await runtime.run('echo', { text: 'x' })).outcome, 'ok');
});

t.test('a duplicate skill name is a WARN naming both files; the first one wins', async (t) => {
  const one = `${DECORATOR}\n@skill("first")\ndef twin():\n    return "a"\n`;
  const two = `${DECORATOR}\n@skill("second")\ndef twin():\n    return "b"\n`;
  const { runtime, logs } = await startRuntime(t, { 'a.py': one, 'b.py': two });
  t.equal(runtime.get('twin')!.description, 'first');
  t.match(logs(), /b\.py: duplicate skill name 'twin' \(already defined in a\.py\)/);
  t.equal((await runtime.run('twin', {})).output, 'a');
});

t.test('files starting with _ are helpers: importable, never scanned', async (t) => {
  const helper = `${DECORATOR}\n@skill("hidden helper")\ndef helper_skill():\n    return "no"\n\nVALUE = "from helper"\n`;
  const user = `${DECORATOR}\nfrom _helper import VALUE\n\n@skill("uses a helper")\ndef uses_helper():\n    return VALUE\n`;
  const { runtime } = await startRuntime(t, { '_helper.py': helper, 'user.py': user });
  t.equal(runtime.get('helper_skill'), undefined);
  t.equal((await runtime.run('uses_helper', {})).output, 'from helper');
});

t.test('arguments are validated before any process starts', async (t) => {
  const { runtime, metrics } = await startRuntime(t, { 'typed.py': TYPED });
  const good = { name: 'a', count: 1, ratio: 0.5, flag: true, level: 'low', tags: ['x'] };
  const ok = await runtime.run('typed', good);
  t.equal(ok.outcome, 'ok');
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, extra: 1 }, /unknown argument "extra"/],
    [{ ...good, name: undefined }, /missing required argument "name" \(a string\)/],
    [{ ...good, count: 1.5 }, /argument "count" must be an integer/],
    [{ ...good, count: '3' }, /argument "count" must be an integer/],
    [{ ...good, flag: 'yes' }, /argument "flag" must be true or false/],
    [{ ...good, level: 'medium' }, /argument "level" must be one of "low", "high"/],
    [{ ...good, tags: 'x' }, /argument "tags" must be a list of strings/],
    [{ ...good, tags: [1] }, /argument "tags\[0\]" must be a list of strings/],
    [[1, 2], /arguments must be a JSON object/],
  ];
  for (const [args, message] of cases) {
    const result = await runtime.run('typed', args);
    t.equal(result.outcome, 'invalid_args', JSON.stringify(args));
    t.match(result.output, message);
    t.equal(result.pid, undefined, 'no process started');
  }
  t.equal((await runtime.run('typed', { ...good, note: null })).outcome, 'ok', 'Optional accepts null');
  const missing = await runtime.run('no_such_skill', {});
  t.equal(missing.outcome, 'not_found');
  t.match(missing.output, /There is no skill named "no_such_skill"/);
  t.match(await metrics.render(), /skillgate_skill_runs_total\{skill="typed",outcome="invalid_args"\} 9/);
  t.match(await metrics.render(), /skillgate_skill_duration_seconds_count\{skill="typed"\} 2/);
});

t.test('compileArgsValidator: no-argument skills refuse any argument by name', async (t) => {
  const check = compileArgsValidator({ type: 'object', properties: {}, required: [], additionalProperties: false });
  t.same(check(undefined), { ok: true, args: {} });
  t.same(check({ path: '/etc' }), { ok: false, message: 'Invalid arguments: unknown argument "path" (this skill takes no arguments)' });
});
