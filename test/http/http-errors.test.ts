import Fastify from 'fastify';
import t from 'tap';
import { SkillgateError } from '../../src/errors.js';
import { installJsonErrors } from '../../src/http/http-errors.js';
import { captureLogger } from '../helpers/logger.js';
import type { TestContext } from '../helpers/tap.js';

async function app(t: TestContext, thrown: Error) {
  const log = captureLogger();
  const server = Fastify();
  installJsonErrors(server, log.logger);
  server.get('/boom', async () => {
    throw thrown;
  });
  await server.ready();
  t.teardown(() => server.close());
  return { server, log };
}

t.test('a catalogue error answers with the status the table gives it, and its message', async (t) => {
  const { server } = await app(t, new SkillgateError('SG_BAD_REQUEST', 'Bad Request: body is not valid JSON'));
  const res = await server.inject('/boom');
  t.equal(res.statusCode, 400);
  t.same(res.json(), { error: 'Bad Request: body is not valid JSON' });
});

t.test('a catalogue error with a 5xx status keeps its status but not its message, and is logged', async (t) => {
  const { server, log } = await app(t, new SkillgateError('SG_STORE_UNAVAILABLE', 'disk full at /srv/data'));
  const res = await server.inject('/boom');
  t.equal(res.statusCode, 503);
  t.same(res.json(), { error: 'Internal Server Error' });
  t.match(log.text(), /Request failed/);
});

t.test('a catalogue error that never maps to HTTP, or any other error, is a 500 with nothing revealed', async (t) => {
  for (const thrown of [new SkillgateError('SG_CONFIG_INVALID', 'TLS_CERT_FILE: missing'), new Error('secret detail')]) {
    const { server } = await app(t, thrown);
    const res = await server.inject('/boom');
    t.equal(res.statusCode, 500);
    t.same(res.json(), { error: 'Internal Server Error' });
  }
});

t.test('an unknown route is a JSON 404', async (t) => {
  const { server } = await app(t, new Error('unused'));
  const res = await server.inject('/nowhere');
  t.equal(res.statusCode, 404);
  t.same(res.json(), { error: 'Not Found' });
});
