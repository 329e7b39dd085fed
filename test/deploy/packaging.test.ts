import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { TestContext } from '../helpers/tap.js';
import { which } from '../helpers/system.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The deployment files, checked without a Docker engine: the Dockerfile's shape, the compose
 * topology (parsed as YAML; the ha profile too), the Caddyfiles through `caddy adapt` and the systemd unit through
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

interface ComposeService {
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  image?: string;
  profiles?: string[];
  networks?: string[];
  healthcheck?: { test: string[] };
  read_only?: boolean;
}

t.test('docker-compose.yml profile ha: postgres, two gateway replicas on it, Caddy over both; the default profile untouched', async (t) => {
  let YAML: { parse(text: string, options: { merge: boolean }): unknown };
  try {
    YAML = (await import('yaml')) as never;
  } catch {
    return t.skip('the yaml parser (a dependency of tap) is not installed', () => {});
  }
  // Compose resolves YAML merge keys (<<), which the replicas use to share the gateway's settings.
  const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
    networks: Record<string, { internal?: boolean; ipam?: { config: Array<{ subnet: string }> } }>;
  };
  const { services } = compose;
  const inDefault = Object.keys(services).filter((name) => !services[name]!.profiles);
  t.same(inDefault.sort(), ['caddy', 'skillgate'], 'without a profile: one gateway and Caddy, no database');
  t.notOk(services.skillgate!.environment?.DATABASE_URL, 'the single gateway stays on SQLite');

  const postgres = services.postgres!;
  t.same(postgres.profiles, ['ha']);
  t.match(postgres.image, /^postgres:16/);
  t.equal(postgres.environment?.POSTGRES_PASSWORD, '${POSTGRES_PASSWORD:-}', 'the password comes from .env, never the file');
  t.ok(postgres.volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data')), 'its data on a volume');
  t.match(postgres.healthcheck?.test.join(' '), /pg_isready/);
  t.same(postgres.networks, ['database'], 'on the database network only');
  t.equal(postgres.ports, undefined, 'no published port');
  t.equal(compose.networks.database?.internal, true, 'the database network has no route out');

  const replicas = ['skillgate-a', 'skillgate-b'].map((name) => services[name]!);
  const subnet = compose.networks.edge!.ipam!.config[0]!.subnet;
  for (const [i, replica] of replicas.entries()) {
    const env = replica.environment ?? {};
    t.same(replica.profiles, ['ha']);
    t.equal(replica.image, services.skillgate!.image, 'the same image as the single gateway');
    t.match(env.DATABASE_URL, /^postgres:\/\/skillgate:\$\{POSTGRES_PASSWORD:-\}@postgres:5432\/skillgate$/, 'DATABASE_URL to the postgres service');
    t.equal(env.TLS, 'off');
    t.equal(env.TRUST_PROXY, subnet, 'believes X-Forwarded-For only from the network Caddy is on');
    t.same(replica.depends_on, { postgres: { condition: 'service_healthy' } });
    t.same(replica.networks?.sort(), ['database', 'edge']);
    t.equal(replica.read_only, true, 'hardening inherited from the gateway');
    t.same(replica.ports, [`127.0.0.1:901${i + 1}:9001`], 'its admin port for the host only, one each');
    t.notOk(replica.volumes?.includes('skillgate-data:/data'), 'not the single gateway\'s state');
  }
  const ids = replicas.map((r) => r.environment?.REPLICA_ID);
  t.same(ids, ['skillgate-a', 'skillgate-b'], 'distinct REPLICA_IDs');
  const dataVolumes = replicas.map((r) => r.volumes?.find((v) => v.endsWith(':/data')));
  t.not(dataVolumes[0], dataVolumes[1], 'each replica its own /data (the audit log)');

  const caddy = services['caddy-ha']!;
  t.same(caddy.profiles, ['ha']);
  t.match(caddy.image, /^caddy:2/);
  t.ok(caddy.volumes?.some((v) => v.startsWith('./deploy/Caddyfile.ha:/etc/caddy/Caddyfile')));
  t.equal(caddy.environment?.SKILLGATE_UPSTREAMS, 'skillgate-a:9000 skillgate-b:9000', 'both replicas upstream');
  t.same(caddy.depends_on, { 'skillgate-a': { condition: 'service_healthy' }, 'skillgate-b': { condition: 'service_healthy' } });
  t.same(caddy.networks, ['edge']);
});

