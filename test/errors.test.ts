import t from 'tap';
import { ConfigError, ERROR_TABLE, EXIT_CONFIG, exitCodeOf, PortInUseError, ReplyRejectedError, SkillgateError } from '../src/errors.js';

t.test('every catalogue entry names its class, says what to do and has an exit code', async (t) => {
  for (const [code, spec] of Object.entries(ERROR_TABLE)) {
    t.match(code, /^SG_[A-Z_]+$/, code);
    t.match(spec.className, /^[A-Z][A-Za-z]+$/, `${code} class`);
    t.ok(spec.message.length > 20, `${code} message`);
    t.ok(Number.isInteger(spec.exitCode) && spec.exitCode > 0, `${code} exit code`);
  }
});

t.test('configuration problems exit 78, including a sandbox that was asked for and cannot work', async (t) => {
  t.equal(new ConfigError(['X: bad']).exitCode, EXIT_CONFIG);
  t.equal(exitCodeOf(new SkillgateError('SG_SANDBOX_UNAVAILABLE', 'no bwrap')), EXIT_CONFIG);
  t.equal(exitCodeOf(new SkillgateError('SG_WEBHOOK_URL_INVALID', 'no PUBLIC_URL')), EXIT_CONFIG);
});

t.test('other failures exit 1, and so does an error outside the catalogue', async (t) => {
  t.equal(exitCodeOf(new PortInUseError('127.0.0.1', 8443)), 1);
  for (const code of ['SG_SKILL_HOST_MISSING', 'SG_SKILL_DISCOVERY_FAILED', 'SG_SKILL_NOT_FOUND', 'SG_UPDATE_CRASH_LOOP'] as const) {
    t.equal(exitCodeOf(new SkillgateError(code, 'x')), 1, code);
  }
  t.equal(exitCodeOf(new Error('boom')), 1);
  t.equal(exitCodeOf('not even an error'), 1);
});

t.test('errors that reach HTTP carry their status; the rest carry none', async (t) => {
  t.equal(new SkillgateError('SG_STORE_UNAVAILABLE', 'disk full').httpStatus, 503);
  t.equal(new SkillgateError('SG_SHUTTING_DOWN', 'stopping').httpStatus, 503);
  t.equal(new SkillgateError('SG_BAD_REQUEST', 'not JSON').httpStatus, 400);
  t.equal(new ConfigError(['X: bad']).httpStatus, undefined);
});

t.test('each class raises the code the table assigns to it', async (t) => {
  const made = [new ConfigError(['X: bad']), new PortInUseError('::', 1), new ReplyRejectedError(5, 'Forbidden: bot was blocked')];
  for (const err of made) t.equal(ERROR_TABLE[err.code].className, err.name, err.code);
  t.equal(made[2]!.message, 'Forbidden: bot was blocked');
});
