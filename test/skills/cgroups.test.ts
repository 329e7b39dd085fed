import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CgroupPool } from '../../src/skills/cgroups.js';
import type { SkillRuntime } from '../../src/skills/runtime.js';
import { detectCgroups } from '../../src/skills/cgroup-detect.js';
import { bwrapWorks, DECORATOR, eventually, MODES, startRuntime } from './helpers.js';

/** Real per-call cgroups: root (or a delegated subtree) on a machine with memory and pids controllers. */
function cgroupSkip(): string | false {
  const layout = detectCgroups();
  if (layout.kind === 'none') return `no cgroups here: ${layout.reason}`;
  const controllers = layout.hierarchies.flatMap((h) => h.controllers);
  if (!controllers.includes('memory') || !controllers.includes('pids')) return `cgroups without memory and pids controllers (${layout.reason})`;
  const probe = CgroupPool.create({ memoryBytes: 64 * 2 ** 20, pids: 64 });
  if (!probe.pool) return `cannot create cgroups here (not root, nothing delegated): ${probe.layout.reason}`;
  probe.pool.close();
  return false;
}

const skip = cgroupSkip();

const SKILLS = `${DECORATOR}
import os, signal, time

def _note(name, pid):
    with open(os.path.join(os.environ["WORKSPACE_DIR"], name), "w") as f:
        f.write(str(pid))

@skill("A daemon (double fork, setsid) that outlives its call")
def daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            _note("daemon.pid", os.getpid())
            time.sleep(3600)
        os._exit(0)
    time.sleep(0.3)
    return "left a daemon"

@skill("A child born into another cgroup (clone3 with an O_PATH folder: Landlock does not check O_PATH), in its own session")
def escape_cgroup(target: str):
    import ctypes
    folder = os.open(target, os.O_PATH | os.O_DIRECTORY)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    class CloneArgs(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint64) for n in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls", "set_tid", "set_tid_size", "cgroup")]
    args = CloneArgs(flags=0x200000000, exit_signal=signal.SIGCHLD, cgroup=folder)
    pid = libc.syscall(435, ctypes.byref(args), ctypes.c_size_t(ctypes.sizeof(args)))
    if pid == 0:
        os.setsid()
        _note("escaped.pid", os.getpid())
        time.sleep(3600)
        os._exit(0)
    if pid < 0:
        return "clone3 refused: " + os.strerror(ctypes.get_errno())
    time.sleep(0.3)
    return "escaped"

@skill("A grandchild kills the skill host, then lives on")
def kill_host():
    host = os.getppid()
    if os.fork() == 0:
        os.setsid()
        _note("survivor.pid", os.getpid())
        os.kill(host, signal.SIGKILL)
        time.sleep(3600)
    time.sleep(3600)

@skill("Memory spread over four children")
def hog(mb: int):
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            block = bytearray(mb * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(2)
            os._exit(0)
        children.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in children]

@skill("Fork until refused; how many made it")
def bomb():
    made = 0
    for _ in range(10000):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(3600)
        made += 1
    return made

@skill("Echo")
def echo(text: str):
    return text

@skill("Notes its pid, then waits until the test has looked at it")
def wait_here():
    _note("here.pid", os.getpid())
    go = os.path.join(os.environ["WORKSPACE_DIR"], "go")
    for _ in range(1000):
        if os.path.exists(go):
            return "seen"
        time.sleep(0.01)
    return "nobody looked"
`;

/** A skill file whose top-level code leaves a thread running in the host that imports it. */
const THREADED = `${SKILLS}
import threading

threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
`;