async function adaptCaddyfile(t: Pick<TestContext, 'equal'>, file: string, env: Record<string, string>) {
  const caddy = which('caddy')!;
  const result = await run(caddy, ['adapt', '--config', file, '--adapter', 'caddyfile'], env);
  t.equal(result.code, 0, result.out);
  return JSON.parse(result.out.slice(result.out.indexOf('{'), result.out.lastIndexOf('}') + 1)) as {
    apps: { http: { servers: Record<string, { routes: Array<{ match: unknown; handle: Array<{ routes: Array<{ match?: unknown; handle: unknown }> }> }> }> } };
  };
}

t.test('the Caddyfile forwards only POST WEBHOOK_PATH to the gateway and answers 404 otherwise', async (t) => {
  const caddy = which('caddy');
  if (!caddy) return t.skip('caddy is not installed (apt-get install -y caddy)', () => {});
  const config = await adaptCaddyfile(t, 'deploy/Caddyfile', { SKILLGATE_DOMAIN: 'bot.example.com', WEBHOOK_PATH: '/hooks/tg' });
  const site = Object.values(config.apps.http.servers)[0]!.routes[0]!;
  t.same(site.match, [{ host: ['bot.example.com'] }]);
  const [webhook, fallback] = site.handle[0]!.routes;
  t.same(webhook!.match, [{ method: ['POST'], path: ['/hooks/tg'] }]);
  t.match(JSON.stringify(webhook!.handle), /"handler":"reverse_proxy","upstreams":\[\{"dial":"skillgate:9000"\}\]/);
  t.equal(fallback!.match, undefined, 'the fallback matches everything else');
  t.match(JSON.stringify(fallback!.handle), /"handler":"static_response","status_code":404/);
});

t.test('deploy/Caddyfile.ha balances POST WEBHOOK_PATH over the replicas, health-checked on /readyz', async (t) => {
  if (!which('caddy')) return t.skip('caddy is not installed (apt-get install -y caddy)', () => {});
  const config = await adaptCaddyfile(t, 'deploy/Caddyfile.ha', { SKILLGATE_DOMAIN: 'bot.example.com', WEBHOOK_PATH: '/hooks/tg' });
  const site = Object.values(config.apps.http.servers)[0]!.routes[0]!;
  t.same(site.match, [{ host: ['bot.example.com'] }]);
  const [webhook, fallback] = site.handle[0]!.routes;
  t.same(webhook!.match, [{ method: ['POST'], path: ['/hooks/tg'] }]);
  const proxy = JSON.stringify(webhook!.handle);
  t.match(proxy, /"upstreams":\[\{"dial":"skillgate-a:9000"\},\{"dial":"skillgate-b:9000"\}\]/, 'both compose replicas by default');
  t.match(proxy, /"active":\{[^}]*"port":9001[^}]*"uri":"\/readyz"/, 'active check on the admin /readyz');
  t.notMatch(proxy, /"passive"/, 'no passive checks: a failed POST retry would count against the healthy replica');
  t.match(proxy, /"try_duration":[1-9]/, 'a refused connection is tried on the next replica');
  t.match(JSON.stringify(fallback!.handle), /"handler":"static_response","status_code":404/);

  const three = await adaptCaddyfile(t, 'deploy/Caddyfile.ha', {
    SKILLGATE_DOMAIN: 'bot.example.com',
    SKILLGATE_UPSTREAMS: '10.0.0.1:9000 10.0.0.2:9000 10.0.0.3:9000',
    SKILLGATE_ADMIN_PORT: '9101',
  });
  t.match(JSON.stringify(three), /"active":\{[^}]*"port":9101/, 'SKILLGATE_ADMIN_PORT sets the health-check port');
  const upstreams = /"upstreams":(\[[^\]]*\])/.exec(JSON.stringify(three))?.[1];
  t.same(JSON.parse(upstreams ?? '[]'), [{ dial: '10.0.0.1:9000' }, { dial: '10.0.0.2:9000' }, { dial: '10.0.0.3:9000' }], 'SKILLGATE_UPSTREAMS sets the list');
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
