import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { treeRssBytes } from '../../src/skills/process-memory.js';
import { DECORATOR, eventually, fixture, idleSpareOf, MODES, skillProcessesOf, startRuntime } from './helpers.js';

const SKILLS = `${DECORATOR}
import os
import subprocess
import time

COUNTER = {"calls": 0}


@skill("Count the calls this process has served")
def count_calls():
    COUNTER["calls"] += 1
    return {"calls": COUNTER["calls"], "pid": os.getpid()}


@skill("Start a child in our group, wait, say whether it survived")
def child_survives(seconds: float = 1.5):
    child = subprocess.Popen(["sleep", "30"])
    time.sleep(seconds)
    alive = child.poll() is None
    child.kill()
    return "alive" if alive else "killed"


@skill("Leave an orphan in its own session behind and return at once")
def leave_orphan():
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(30)
        os._exit(0)
    return str(pid)


@skill("Sleep a while")
def nap(seconds: float):
    time.sleep(seconds)
    return "rested"


@skill("Length of the text")
def measure(text: str):
    return str(len(text))


@skill("The resource limits and session of this process")
def my_limits():
    import resource
    names = ["CPU", "AS", "NOFILE", "FSIZE", "NPROC"]
    limits = {n: list(resource.getrlimit(getattr(resource, "RLIMIT_" + n))) for n in names}
    return {"limits": limits, "session_leader": os.getsid(0) == os.getpid(), "group_leader": os.getpgid(0) == os.getpid()}
`;

for (const mode of MODES) {
  t.test(`${mode}: one process per call`, async (t) => {
    t.test('every call runs in a fresh process: module state never carries over', async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode });
      const seen = [];
      for (let i = 0; i < 4; i++) {
        const result = await runtime.run('count_calls', {});
        t.equal(result.outcome, 'ok');
        seen.push(JSON.parse(result.output) as { calls: number; pid: number });
      }
      t.same(seen.map((s) => s.calls), [1, 1, 1, 1], 'no call sees a previous one');
      t.equal(new Set(seen.map((s) => s.pid)).size, 4, 'four different processes');
    });

    t.test('every skill process runs with all its resource limits, in a session of its own', async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode, timeoutMs: 4000 });
      for (let i = 0; i < 2; i++) {
        const result = await runtime.run('my_limits', {});
        t.equal(result.outcome, 'ok');
        const seen = JSON.parse(result.output) as { limits: Record<string, [number, number]>; session_leader: boolean; group_leader: boolean };
        t.same(seen.limits, { CPU: [5, 6], AS: [2 ** 30, 2 ** 30], NOFILE: [256, 256], FSIZE: [2 ** 26, 2 ** 26], NPROC: [256, 256] });
        t.ok(seen.session_leader && seen.group_leader, 'its own session and group');
      }
    });

    t.test('a request larger than a pipe holds reaches the skill intact', async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode });
      const text = 'z'.repeat(300_000);
      const result = await runtime.run('measure', { text });
      t.equal(result.outcome, 'ok');
      t.equal(result.output, '300000');
      t.equal((await runtime.run('measure', { text: 'abc' })).output, '3', 'the next call is fine');
    });

    t.test('a call that leaves an orphan holding its stdout is answered without waiting for the orphan', async (t) => {
      // The orphan (own session) inherited the stdout pipe; it must be killed as soon as the skill
      // exits, not after the drain backstop, which would outlast this 800 ms timeout.
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode, timeoutMs: 800 });
      const result = await runtime.run('leave_orphan', {});
      t.equal(result.outcome, 'ok');
      t.ok(await eventually(() => !alive(Number(result.output)), 30), 'the orphan is gone');
    });

    t.test('a quick call finishes while a slow one is still running', async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode });
      const order: string[] = [];
      const slow = runtime.run('nap', { seconds: 1.5 }).then((r) => order.push(`nap:${r.outcome}`));
      await new Promise((r) => setTimeout(r, 100));
      await runtime.run('measure', { text: 'quick' }).then((r) => order.push(`measure:${r.output}`));
      await slow;
      t.same(order, ['measure:5', 'nap:ok']);
    });

    t.test("ending one call leaves another running call's processes alone, and kills its own orphans", async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode });
      const survivor = runtime.run('child_survives', { seconds: 1.5 });
      await new Promise((r) => setTimeout(r, 200));
      const orphans: number[] = [];
      for (let i = 0; i < 3; i++) {
        const left = await runtime.run('leave_orphan', {});
        t.equal(left.outcome, 'ok');
        orphans.push(Number(left.output));
      }
      t.equal((await survivor).output, 'alive', 'the running call kept its child');
      for (const pid of orphans) t.ok(await eventually(() => !alive(pid), 30), `orphan ${pid} is gone`);
    });
  });
}

