import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DECORATOR, eventually, skillProcessesOf, startRuntime, zygoteOf } from './helpers.js';

// The warm host's spare (a skill process forked and confined ahead of its call) is forked while
// the call that took the last one runs, so a concurrent call or the next one finds one. Observed
// from outside: the host's children (but its zygote, which forks the spares).
const SKILLS = `${DECORATOR}
import os, time

@skill("Notes the host's pid, then sleeps")
def nap(seconds: float):
    with open(os.path.join(os.environ["WORKSPACE_DIR"], "host.pid"), "w") as f:
        f.write(str(os.getppid()))
    time.sleep(seconds)
    return "rested"
`;

t.test('warm: a spare is ready during a long call and again after the reply', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'nap.py': SKILLS }, { mode: 'warm' });
  const call = runtime.run('nap', { seconds: 1.5 });
  const hostPidFile = path.join(workspace, 'host.pid');
  t.ok(await eventually(() => fs.existsSync(hostPidFile)), 'the call runs');
  const host = Number(fs.readFileSync(hostPidFile, 'utf8'));
  t.ok(await eventually(() => skillProcessesOf(host).length === 2), 'while it runs: the call and a new spare');
  const result = await call;
  t.equal(result.output, 'rested');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1), 'after the reply: one spare waits for the next call');
  const spare = skillProcessesOf(host)[0];
  const next = await runtime.run('nap', { seconds: 0 });
  t.equal(next.pid, spare, 'the next call runs in that spare');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1 && skillProcessesOf(host)[0] !== spare), 'the spare it took is replaced');
});

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function hostOf(runtime: Awaited<ReturnType<typeof startRuntime>>['runtime'], workspace: string): Promise<number> {
  t.equal((await runtime.run('nap', { seconds: 0 })).output, 'rested');
  return Number(fs.readFileSync(path.join(workspace, 'host.pid'), 'utf8'));
}

t.test('warm: the zygote forks the spares as the host\'s own children, and everything dies with the host', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'nap.py': SKILLS }, { mode: 'warm' });
  const host = await hostOf(runtime, workspace);
  const zygote = zygoteOf(host);
  t.ok(zygote, 'the host has a zygote');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1), 'and one spare, a child of the host');
  const [spare] = skillProcessesOf(host);
  t.not(fs.readFileSync(`/proc/${spare}/comm`, 'utf8').trim(), fs.readFileSync(`/proc/${zygote}/comm`, 'utf8').trim(), 'the spare is named like a skill process');
  t.equal((await runtime.run('nap', { seconds: 0 })).pid, spare, 'a call runs in it');
  const next = await eventually(() => skillProcessesOf(host).length === 1);
  t.ok(next, 'the zygote forked the next one');
  const [nextSpare] = skillProcessesOf(host);
  process.kill(host, 'SIGKILL');
  t.ok(await eventually(() => !alive(zygote!) && !alive(nextSpare!)), 'the zygote and the spare die with the host');
});

t.test('warm: a zygote killed from outside: calls keep working, the host forks its spares itself', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'nap.py': SKILLS }, { mode: 'warm' });
  const host = await hostOf(runtime, workspace);
  const zygote = zygoteOf(host)!;
  t.ok(await eventually(() => skillProcessesOf(host).length === 1), 'a spare waits');
  process.kill(zygote, 'SIGKILL');
  for (let i = 0; i < 3; i++) t.equal((await runtime.run('nap', { seconds: 0 })).output, 'rested', `call ${i + 1} after the kill`);
  t.ok(await eventually(() => zygoteOf(host) === undefined), 'the dead zygote is reaped');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1), 'the host keeps one spare, forked itself');
  t.equal(await hostOf(runtime, workspace), host, 'the same host serves');
});
