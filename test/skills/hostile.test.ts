import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { TEST_TOKEN } from '../helpers/logger.js';
import { eventually, fixture, groupGone, MODES, startRuntime } from './helpers.js';

const hostile = () => ({ 'hostile.py': fixture('hostile.py') });
const isRoot = process.getuid?.() === 0;

for (const mode of MODES) {
  t.test(`${mode}: hostile skills`, async (t) => {
    t.test('an infinite loop is killed at the timeout and its process group is gone', async (t) => {
      const { runtime, logs } = await startRuntime(t, hostile(), { mode, timeoutMs: 1000 });
      const result = await runtime.run('infinite_loop', {});
      t.equal(result.outcome, 'timeout');
      t.match(result.output, /Stopped after 1 s/);
      t.ok(result.pid, 'the pid is reported');
      t.ok(await eventually(() => groupGone(result.pid!), 30), 'process group gone');
      t.match(logs(), /"skill":"infinite_loop".*"outcome":"timeout"/);
      t.equal((await runtime.run('echo', { text: 'still alive' })).outcome, 'ok', 'runtime healthy afterwards');
    });

    t.test('a child that leaves the process group is killed too', async (t) => {
      const { runtime, workspace } = await startRuntime(t, hostile(), { mode, timeoutMs: 1000 });
      const result = await runtime.run('orphan_sleeper', {});
      t.equal(result.outcome, 'timeout');
      const pidFile = path.join(workspace, 'orphan.pid');
      t.ok(await eventually(() => fs.existsSync(pidFile), 30), 'the orphan started');
      const orphan = Number(fs.readFileSync(pidFile, 'utf8'));
      t.ok(await eventually(() => !alive(orphan), 30), `the orphan ${orphan} that called setsid is gone`);
    });

    t.test('a fork bomb is bounded and the runtime stays healthy', { skip: isRoot && !userExists('nobody') ? 'needs the nobody user to drop root' : false }, async (t) => {
      // Linux never applies RLIMIT_NPROC to root: as root the bomb must run as an unprivileged user.
      const { runtime } = await startRuntime(t, hostile(), { mode, timeoutMs: 1500, ...(isRoot ? { runAs: 'nobody' } : {}) });
      const result = await runtime.run('fork_bomb', {});
      t.ok(['timeout', 'crashed', 'error'].includes(result.outcome), `outcome ${result.outcome}`);
      t.ok(await eventually(() => groupGone(result.pid!), 50), 'process group gone');
      t.equal((await runtime.run('echo', { text: 'after the bomb' })).outcome, 'ok');
    });

    t.test('10 MB of printed output is capped with a visible mark', async (t) => {
      const { runtime } = await startRuntime(t, hostile(), { mode, maxOutputBytes: 65_536 });
      const result = await runtime.run('flood', {});
      t.equal(result.outcome, 'ok');
      t.equal(result.truncated, true);
      t.ok(Buffer.byteLength(result.output) < 65_536 + 100, 'output within the cap');
      t.match(result.output, /\[output truncated at 65536 bytes\]$/);
    });

    t.test('a 10 MB return value is capped with a visible mark', async (t) => {
      const { runtime } = await startRuntime(t, hostile(), { mode, maxOutputBytes: 4096 });
      const result = await runtime.run('big_return', {});
      t.equal(result.outcome, 'ok');
      t.equal(result.truncated, true);
      t.match(result.output, /^y+\n\[output truncated at 4096 bytes\]$/);
    });

    t.test('os.environ holds no secret from the gateway environment', async (t) => {
      const env = {
        PATH: process.env.PATH,
        HOME: '/root',
        TELEGRAM_BOT_TOKEN: TEST_TOKEN,
        OPENAI_API_KEY: 'sk-test-openai-key-0123456789',
        DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/1/secretdiscordtoken',
        DATABASE_URL: 'postgres://skillgate:db-Pa55word-secret@127.0.0.1/skillgate',
        SOME_OTHER: 'not allowed',
        ALLOWED_ONE: 'passed through',
      };
      const { runtime, workspace } = await startRuntime(t, hostile(), {
        mode,
        env,
        envAllow: ['ALLOWED_ONE', 'OPENAI_API_KEY', 'DATABASE_URL'],
      });
      const result = await runtime.run('dump_env', {});
      t.equal(result.outcome, 'ok');
      const seen = JSON.parse(result.output) as Record<string, string>;
      t.notOk(result.output.includes(TEST_TOKEN.split(':')[1]!), 'no bot token');
      t.notOk(result.output.includes('sk-test-openai-key'), 'no API key, even when listed in SKILL_ENV_ALLOW');
      t.notOk(result.output.includes('secretdiscordtoken'), 'no Discord webhook');
      t.notOk(result.output.includes('db-Pa55word-secret'), 'no database URL, even when listed in SKILL_ENV_ALLOW');
      t.equal(seen.SOME_OTHER, undefined);
      t.equal(seen.ALLOWED_ONE, 'passed through');
      t.equal(seen.WORKSPACE_DIR, workspace);
      const allowed = new Set(['PATH', 'HOME', 'LANG', 'TZ', 'WORKSPACE_DIR', 'ALLOWED_ONE', 'PYTHONIOENCODING', 'LC_CTYPE', 'TMPDIR', 'TMP', 'TEMP']);
      // tap's process-info hook patches child_process.spawn to add its own variables; not ours.
      const injectedByTap = (k: string) => k.startsWith('_TAPJS_') || k === 'NODE_OPTIONS';
      t.same(Object.keys(seen).filter((k) => !allowed.has(k) && !injectedByTap(k)), [], 'nothing but the allowlist');
    });

    t.test('importing a missing module at call time is a clear error', async (t) => {
      const { runtime, logs } = await startRuntime(t, hostile(), { mode });
      const result = await runtime.run('missing_module', {});
      t.equal(result.outcome, 'error');
      t.match(result.output, /ModuleNotFoundError: No module named 'skillgate_no_such_module'/);
      t.match(logs(), /Traceback/, 'the trace is in the log');
    });

    t.test('an exception and a bare exit become error results', async (t) => {
      const { runtime } = await startRuntime(t, hostile(), { mode });
      const raised = await runtime.run('raises', {});
      t.equal(raised.outcome, 'error');
      t.equal(raised.output, 'ValueError: the skill failed on purpose');
      const exited = await runtime.run('exits', {});
      t.equal(exited.outcome, 'crashed');
      t.equal(exited.exitCode, 3);
      t.match(exited.output, /exited with code 3/);
    });

    t.test('a shell-looking argument is passed as data, nothing executed', async (t) => {
      const { runtime, workspace } = await startRuntime(t, hostile(), { mode });
      const marker = path.join(workspace, 'pwned');
      const text = `"; rm -rf ~; touch ${marker}; echo "$(id)`;
      const result = await runtime.run('echo', { text });
      t.equal(result.outcome, 'ok');
      const echoed = JSON.parse(result.output) as { text: string; cwd: string; workspace: string };
      t.equal(echoed.text, text, 'the exact string arrives');
      t.equal(echoed.cwd, fs.realpathSync(workspace), 'cwd is the workspace');
      t.notOk(fs.existsSync(marker), 'no command ran');
    });

    t.test('concurrency is capped and a full queue answers busy', async (t) => {
      const { runtime } = await startRuntime(t, hostile(), { mode, timeoutMs: 1500, maxConcurrency: 1, queueMax: 1 });
      const first = runtime.run('infinite_loop', {});
      const second = runtime.run('echo', { text: 'queued' });
      const third = await runtime.run('echo', { text: 'refused' });
      t.equal(third.outcome, 'busy');
      t.match(third.output, /Too many skills are running/);
      t.equal((await first).outcome, 'timeout');
      t.equal((await second).outcome, 'ok', 'the queued call runs once a slot frees');
    });

    t.test('aborting a call kills it and says so', async (t) => {
      const { runtime } = await startRuntime(t, hostile(), { mode, timeoutMs: 10_000 });
      const controller = new AbortController();
      const pending = runtime.run('infinite_loop', {}, { signal: controller.signal });
      setTimeout(() => controller.abort(), 300);
      const result = await pending;
      t.equal(result.outcome, 'error');
      t.match(result.output, /Cancelled/);
    });

    t.test('a missing interpreter at start is a configuration error naming PYTHON_BIN', async (t) => {
      await t.rejects(startRuntime(t, hostile(), { mode, pythonBin: '/nonexistent/python3' }), { code: 'SG_CONFIG_INVALID', message: /PYTHON_BIN/ });
    });
  });
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function userExists(name: string): boolean {
  try {
    return fs.readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

