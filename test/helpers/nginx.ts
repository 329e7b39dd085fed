import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from './gateway-process.js';
import { canConnect, freePort } from './system.js';

/**
 * A private nginx on loopback for the reverse-proxy tests, with the shipped proxy snippet
 * (deploy/nginx/skillgate-proxy.conf) in place: the one-gateway site written by the test, or the
 * shipped two-replica site (deploy/nginx/skillgate-ha.conf) as it is, ports and TLS aside.
 */

/** Fills `prefix` (a fresh test dir) with nginx's temp paths, logs and the shipped proxy snippet. */
export function nginxPrefix(prefix: string): string {
  for (const dir of ['logs', 'tmp', 'snippets']) mkdirSync(path.join(prefix, dir));
  writeFileSync(path.join(prefix, 'snippets/skillgate-proxy.conf'), readFileSync(path.join(ROOT, 'deploy/nginx/skillgate-proxy.conf')));
  return prefix;
}

/** Runs nginx in the foreground with `servers` as its http block; resolves once `port` listens. */
export async function runNginx(bin: string, prefix: string, servers: string, port: number): Promise<{ stop(): Promise<void> }> {
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    `daemon off;
     master_process off;
     worker_processes 1;
     pid ${prefix}/nginx.pid;
     error_log stderr warn;
     events { worker_connections 64; }
     http {
       access_log off;
       client_body_temp_path ${prefix}/tmp/body;
       proxy_temp_path ${prefix}/tmp/proxy;
       fastcgi_temp_path ${prefix}/tmp/fastcgi;
       uwsgi_temp_path ${prefix}/tmp/uwsgi;
       scgi_temp_path ${prefix}/tmp/scgi;
       ${servers}
     }`,
  );
  const child: ChildProcess = spawn(bin, ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    if (await canConnect(port)) break;
    if (i >= 100) throw new Error(`nginx did not listen within 5 s: ${stderr}`);
    await sleep(50);
  }
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000, undefined, { ref: false })]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * The shipped deploy/nginx/skillgate-ha.conf (upstream, location, retry rules) in front of two
 * replicas listening on 127.0.0.1 `replicaPorts` (TLS=off): only the ports it names are swapped
 * and TLS is left out; plain HTTP on the returned `port`.
 */
export async function startShippedHaNginx(bin: string, dir: string, replicaPorts: [number, number]): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  let site = readFileSync(path.join(ROOT, 'deploy/nginx/skillgate-ha.conf'), 'utf8');
  const shippedUpstreams = [...site.matchAll(/^\s*server 127\.0\.0\.1:(\d+) /gm)].map((m) => m[1]);
  if (shippedUpstreams.length !== 2) throw new Error(`skillgate-ha.conf should name two loopback replicas, names ${shippedUpstreams.length}`);
  shippedUpstreams.forEach((shipped, i) => (site = site.replace(`server 127.0.0.1:${shipped} `, `server 127.0.0.1:${replicaPorts[i]} `)));
  site = site
    .replace(/^\s*listen \[::\]:443 .*$/m, '')
    .replace(/^\s*listen 443 .*$/m, `listen 127.0.0.1:${port};`)
    .replace(/^\s*ssl_.*$/gm, '')
    .replace(/\/var\/log\/nginx\/skillgate\.access\.log/, 'off');
  const nginx = await runNginx(bin, nginxPrefix(dir), site, port);
  return { port, stop: nginx.stop };
}
