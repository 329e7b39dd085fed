import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DECORATOR, eventually, startRuntime } from './helpers.js';

// The warm host's spare (a skill process forked and confined ahead of its call) is forked while
// the call that took the last one runs, so a concurrent call or the next one finds one. Observed
// from outside: the host's children.
const SKILLS = `${DECORATOR}
import os, time

@skill("Notes the host's pid, then sleeps")
def nap(seconds: float):
    with open(os.path.join(os.environ["WORKSPACE_DIR"], "host.pid"), "w") as f:
        f.write(str(os.getppid()))
    time.sleep(seconds)
    return "rested"
`;

function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

t.test('warm: a spare is ready during a long call and again after the reply', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'nap.py': SKILLS }, { mode: 'warm' });
  const call = runtime.run('nap', { seconds: 1.5 });
  const hostPidFile = path.join(workspace, 'host.pid');
  t.ok(await eventually(() => fs.existsSync(hostPidFile)), 'the call runs');
  const host = Number(fs.readFileSync(hostPidFile, 'utf8'));
  t.ok(await eventually(() => children(host).length === 2), 'while it runs: the call and a new spare');
  const result = await call;
  t.equal(result.output, 'rested');
  t.ok(await eventually(() => children(host).length === 1), 'after the reply: one spare waits for the next call');
  const spare = children(host)[0];
  const next = await runtime.run('nap', { seconds: 0 });
  t.equal(next.pid, spare, 'the next call runs in that spare');
  t.ok(await eventually(() => children(host).length === 1 && children(host)[0] !== spare), 'the spare it took is replaced');
});
