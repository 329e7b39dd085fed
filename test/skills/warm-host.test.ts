import { spawn } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { treeRssBytes } from '../../src/skills/warm-host.js';
import { DECORATOR, eventually, MODES, startRuntime } from './helpers.js';

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

    t.test('a request larger than a pipe holds reaches the skill intact', async (t) => {
      const { runtime } = await startRuntime(t, { 'calls.py': SKILLS }, { mode });
      const text = 'z'.repeat(300_000);
      const result = await runtime.run('measure', { text });
      t.equal(result.outcome, 'ok');
      t.equal(result.output, '300000');
      t.equal((await runtime.run('measure', { text: 'abc' })).output, '3', 'the next call is fine');
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
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

function vmRss(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}
