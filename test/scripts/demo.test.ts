import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/gateway-process.js';

function demoProcessesLeft(): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes('skillgate-demo-') && !l.includes('ps -eo'));
}

t.test('npm run demo replays the conversation, exits 0 and leaves no process behind', async (t) => {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/demo.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 0, out);
  t.ok(Date.now() - started < 30_000, 'within 30 s');
  t.match(out, 'OpenClaw, what files do we have in our training workspace?');
  t.match(out, /Skill executed: check_workspace_files \(ok/);
  t.match(out, /datasets\//, 'the workspace listing reached the chat');
  t.match(out, /Security Filter: Unauthorized request from user_id: 666666666/);
  t.match(out, /HTTP 401/);
  t.match(out, /Demo finished/);
  t.notMatch(out, /✗ expected/);
  t.same(demoProcessesLeft(), []);
});
