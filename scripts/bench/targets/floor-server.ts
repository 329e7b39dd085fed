import fs from 'node:fs';
import Fastify from 'fastify';
import { announceListening, readTargetOptions } from './target-options.js';

/**
 * The floor: the least any Fastify HTTPS webhook can do. Parses the JSON body (Fastify's own
 * parser) and answers 200; no secret check, no storage, no processing.
 */
const options = readTargetOptions(process.argv);
const app = Fastify({
  logger: false,
  https: { cert: fs.readFileSync(options.certFile), key: fs.readFileSync(options.keyFile) },
});
app.post(options.path, async (_request, reply) => reply.code(200).send());
await app.listen({ host: '127.0.0.1', port: options.port });
announceListening(options.port);