/** The slot of a running call's skill process in every hierarchy the pool uses (from /proc/<pid>/cgroup). */
async function slotsOfCall(runtime: SkillRuntime, workspace: string): Promise<string[]> {
  fs.rmSync(path.join(workspace, 'go'), { force: true });
  fs.rmSync(path.join(workspace, 'here.pid'), { force: true });
  const call = runtime.run('wait_here', {});
  await eventually(() => fs.existsSync(path.join(workspace, 'here.pid')));
  const lines = fs.readFileSync(`/proc/${readPid(workspace, 'here.pid')}/cgroup`, 'utf8').split('\n');
  fs.writeFileSync(path.join(workspace, 'go'), '');
  const result = await call;
  if (result.output !== 'seen') throw new Error(`wait_here: ${result.outcome} ${result.output}`);
  return detectCgroups().hierarchies.map((h) => {
    const line = h.version === 2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => l.split(':')[1]?.split(',').includes(h.controllers[0]!));
    return line?.split(':').slice(2).join(':') ?? `(no ${h.version === 2 ? 'cgroup2' : h.controllers[0]} line)`;
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead too (killed, waiting for its parent).
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return !/^\d+ \(.*\) Z/.test(stat);
}

function readPid(workspace: string, name: string): number {
  return Number(fs.readFileSync(path.join(workspace, name), 'utf8'));
}

function ourCgroups(): string[] {
  return detectCgroups().hierarchies.flatMap((h) => {
    try {
      return fs.readdirSync(h.dir).filter((n) => n.startsWith(`skillgate-${process.pid}-`)).map((n) => path.join(h.dir, n));
    } catch {
      return [];
    }
  });
}

for (const mode of MODES) {
  t.test(`${mode}: per-call cgroups`, { skip }, async (t) => {
    const fixture = await startRuntime(t, { 'cg.py': SKILLS }, { mode, memoryMb: 96, maxProcs: 32 });
    const { runtime, workspace } = fixture;
    t.not(runtime.status().cgroups, 'none');
    t.match(fixture.logs(), /Skill cgroups: per-call cgroup/);

    t.test('a double-forked setsid daemon is gone when its call ends', async (t) => {
      const result = await runtime.run('daemon', {});
      t.equal(result.outcome, 'ok');
      const pid = readPid(workspace, 'daemon.pid');
      t.ok(await eventually(() => !alive(pid), 30), `daemon ${pid} is gone`);
      // A warm host is the daemon's subreaper: it reaps what its call's cgroup killed, no zombie.
      if (mode === 'warm') t.ok(await eventually(() => !fs.existsSync(`/proc/${pid}`), 30), `daemon ${pid} reaped`);
    });

    const cgroup2 = detectCgroups().hierarchies.find((h) => h.version === 2)?.dir;
    t.test('a child cannot be born in another cgroup, and one that was would not outlive its call', { skip: cgroup2 ? false : 'no cgroup2 hierarchy here' }, async (t) => {
      // Landlock does not check the O_PATH open clone3(CLONE_INTO_CGROUP) takes: seccomp refuses
      // clone3 to skill code (skillgate_host/seccomp.py). Where seccomp filters are not available
      // the child escapes the slot's kill, and the host's search for what a call left (it is the
      // subreaper of every call) must end it before the done frame.
      const target = cgroup2!;
      const result = await runtime.run('escape_cgroup', { target });
      if (result.output.startsWith('clone3 refused')) return t.match(result.output, /Function not implemented/, 'clone3 answers ENOSYS');
      t.equal(result.output, 'escaped');
      const pid = readPid(workspace, 'escaped.pid');
      t.notOk(fs.existsSync(`/proc/${pid}`), `${pid}, born in ${target}, was killed and reaped before the reply`);
    });

    t.test('the slots whose leftovers were killed serve the calls after them', async (t) => {
      // Every slot of the pool gets a daemon killed in it, then each serves a call again (a
      // cgroup.kill would have left each slot killing every process later born into it).
      for (let i = 0; i < 3; i++) t.equal((await runtime.run('daemon', {})).outcome, 'ok', `daemon ${i}`);
      for (let i = 0; i < 4; i++) t.equal((await runtime.run('echo', { text: `after ${i}` })).output, `after ${i}`);
    });

    t.test('a grandchild that kills the host dies with the host', async (t) => {
      const result = await runtime.run('kill_host', {});
      t.not(result.outcome, 'ok');
      const pid = readPid(workspace, 'survivor.pid');
      t.ok(await eventually(() => !alive(pid), 30), `survivor ${pid} is gone`);
      t.equal((await runtime.run('echo', { text: 'after' })).output, 'after', 'the runtime still serves');
    });

    t.test('memory spread over four children is bounded for the call as a whole', async (t) => {
      // 4 x 40 MiB: each child is far below RLIMIT_AS, the call is over its 96 MiB.
      const result = await runtime.run('hog', { mb: 40 });
      t.equal(result.outcome, 'crashed');
      t.match(result.output, /memory limit \(96 MiB for all its processes, SKILL_MEMORY_MB\)/);
      const small = await runtime.run('hog', { mb: 8 });
      t.equal(small.outcome, 'ok', 'within the limit it works');
      t.equal((await runtime.run('echo', { text: 'alive' })).output, 'alive', 'the host survived');
    });

    t.test('a fork bomb is bounded by the call\'s pids limit', async (t) => {
      const result = await runtime.run('bomb', {});
      t.equal(result.outcome, 'ok');
      const made = Number(result.output);
      t.ok(made > 0 && made < 32, `${made} processes, below pids.max 32`);
      t.equal((await runtime.run('echo', { text: 'alive' })).output, 'alive', 'the host survived');
    });

    t.test('a skill process is in its call\'s slot in every hierarchy', async (t) => {
      for (const slot of await slotsOfCall(runtime, workspace)) t.match(slot, new RegExp(`/skillgate-${process.pid}-\\d+/s\\d+$`), slot);
    });

    t.test('the cgroups are removed at close', async (t) => {
      t.ok(ourCgroups().length > 0, 'there while running');
      await runtime.close();
      t.same(ourCgroups(), [], 'gone after close');
    });
  });
}

// The slots' descriptors pass through bubblewrap (pids there are namespaced: no pid checks).
t.test('warm, SKILL_SANDBOX=bwrap: the call limits hold inside the sandbox', { skip: skip || (bwrapWorks() ? false : 'bubblewrap is not usable here') }, async (t) => {
  const { runtime } = await startRuntime(t, { 'cg.py': SKILLS }, { mode: 'warm', sandbox: 'bwrap', memoryMb: 96, maxProcs: 32 });
  const hog = await runtime.run('hog', { mb: 40 });
  t.equal(hog.outcome, 'crashed');
  t.match(hog.output, /memory limit/);
  const made = Number((await runtime.run('bomb', {})).output);
  t.ok(made > 0 && made < 32, `${made} processes, below pids.max 32`);
  t.equal((await runtime.run('echo', { text: 'alive' })).output, 'alive');
});

t.test('leftovers of a crashed gateway are removed at start', { skip }, async (t) => {
  const dead = 2 ** 22 + 1; // above pid_max's default: no such process
  const layout = detectCgroups();
  const stale = layout.hierarchies.map((h) => path.join(h.dir, `skillgate-${dead}-0`, 's0'));
  for (const dir of stale) fs.mkdirSync(dir, { recursive: true });
  const { pool } = CgroupPool.create({ memoryBytes: 64 * 2 ** 20, pids: 64 });
  t.teardown(() => pool?.close());
  for (const dir of stale) t.notOk(fs.existsSync(path.dirname(dir)), `${path.dirname(dir)} removed`);
});

// clone3(CLONE_INTO_CGROUP) only serves a process with one thread (see skillgate_host/clone.py):
// with two, the fork falls back to os.fork() and the child joins by writing cgroup.procs.
for (const mode of MODES) {
  t.test(`${mode}: a host with a second thread still puts each call in its slot`, { skip }, async (t) => {
    const { runtime, workspace } = await startRuntime(t, { 'threaded.py': THREADED }, { mode, memoryMb: 96, maxProcs: 32 });
    for (const slot of await slotsOfCall(runtime, workspace)) t.match(slot, new RegExp(`/skillgate-${process.pid}-\\d+/s\\d+$`), slot);
    const hog = await runtime.run('hog', { mb: 40 });
    t.match(hog.output, /memory limit/, 'the memory limit holds for the call as a whole');
  });
}

const HOST_PACKAGE = path.resolve(import.meta.dirname, '../../src/skills');
const CLONE_PROBE = `
import json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from skillgate_host.clone import fork_into_cgroup
if sys.argv[2] == "threaded":
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
r, w = os.pipe()
pid, born = fork_into_cgroup(int(sys.argv[3]))
if pid == 0:
    os.write(w, open("/proc/self/cgroup").read().encode())
    os._exit(0)
os.close(w)
text = os.read(r, 65536).decode()
os.waitpid(pid, 0)
print(json.dumps({"born": born, "cgroup": text}))
`;

const v2Slot = !skip && detectCgroups().hierarchies.some((h) => h.version === 2);
t.test('clone3 makes the child inside the cgroup2 slot; with two threads it is a plain fork', { skip: skip || (v2Slot ? false : 'no cgroup2 hierarchy here') }, async (t) => {
  const { pool } = CgroupPool.create({ memoryBytes: 64 * 2 ** 20, pids: 64 });
  t.teardown(() => pool?.close());
  const lease = pool!.lease(1);
  t.teardown(() => lease.release());
  const dirFd = lease.config.slots[0]!.dir!;
  const run = (threads: string) => {
    const out = execFileSync('python3', ['-B', '-c', CLONE_PROBE, HOST_PACKAGE, threads, String(dirFd)], { stdio: ['ignore', 'pipe', 'inherit', ...lease.fds] });
    return JSON.parse(String(out)) as { born: boolean; cgroup: string };
  };
  const single = run('single');
  t.equal(single.born, true, 'one thread: born inside');
  t.match(single.cgroup.split('\n').find((l) => l.startsWith('0::')), new RegExp(`/skillgate-${process.pid}-\\d+/s\\d+$`));
  const threaded = run('threaded');
  t.equal(threaded.born, false, 'two threads: a plain fork, the caller joins by writing cgroup.procs');
  t.notMatch(threaded.cgroup.split('\n').find((l) => l.startsWith('0::')), /skillgate-/, 'not moved by the fork itself');
});
