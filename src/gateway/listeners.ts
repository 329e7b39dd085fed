import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ConfigError, PortInUseError, SkillgateError } from '../errors.js';

/** The TLS pair, or a ConfigError that says how to make one. */
export async function readTls(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer }> {
  try {
    return { cert: await fs.readFile(certFile), key: await fs.readFile(keyFile) };
  } catch (err) {
    throw new ConfigError([
      `TLS_CERT_FILE/TLS_KEY_FILE: cannot read ${(err as NodeJS.ErrnoException).path ?? certFile} (${(err as NodeJS.ErrnoException).code}); ` +
        'make a self-signed pair with `npm run certs -- --host YOUR_HOST`, or set TLS=off behind a reverse proxy',
    ]);
  }
}

/** Listens, turning the two usual refusals into errors that name the fix. */
export async function listenOrExplain(app: FastifyInstance, host: string, port: number): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(host, port);
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      throw new SkillgateError('SG_PORT_FORBIDDEN', `No permission to listen on ${host}:${port}; use a port above 1023 or a reverse proxy`);
    }
    throw err;
  }
}
