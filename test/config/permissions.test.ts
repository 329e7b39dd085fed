import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadConfig, privatePaths, warnLoosePermissions } from '../../src/config/index.js';
import { captureLogger, TEST_SECRET, TEST_TOKEN } from '../helpers/logger.js';
import type { TestContext } from '../helpers/tap.js';

const env = { TELEGRAM_BOT_TOKEN: TEST_TOKEN, TELEGRAM_ALLOWED_USER_IDS: '111', TELEGRAM_WEBHOOK_SECRET: TEST_SECRET };

/** A project folder as an operator leaves it: .env, certs/key.pem, data/, with the given modes. */
function project(t: TestContext, modes: { env: number; key: number; data: number }) {
  const dir = t.testdir({ '.env': `TELEGRAM_BOT_TOKEN=${TEST_TOKEN}\n`, certs: { 'key.pem': '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n' }, data: {} });
  fs.chmodSync(path.join(dir, '.env'), modes.env);
  fs.chmodSync(path.join(dir, 'certs/key.pem'), modes.key);
  fs.chmodSync(path.join(dir, 'data'), modes.data);
  return dir;
}

t.test('.env and the TLS key at 0644 and DATA_DIR at 0755 get one WARN each with the chmod that fixes it', async (t) => {
  const dir = project(t, { env: 0o644, key: 0o644, data: 0o755 });
  const log = captureLogger([TEST_TOKEN, TEST_SECRET]);
  const count = warnLoosePermissions(privatePaths(loadConfig(env, dir), dir), log.logger, dir);
  t.equal(count, 3);
  const lines = log.lines.map((l) => JSON.parse(l) as { level: number; msg: string });
  t.equal(lines.length, 3, 'one line per path');
  t.ok(lines.every((l) => l.level === 40), 'each a WARN');
  t.match(lines[0]!.msg, /the \.env file \.env is open to other users \(mode 0644\); fix with: chmod 600 \.env$/);
  t.match(lines[1]!.msg, /the TLS key certs\/key\.pem .*\(mode 0644\); fix with: chmod 600 certs\/key\.pem$/);
  t.match(lines[2]!.msg, /DATA_DIR data .*\(mode 0755\); fix with: chmod 700 data$/);
  t.notMatch(log.text(), TEST_TOKEN.split(':')[1]!, 'nothing of the content, no secret');
  t.notMatch(log.text(), /PRIVATE KEY|MIIE/);
});

t.test('group bits alone count: 0640 and 0750 warn too', async (t) => {
  const dir = project(t, { env: 0o640, key: 0o600, data: 0o750 });
  const log = captureLogger();
  t.equal(warnLoosePermissions(privatePaths(loadConfig(env, dir), dir), log.logger, dir), 2);
  t.match(log.text(), /chmod 600 \.env/);
  t.match(log.text(), /chmod 700 data/);
});

t.test('0600 files and a 0700 DATA_DIR: no warning', async (t) => {
  const dir = project(t, { env: 0o600, key: 0o600, data: 0o700 });
  const log = captureLogger();
  t.equal(warnLoosePermissions(privatePaths(loadConfig(env, dir), dir), log.logger, dir), 0);
  t.same(log.lines, []);
});

t.test('missing paths are skipped; the TLS key is checked only when this process serves HTTPS', async (t) => {
  const dir = project(t, { env: 0o600, key: 0o644, data: 0o700 });
  fs.rmSync(path.join(dir, 'data'), { recursive: true });
  const log = captureLogger();
  t.equal(warnLoosePermissions(privatePaths(loadConfig({ ...env, TLS: 'off' }, dir), dir), log.logger, dir), 0, 'TLS=off: the key is not ours to serve');
  t.equal(warnLoosePermissions(privatePaths(loadConfig({ ...env, TELEGRAM_MODE: 'polling' }, dir), dir), log.logger, dir), 0, 'polling: no listener');
  t.equal(warnLoosePermissions(privatePaths(loadConfig(env, dir), dir), log.logger, dir), 1, 'webhook over HTTPS: the key is checked');
});

t.test('a path outside the working directory is shown in full', async (t) => {
  const dir = project(t, { env: 0o600, key: 0o600, data: 0o755 });
  const elsewhere = path.join(dir, 'certs');
  const log = captureLogger();
  warnLoosePermissions(privatePaths(loadConfig({ ...env, DATA_DIR: path.join(dir, 'data') }, elsewhere), elsewhere), log.logger, elsewhere);
  t.match(log.text(), `chmod 700 ${path.join(dir, 'data')}`);
});
