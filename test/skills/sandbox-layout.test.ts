import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bwrapWorks, DECORATOR, MODES, startRuntime } from './helpers.js';

const skip = bwrapWorks() ? false : 'bubblewrap (bwrap) is not installed or cannot create namespaces here';

const PROBES = `${DECORATOR}
import os, subprocess, sys

@skill("Read a file")
def read(path: str):
    with open(path) as f:
        return f.read()

@skill("Write a file")
def write(path: str):
    with open(path, "w") as f:
        f.write("planted")
    return "written"

@skill("List a folder")
def ls(path: str):
    return sorted(os.listdir(path))

@skill("Run a Python subprocess")
def child():
    return subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True).stdout.strip()
`;

const SECRET = 'TELEGRAM_BOT_TOKEN=123456:gateway-secret';

/** The seed's layout (the gateway inside the workspace) or the flat one (side by side). */
function layout(root: string, nested: boolean) {
  const workspace = path.join(root, 'AI_BOOTCAMP');
  const gateway = nested ? path.join(workspace, 'labs', 'openclaw') : path.join(root, 'skillgate');
  const home = path.join(root, 'home');
  for (const dir of [workspace, path.join(gateway, 'data'), path.join(gateway, 'certs'), path.join(gateway, 'skills'), home]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.writeFileSync(path.join(gateway, '.env'), SECRET);
  fs.writeFileSync(path.join(gateway, 'data', 'audit.log'), 'audit secret');
  fs.writeFileSync(path.join(gateway, 'certs', 'key.pem'), '-----BEGIN PRIVATE KEY-----');
  fs.writeFileSync(path.join(gateway, 'skills', 'probes.py'), PROBES);
  fs.writeFileSync(path.join(home, '.bashrc'), 'home secret');
  fs.writeFileSync(path.join(workspace, 'notes.txt'), 'workspace notes');
  return { workspace, gateway, home, skills: path.join(gateway, 'skills') };
}

for (const nested of [true, false]) {
  for (const mode of MODES) {
    const name = `${mode}, ${nested ? 'nested (gateway at WORKSPACE/labs/openclaw)' : 'flat'} layout: SKILL_SANDBOX=bwrap keeps the gateway's files out of reach`;
    t.test(name, { skip }, async (t) => {
      // Not t.testdir(): startRuntime makes that one afresh for its own files.
      const root = `${t.testdirName}-layout`;
      t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
      const dirs = layout(root, nested);
      const { runtime } = await startRuntime(t, {}, {
        mode,
        sandbox: 'bwrap',
        dir: dirs.skills,
        workspaceDir: dirs.workspace,
        gatewayPaths: [dirs.gateway],
        env: { PATH: process.env.PATH, HOME: dirs.home },
      });
      t.same(runtime.list().map((s) => s.name).sort(), ['child', 'ls', 'read', 'write']);
      const denied = async (skill: string, args: Record<string, unknown>, what: string) => {
        const result = await runtime.run(skill, args);
        t.not(result.outcome, 'ok', what);
        t.notOk(/gateway-secret|audit secret|PRIVATE KEY|home secret/.test(result.output), `${what}: nothing leaked`);
      };

      await denied('read', { path: path.join(dirs.gateway, '.env') }, 'reading .env');
      await denied('read', { path: path.join(dirs.gateway, 'data', 'audit.log') }, 'reading DATA_DIR');
      await denied('read', { path: path.join(dirs.gateway, 'certs', 'key.pem') }, 'reading the TLS key');
      await denied('read', { path: path.join(dirs.home, '.bashrc') }, 'reading HOME');
      await denied('write', { path: path.join(dirs.home, 'planted') }, 'writing HOME');
      await denied('write', { path: path.join(dirs.skills, 'planted.py') }, 'planting a file in SKILLS_DIR');
      await denied('read', { path: '/etc/shadow' }, 'reading /etc/shadow');
      t.notOk(fs.existsSync(path.join(dirs.skills, 'planted.py')), 'SKILLS_DIR unchanged');
      t.notOk(fs.existsSync(path.join(dirs.home, 'planted')), 'HOME unchanged');
      const gatewayListing = await runtime.run('ls', { path: dirs.gateway });
      t.notOk(gatewayListing.ok && /\.env|data|certs/.test(gatewayListing.output), 'the gateway folder shows nothing of its own');

      // Controls: the workspace works, SKILLS_DIR reads, Python subprocesses run.
      const listing = await runtime.run('ls', { path: dirs.workspace });
      t.equal(listing.outcome, 'ok');
      t.match(listing.output, nested ? /labs[\s\S]*notes\.txt/ : /notes\.txt/);
      t.equal((await runtime.run('read', { path: path.join(dirs.workspace, 'notes.txt') })).output, 'workspace notes');
      t.equal((await runtime.run('write', { path: path.join(dirs.workspace, 'out.txt') })).outcome, 'ok');
      t.equal(fs.readFileSync(path.join(dirs.workspace, 'out.txt'), 'utf8'), 'planted');
      t.match((await runtime.run('read', { path: path.join(dirs.skills, 'probes.py') })).output, /def read/, 'SKILLS_DIR is readable');
      t.equal((await runtime.run('child', {})).output, '42', 'a Python subprocess runs');
    });
  }
}
