import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { which } from '../helpers/system.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The deployment files, checked without a Docker engine: the Dockerfile's shape, the compose
 * topology (parsed as YAML), the Caddyfile through `caddy adapt` and the systemd unit through
 * `systemd-analyze verify` when those tools are installed (skipped with a reason otherwise).
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

function run(bin: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(bin, args, { cwd: root, env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

t.test('the Dockerfile is multi-stage, slim, non-root, with python3, a HEALTHCHECK and no dev dependencies', async (t) => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  t.ok(stages.length >= 2, 'multi-stage');
  const final = stages.at(-1)!;
  t.match(final, /^node:\$\{NODE_VERSION\}-slim AS runtime/);
  t.match(dockerfile, /ARG NODE_VERSION=2[4-9]/, 'current Node LTS');
  t.match(final, /apt-get install[^\n]*python3/);
  const user = /^USER (\S+)/m.exec(final)?.[1];
  t.ok(user && user !== 'root' && user !== '0', `runs as ${user}`);
  t.match(final, /^HEALTHCHECK [\s\S]*\/healthz/m);
  t.match(dockerfile, /npm prune --omit=dev/);
  t.notMatch(final, /npm (ci|install)/, 'the final stage installs nothing from npm');
  t.match(final, /CMD \["node", "dist\/main\.js"\]/);
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  t.ok(pkg.dependencies.tsx, 'tsx is a production dependency, so the CLIs work in the image');
});

t.test('.dockerignore keeps secrets, state and build output out of the build context', async (t) => {
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
  for (const entry of ['.env', 'node_modules', 'dist', 'data', 'certs/*.pem', '.git']) t.ok(ignored.includes(entry), entry);
});

t.test('docker-compose.yml runs the gateway with TLS=off behind Caddy, trusting only the compose network', async (t) => {
  let YAML: { parse(text: string): unknown };
  try {
    YAML = (await import('yaml')) as never;
  } catch {
    return t.skip('the yaml parser (a dependency of tap) is not installed', () => {});
  }
  const compose = YAML.parse(read('docker-compose.yml')) as {
    services: Record<string, { environment?: Record<string, string>; volumes?: string[]; ports?: string[]; depends_on?: object; image?: string; read_only?: boolean }>;
    networks: { edge: { ipam: { config: Array<{ subnet: string }> } } };
  };
  const gateway = compose.services.skillgate!;
  const caddy = compose.services.caddy!;
  t.equal(gateway.environment?.TLS, 'off');
  t.equal(gateway.environment?.TRUST_PROXY, compose.networks.edge.ipam.config[0]!.subnet, 'TRUST_PROXY is the network Caddy is on');
  const mounts = (gateway.volumes ?? []).map((v) => /:(\/[^:]*)(?::ro|:rw)?$/.exec(v)?.[1]);
  t.same(mounts.sort(), ['/app/skills', '/data', '/workspace'], 'data, skills and workspace volumes');
  t.same(gateway.ports, ['127.0.0.1:9001:9001'], 'the admin port is for the host only; the webhook port is not published');
  t.equal(gateway.read_only, true);
  t.match(caddy.image, /^caddy:2/);
  t.ok(caddy.volumes?.some((v) => v.startsWith('./deploy/Caddyfile:/etc/caddy/Caddyfile')));
  t.same(caddy.depends_on, { skillgate: { condition: 'service_healthy' } });
  const tunnel = compose.services.cloudflared as { profiles?: string[]; environment?: Record<string, string>; networks?: string[] } | undefined;
  t.same(tunnel?.profiles, ['cloudflared'], 'Cloudflare Tunnel (behind NAT) only with --profile cloudflared');
  t.equal(tunnel?.environment?.TUNNEL_TOKEN, '${CLOUDFLARE_TUNNEL_TOKEN:-}', 'its token from .env, not in the file');
  t.same(tunnel?.networks, ['edge'], 'on the network TRUST_PROXY names');
});

t.test('the Caddyfile forwards only POST WEBHOOK_PATH to the gateway and answers 404 otherwise', async (t) => {
  const caddy = which('caddy');
  if (!caddy) return t.skip('caddy is not installed (apt-get install -y caddy)', () => {});
  const result = await run(caddy, ['adapt', '--config', 'deploy/Caddyfile', '--adapter', 'caddyfile'], {
    SKILLGATE_DOMAIN: 'bot.example.com',
    WEBHOOK_PATH: '/hooks/tg',
  });
  t.equal(result.code, 0, result.out);
  const config = JSON.parse(result.out.slice(result.out.indexOf('{'), result.out.lastIndexOf('}') + 1)) as {
    apps: { http: { servers: Record<string, { routes: Array<{ match: unknown; handle: Array<{ routes: Array<{ match?: unknown; handle: unknown }> }> }> }> } };
  };
  const site = Object.values(config.apps.http.servers)[0]!.routes[0]!;
  t.same(site.match, [{ host: ['bot.example.com'] }]);
  const [webhook, fallback] = site.handle[0]!.routes;
  t.same(webhook!.match, [{ method: ['POST'], path: ['/hooks/tg'] }]);
  t.match(JSON.stringify(webhook!.handle), /"handler":"reverse_proxy","upstreams":\[\{"dial":"skillgate:9000"\}\]/);
  t.equal(fallback!.match, undefined, 'the fallback matches everything else');
  t.match(JSON.stringify(fallback!.handle), /"handler":"static_response","status_code":404/);
});

t.test('the systemd unit is hardened and passes systemd-analyze verify', async (t) => {
  const unit = read('deploy/skillgate.service');
  for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'PrivateTmp=yes', 'RestartPreventExitStatus=78', 'KillMode=mixed']) {
    t.match(unit, new RegExp(`^${line}$`, 'm'), line);
  }
  t.match(unit, /^ReadWritePaths=.*\/data .*AI_BOOTCAMP$/m, 'writable: data and workspace only');
  t.match(unit, /^User=skillgate$/m);
  const analyze = which('systemd-analyze');
  if (!analyze) return t.skip('systemd-analyze is not installed', () => {});
  const result = await run(analyze, ['verify', path.join(root, 'deploy/skillgate.service')]);
  t.equal(result.code, 0, result.out);
  t.equal(result.out.trim(), '', 'no warnings');
});
