import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bwrapWorks, fixture, MODES, startRuntime } from './helpers.js';

const skip = bwrapWorks() ? false : 'bubblewrap (bwrap) is not installed or cannot create namespaces here';

for (const mode of MODES) {
  t.test(`${mode}: SKILL_SANDBOX=bwrap`, { skip }, async (t) => {
    const { runtime, workspace } = await startRuntime(t, { 'hostile.py': fixture('hostile.py') }, { mode, sandbox: 'bwrap' });
    // A sibling of the workspace on the real disk (not /tmp, which is a private tmpfs inside).
    const outsideDir = path.join(path.dirname(workspace), 'outside');
    fs.mkdirSync(outsideDir);
    const outside = path.join(outsideDir, 'escaped.txt');

    const denied = await runtime.run('write_file', { path: outside });
    t.equal(denied.outcome, 'error', 'writing outside the workspace fails');
    // Read-only, or not even visible inside the sandbox (bwrap puts a fresh tmpfs on /tmp).
    t.match(denied.output, /Read-only file system|No such file or directory/);
    t.notOk(fs.existsSync(outside), 'nothing written outside');

    const inside = path.join(workspace, 'allowed.txt');
    t.equal((await runtime.run('write_file', { path: inside })).outcome, 'ok', 'the workspace is writable');
    t.equal(fs.readFileSync(inside, 'utf8'), 'pwned');

    const net = await runtime.run('connect_out', {});
    t.equal(net.outcome, 'error', 'no network');
    t.equal(runtime.status().sandbox, 'bwrap');
  });

  t.test(`${mode}: SKILL_SANDBOX=bwrap still kills a call at the timeout`, { skip }, async (t) => {
    const { runtime } = await startRuntime(t, { 'hostile.py': fixture('hostile.py') }, { mode, sandbox: 'bwrap', timeoutMs: 1000 });
    t.equal((await runtime.run('infinite_loop', {})).outcome, 'timeout');
    t.equal((await runtime.run('echo', { text: 'after' })).outcome, 'ok', 'healthy afterwards');
  });
}