t.test('warm: ninety calls at once all run (the host holds three descriptors per call, over the skills\' 256)', async (t) => {
  const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode: 'warm', maxConcurrency: 90, queueMax: 0, timeoutMs: 20_000 });
  const results = await Promise.all(Array.from({ length: 90 }, () => runtime.run('nap', { seconds: 0.5 })));
  t.same([...new Set(results.map((r) => r.outcome))], ['ok'], 'every call ok');
  t.equal(new Set(results.map((r) => r.pid)).size, 90, 'ninety processes');
});

t.test('warm: a spare killed from outside is replaced and calls keep working', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'calls.py': SKILLS }, { mode: 'warm' });
  const host = findHost(workspace);
  const spare = await idleSpareOf(host);
  t.ok(spare, 'an idle host holds one spare');
  process.kill(spare!, 'SIGKILL');
  t.ok(await eventually(() => !skillProcessesOf(host).includes(spare!), 50), 'the dead spare is reaped');
  t.equal((await runtime.run('count_calls', {})).outcome, 'ok', 'the next call forks its own process');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1 && skillProcessesOf(host)[0] !== spare, 50), 'a new spare');
  t.equal((await runtime.run('count_calls', {})).outcome, 'ok');
});

t.test('warm: after calls that leave processes behind, the host holds nothing but its spare', async (t) => {
  const { runtime, workspace } = await startRuntime(t, { 'calls.py': SKILLS, 'hostile.py': fixture('hostile.py') }, { mode: 'warm', timeoutMs: 1000 });
  const host = findHost(workspace);
  t.equal((await runtime.run('leave_orphan', {})).outcome, 'ok');
  t.equal((await runtime.run('child_survives', { seconds: 0.1 })).outcome, 'ok');
  t.equal((await runtime.run('orphan_sleeper', {})).outcome, 'timeout');
  t.equal((await runtime.run('raises', {})).outcome, 'error');
  t.ok(await eventually(() => skillProcessesOf(host).length === 1, 50), `one child left: ${skillProcessesOf(host).join(', ')}`);
});

t.test('warm: a reload mid-call lets the old host finish the call, then it exits with its spare', async (t) => {
  const { runtime, workspace, skillsDir } = await startRuntime(t, { 'calls.py': SKILLS }, { mode: 'warm' });
  const oldHost = findHost(workspace);
  const oldSpare = await idleSpareOf(oldHost);
  t.ok(oldSpare, 'its spare is up');
  const inFlight = runtime.run('nap', { seconds: 1 });
  await new Promise((r) => setTimeout(r, 200));
  fs.writeFileSync(path.join(skillsDir, 'more.py'), `${DECORATOR}\n@skill("More")\ndef more():\n    return "more"\n`);
  await runtime.reload();
  t.equal((await runtime.run('more', {})).output, 'more', 'the new host serves the new skill');
  t.equal((await inFlight).outcome, 'ok', 'the call in flight finished on the old host');
  t.ok(await eventually(() => !alive(oldHost), 50), 'the old host exited');
  t.ok(oldSpare && (await eventually(() => !alive(oldSpare), 50)), 'its spare is gone too');
});

t.test('warm host memory is reported; cold mode has no host', async (t) => {
  const warm = await startRuntime(t, { 'calls.py': SKILLS }, { mode: 'warm' });
  await warm.runtime.run('count_calls', {});
  t.ok((warm.runtime.hostRssBytes() ?? 0) > 1024 * 1024, 'more than a megabyte');
  const cold = await startRuntime(t, { 'calls.py': SKILLS }, { mode: 'cold' });
  t.equal(cold.runtime.hostRssBytes(), undefined);
});

t.test('tree memory counts the pages a fork shares with its parent once', async (t) => {
  const script = 'import os, sys, time\nif os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\nsys.stdout.write("ready\\n"); sys.stdout.flush()\ntime.sleep(30)\n';
  const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    for (const pid of childrenOf(parent.pid!)) process.kill(pid, 'SIGKILL');
    parent.kill('SIGKILL');
  });
  await new Promise((resolve) => parent.stdout!.once('data', resolve));
  const [child] = childrenOf(parent.pid!);
  t.ok(child, 'the fork is running');
  const parentRss = vmRss(parent.pid!);
  const childRss = vmRss(child!);
  const tree = treeRssBytes(parent.pid!)!;
  t.ok(tree >= parentRss * 0.9, `at least the parent (${tree} vs ${parentRss})`);
  t.ok(tree < parentRss + childRss * 0.5, `well under the sum of VmRSS (${tree} vs ${parentRss} + ${childRss})`);
  t.equal(treeRssBytes(2 ** 22 + 12345), undefined, 'undefined for a process that does not exist');
});

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The pid of this test's warm host: a child of ours running host.py serve on `workspace`. */
function findHost(workspace: string): number {
  const ours = fs.readdirSync(`/proc/${process.pid}/task`).flatMap((tid) =>
    fs.readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  const host = ours.find((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith('host.py')) && argv.includes('serve') && argv.some((a) => a.includes(JSON.stringify(workspace)));
    } catch {
      return false;
    }
  });
  if (!host) throw new Error('the warm host process was not found');
  return host;
}

function vmRss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}
