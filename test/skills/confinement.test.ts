import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { importReports, landlockMissing, listener, makeLayout, startConfined, writeTargets } from './confinement-layout.js';
import { DECORATOR, MODES, startRuntime } from './helpers.js';

// Real kernel, real Python: a hostile skill file in the gateway's SKILLS_DIR tries every way out,
// at import (discovery, the warm host) and in a call, under the default SKILL_SANDBOX=auto.
const missing = await landlockMissing();

function assertDenied(t: Test, results: Record<string, string>, where: string) {
  for (const [probe, outcome] of Object.entries(results)) t.match(outcome, /^denied/, `${where}: ${probe} is denied`);
}

function assertWorks(t: Test, results: Record<string, string>, where: string) {
  for (const [probe, outcome] of Object.entries(results)) t.equal(outcome, 'ALLOWED', `${where}: ${probe} works`);
}

for (const kind of ['nested', 'flat'] as const) {
  for (const mode of MODES) {
    t.test(`${kind} layout, ${mode}: a hostile skill file gets nowhere`, { skip: missing }, async (t) => {
      const layout = makeLayout(t, kind);
      const adminPort = await listener(t);
      const botApiPort = await listener(t);
      writeTargets(layout, { adminPort, botApiPort });
      const { runtime, logs } = await startConfined(t, layout, { mode });
      t.equal(runtime.status().sandbox, 'landlock', 'auto picks Landlock');
      t.match(logs(), /Skill runtime ready \(sandbox landlock ABI \d+/);

      const reports = importReports(layout);
      t.ok(reports.length >= (mode === 'warm' ? 2 : 1), `top-level code ran in ${reports.length} import processes`);
      for (const report of reports) {
        assertDenied(t, report.attacks, 'at import');
        assertWorks(t, report.controls, 'at import');
      }

      const result = await runtime.run('escape', {});
      t.equal(result.outcome, 'ok', result.output);
      const { attacks, controls } = JSON.parse(result.output) as { attacks: Record<string, string>; controls: Record<string, string> };
      assertDenied(t, attacks, 'in a call');
      assertWorks(t, controls, 'in a call');
      t.notOk(fs.existsSync(path.join(layout.skillsDir, 'planted.py')), 'nothing planted in SKILLS_DIR');
      t.notOk(fs.existsSync(path.join(layout.root, 'planted.txt')), 'nothing written into HOME');

      const killer = await runtime.run('kill_host', {});
      t.equal(killer.outcome, 'error', 'the host survives a call that signals it');
      t.match(killer.output, /PermissionError/);
      t.equal(runtime.status().warmHost, mode === 'warm' ? 'up' : 'off');

      const plain = await runtime.run('plain_connect', { port: botApiPort });
      t.equal(plain.outcome, 'error', 'no TCP without the network attribute');
      t.match(plain.output, /PermissionError/);
      const networked = await runtime.run('net_connect', { port: botApiPort });
      t.equal(networked.outcome, 'ok', `a network=True skill connects: ${networked.output}`);
    });
  }
}

t.test('nested layout: a folder created in the workspace later is reachable after the folder watch reloads', { skip: missing }, async (t) => {
  const layout = makeLayout(t, 'nested');
  writeTargets(layout, { adminPort: 1, botApiPort: 1 });
  const { runtime } = await startConfined(t, layout);
  const fresh = path.join(layout.workspace, 'fresh');
  fs.mkdirSync(fresh);
  await runtime.reload(); // what the watch does on its own (watch is off in these tests)
  fs.writeFileSync(path.join(layout.workspace, 'targets.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(layout.workspace, 'targets.json'), 'utf8')), outDir: fresh }));
  const result = await runtime.run('escape', {});
  t.equal(result.outcome, 'ok');
  t.equal((JSON.parse(result.output) as { controls: Record<string, string> }).controls['write in the workspace'], 'ALLOWED');
});

t.test('SKILL_SANDBOX=landlock is honoured, and none says so at start', { skip: missing }, async (t) => {
  const layout = makeLayout(t, 'flat');
  writeTargets(layout, { adminPort: 1, botApiPort: 1 });
  const landlock = await startConfined(t, layout, { sandbox: 'landlock', mode: 'cold' });
  t.equal(landlock.runtime.status().sandbox, 'landlock');
  t.match(landlock.runtime.status().sandboxLevel, /^landlock ABI \d+: filesystem/);
  const none = await startConfined(t, layout, { sandbox: 'none', mode: 'cold' });
  t.equal(none.runtime.status().sandbox, 'none');
  t.match(none.logs(), /"level":(40|"warn").*Skills run unconfined: none \(SKILL_SANDBOX=none\)/);
});

const TEMP_SKILLS = `${DECORATOR}
import os, tempfile

@skill("Leaves a file in this call's private temp dir; its path")
def leave_tmp():
    path = os.path.join(tempfile.gettempdir(), "left.txt")
    with open(path, "w") as f:
        f.write("what call one kept")
    return path

@skill("Leaves its temp dir empty but changed: mode and an extended attribute")
def taint_tmp():
    tmp = tempfile.gettempdir()
    os.chmod(tmp, 0o777)
    try:
        os.setxattr(tmp, "user.note", b"from an earlier call")
    except OSError:
        pass  # a file system without user xattrs: the mode alone must do
    return tmp

@skill("This call's temp dir as it found it")
def own_tmp():
    tmp = tempfile.gettempdir()
    return {"mode": oct(os.stat(tmp).st_mode & 0o7777), "entries": os.listdir(tmp), "xattrs": os.listxattr(tmp)}

@skill("What this call can see of a path")
def peek(path: str):
    seen = {"exists": os.path.exists(os.path.dirname(path))}
    for probe, attempt in (("read", lambda: open(path).read()), ("list the temp root", lambda: os.listdir(os.path.dirname(os.path.dirname(path))))):
        try:
            attempt()
            seen[probe] = "ALLOWED"
        except OSError as err:
            seen[probe] = f"denied ({type(err).__name__})"
    return seen
`;

// The host removes a call's temp dir after its reply (off the call's critical path): the next
// call must not see what the previous one left there, whether or not it is gone yet.
for (const mode of MODES) {
  t.test(`${mode}: a call cannot reach what the previous call left in its temp dir`, { skip: missing }, async (t) => {
    const { runtime } = await startRuntime(t, { 'tmp.py': TEMP_SKILLS }, { mode });
    const left = await runtime.run('leave_tmp', {});
    t.equal(left.outcome, 'ok', left.output);
    const seen = JSON.parse((await runtime.run('peek', { path: left.output })).output) as Record<string, unknown>;
    t.match(seen.read, /^denied/, 'the file is out of reach');
    t.match(seen['list the temp root'], /^denied/, 'so are the other calls\' temp dirs');
    // The warm host removes it before it reads the next request; a cold host may still be at it.
    if (mode === 'warm') t.equal(seen.exists, false, 'and the folder is gone');

    // A warm host hands an answered call's temp dir to a later call only when it is as new.
    t.equal((await runtime.run('taint_tmp', {})).outcome, 'ok');
    for (let i = 0; i < 4; i++) {
      const found = JSON.parse((await runtime.run('own_tmp', {})).output) as Record<string, unknown>;
      t.same(found, { mode: '0o700', entries: [], xattrs: [] }, `call ${i + 1} after it finds a fresh temp dir`);
    }
  });
}
