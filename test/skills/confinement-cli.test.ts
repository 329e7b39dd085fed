import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { landlockMissing, listener, makeLayout, writeTargets } from './confinement-layout.js';

// `npm run skills -- run` confines exactly like the gateway, as root and as an unprivileged user
// (setpriv to nobody): the CLI process plays the gateway, its /proc/<pid>/environ and its pid are
// the targets. The unprivileged run needs an interpreter outside /root (pyenv lives there).
const ROOT = path.resolve(import.meta.dirname, '../..');
const missing = await landlockMissing();
const isRoot = process.getuid?.() === 0;
const SYSTEM_PYTHON = '/usr/bin/python3';
const NOBODY = 65534;

function unprivilegedSkip(): string | false {
  if (!isRoot) return 'the tests run unprivileged already: the root case covers it';
  if (!fs.existsSync('/usr/bin/setpriv')) return 'setpriv (util-linux) is not installed';
  if (!fs.existsSync(SYSTEM_PYTHON)) return `${SYSTEM_PYTHON} is missing (the usual python3 may live under /root)`;
  const closed = closedAncestor(ROOT);
  if (closed) return `${closed} is not searchable by other users (e.g. a mktemp -d checkout): nobody cannot run the CLI from here`;
  return false;
}

/** The first folder from / down to `dir` that other users may not pass through, if any. */
function closedAncestor(dir: string): string | undefined {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const folder = path.sep + parts.slice(0, i).join(path.sep);
    if ((fs.statSync(folder).mode & 0o001) === 0) return folder;
  }
  return undefined;
}

const USERS = [
  { name: 'the gateway user', skip: false as string | false, wrap: [] as string[], python: 'python3' },
  { name: 'nobody', skip: unprivilegedSkip(), wrap: ['/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'], python: SYSTEM_PYTHON },
];

function cli(_t: Test, wrap: string[], args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');
  const command = [...wrap, process.execPath, tsx, path.join(ROOT, 'scripts/skills.ts'), ...args];
  // exec keeps the shell's pid: it is the CLI's, written where the skill file finds it.
  // tap's process-info hook (NODE_OPTIONS) would write into .tap/ as the other user: not ours.
  const script = `unset NODE_OPTIONS; echo $$ > "$WORKSPACE_DIR/gateway.pid"; exec "$@"`;
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script, 'sh', ...command], { cwd, env, encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

for (const user of USERS) {
  t.test(`npm run skills -- run, as ${user.name}: the same confinement`, { skip: missing || user.skip }, async (t) => {
    const layout = makeLayout(t, 'nested');
    const botApiPort = await listener(t);
    writeTargets(layout, { adminPort: await listener(t), botApiPort }, null);
    if (user.wrap.length > 0) chownTree(layout.root, NOBODY);
    const g = layout.gatewayDir;
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: layout.root,
      SKILLS_DIR: layout.skillsDir,
      WORKSPACE_DIR: layout.workspace,
      DATA_DIR: path.join(g, 'data'),
      TLS_CERT_FILE: path.join(g, 'certs', 'cert.pem'),
      TLS_KEY_FILE: path.join(g, 'certs', 'key.pem'),
      PYTHON_BIN: user.python,
      TELEGRAM_BOT_TOKEN: '123456:gateway-secret',
    };
    const escape = await cli(t, user.wrap, ['run', 'escape'], env, g);
    t.equal(escape.code, 0, `exit 0 ${escape.stderr.slice(-500)}`);
    const { attacks, controls } = JSON.parse(escape.stdout) as { attacks: Record<string, string>; controls: Record<string, string> };
    for (const [probe, outcome] of Object.entries(attacks)) t.match(outcome, /^denied/, `${probe} is denied`);
    for (const [probe, outcome] of Object.entries(controls)) t.equal(outcome, 'ALLOWED', `${probe} works`);
    const networked = await cli(t, user.wrap, ['run', 'net_connect', JSON.stringify({ port: botApiPort })], env, g);
    t.equal(networked.code, 0, `a network=True skill connects: ${networked.stderr}`);
    const plain = await cli(t, user.wrap, ['run', 'plain_connect', JSON.stringify({ port: botApiPort })], env, g);
    t.equal(plain.code, 1, 'no TCP without the attribute');
    t.match(plain.stderr, /PermissionError/);
  });
}

function chownTree(dir: string, uid: number): void {
  fs.chownSync(dir, uid, uid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid);
    else fs.lchownSync(p, uid, uid);
  }
}
