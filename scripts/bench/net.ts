import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { generateSelfSigned } from '../../src/http/self-signed.js';

/** A port the kernel just handed out on 127.0.0.1 (free unless someone grabs it in between). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** PEM, to trust as the CA on the client side. */
  cert: string;
}

/** One self-signed pair for 127.0.0.1, shared by every server under test (same TLS cost for all). */
export async function writeSelfSigned(dir: string): Promise<TlsFiles> {
  const { cert, key } = await generateSelfSigned({ host: '127.0.0.1' });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await fs.writeFile(certFile, cert);
  await fs.writeFile(keyFile, key, { mode: 0o600 });
  return { certFile, keyFile, cert };
}

/**
 * Polls `url` until it answers 200; resolves with the elapsed milliseconds. Bounded by
 * `timeoutMs`, and gives up early when `alive()` turns false (the process died).
 */
export async function waitFor200(url: string, timeoutMs: number, alive: () => boolean): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (!alive()) throw new Error(`process died while waiting for ${url}`);
    try {
      const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await res.body.dump();
      if (res.statusCode === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(10);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
