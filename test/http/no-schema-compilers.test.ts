import Fastify from 'fastify';
import t from 'tap';
import { noSchemaCompilers } from '../../src/http/no-schema-compilers.js';
import { freshNodeJson } from '../helpers/fresh-node.js';

t.test('a route that declares a schema fails at registration, naming the route and the fix', async (t) => {
  const app = Fastify({ schemaController: noSchemaCompilers });
  t.teardown(() => app.close());
  app.post('/with-schema', { schema: { body: { type: 'object' } } }, async () => ({ ok: true }));
  await t.rejects(async () => app.ready(), /POST \/with-schema.*route schemas are not compiled here; validate with zod/);
});

t.test('a response schema is refused the same way', async (t) => {
  const app = Fastify({ schemaController: noSchemaCompilers });
  t.teardown(() => app.close());
  app.get('/out', { schema: { response: { 200: { type: 'object' } } } }, async () => ({ ok: true }));
  await t.rejects(async () => app.ready(), /GET \/out.*route schemas are not compiled here/);
});

t.test('routes without schemas answer as before, and Fastify never loads Ajv or fast-json-stringify', async (t) => {
  // A fresh process: this one has loaded Fastify's defaults through other tests' imports.
  const script = `
    import Module from 'node:module';
    import Fastify from 'fastify';
    import { noSchemaCompilers } from ${JSON.stringify(new URL('../../src/http/no-schema-compilers.ts', import.meta.url).pathname)};
    const app = Fastify({ schemaController: noSchemaCompilers });
    app.get('/healthz', async () => ({ status: 'ok' }));
    const res = await app.inject('/healthz');
    await app.close();
    const loaded = Object.keys(Module._cache).filter((f) => /node_modules\\/(ajv|@fastify\\/ajv-compiler|@fastify\\/fast-json-stringify-compiler)\\//.test(f));
    console.log(JSON.stringify({ status: res.statusCode, body: res.json(), loaded }));`;
  t.same(freshNodeJson(script), { status: 200, body: { status: 'ok' }, loaded: [] });
});
