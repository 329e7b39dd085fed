import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { hostScriptPath, precompileHost, resolvePython } from '../../src/skills/python.js';

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

t.test('the host package is precompiled next to host.py, so cold calls do not compile it', async (t) => {
  const python = await resolvePython('python3', env);
  const hostScript = hostScriptPath();
  t.equal(await precompileHost(python.executable, hostScript, env), true);
  const cache = path.join(path.dirname(hostScript), 'skillgate_host', '__pycache__');
  const compiled = fs.readdirSync(cache).filter((f) => f.endsWith('.pyc')).map((f) => f.split('.')[0]);
  for (const module of ['__init__', 'discovery', 'supervisor', 'spawner', 'skill_process', 'reaper', 'call', 'wire']) {
    t.ok(compiled.includes(module), `${module} compiled`);
  }
});

t.test('precompiling is best effort: a missing interpreter answers false, not an error', async (t) => {
  t.equal(await precompileHost('/nonexistent/python3', hostScriptPath(), env), false);
});

t.test('host.py is found from src/ (and from dist/, which holds no .py files)', async (t) => {
  const hostScript = hostScriptPath();
  t.match(hostScript, /src\/skills\/host\.py$/);
  t.ok(fs.existsSync(path.join(path.dirname(hostScript), 'skillgate_host', 'supervisor.py')), 'the package sits next to it');
});
