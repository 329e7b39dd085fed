import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers/gateway-process.js';
import type { TestContext } from '../helpers/tap.js';
import { startLiveGateway, telegramPost, type LiveGateway } from '../helpers/live-gateway.js';
import { canConnect, freePort, startDaemon, waitUntil, which } from '../helpers/system.js';

/**
 * Behind NAT (CONTRACT section 7): the shipped autossh reverse-tunnel unit, run for real on
 * loopback. A private sshd on a free port plays the relay VPS (its own host key, authorized_keys
 * and config, with the shipped relay-sshd.conf Match block); the tunnel is started from the unit's
 * own ExecStart line with test values for its ${VARIABLES}; Telegram-style POSTs to the relay's
 * forwarded port reach the real gateway and are answered. Then the ssh process is killed, and
 * autossh alone must bring the tunnel back (bounded wait).
 */

const UNIT = path.join(ROOT, 'deploy/tunnel/skillgate-tunnel.service');
const RELAY_CONF = path.join(ROOT, 'deploy/tunnel/relay-sshd.conf');
const tools = { sshd: which('sshd'), autossh: which('autossh'), ssh: which('ssh'), 'ssh-keygen': which('ssh-keygen') };

/** ExecStart as argv and the Environment= defaults of a unit (the subset of systemd syntax it uses). */
function parseUnit(text: string): { argv: string[]; env: Record<string, string> } {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim());
  const env: Record<string, string> = {};
  for (const l of lines) {
    const m = /^Environment=([A-Z_][A-Z0-9_]*)=(.*)$/.exec(l);
    if (m) env[m[1]!] = m[2]!;
  }
  const exec = lines.find((l) => l.startsWith('ExecStart='));
  if (!exec) throw new Error('no ExecStart= in the unit');
  const argv = exec.slice('ExecStart='.length).replace(/^[-@:+!]+/, '').split(/\s+/).filter(Boolean);
  return { argv, env };
}

function substitute(argv: string[], vars: Record<string, string>): string[] {
  return argv.map((a) =>
    a.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, name: string) => {
      if (!(name in vars)) throw new Error(`the unit uses \${${name}}, which it does not define`);
      return vars[name]!;
    }),
  );
}

t.test('the tunnel unit keeps the tunnel up on its own and pins the relay host key', async (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  const { argv, env } = parseUnit(unit);
  t.equal(path.basename(argv[0]!), 'autossh');
  const line = argv.join(' ');
  for (const opt of ['-N', '-R', '-M 0', '-o ServerAliveInterval=15', '-o ServerAliveCountMax=3', '-o ExitOnForwardFailure=yes', '-o StrictHostKeyChecking=yes', '-o BatchMode=yes']) {
    t.ok(line.includes(opt), opt);
  }
  t.match(line, /-o UserKnownHostsFile=\$\{TUNNEL_KNOWN_HOSTS\}/, 'a pinned known_hosts');
  t.match(line, /-o IdentityFile=\$\{TUNNEL_KEY\}/, 'a dedicated key');
  t.match(line, /-R 127\.0\.0\.1:\$\{RELAY_BIND_PORT\}:127\.0\.0\.1:\$\{GATEWAY_PORT\}/, 'bound on the relay loopback only, to the gateway on loopback');
  t.equal(env.AUTOSSH_GATETIME, '0', 'a failed first attempt is retried too');
  t.match(unit, /^Restart=always$/m);
  t.notMatch(unit, /^User=root$/m);
  t.doesNotThrow(() => substitute(argv, env), 'every ${VARIABLE} has a default');

  const analyze = which('systemd-analyze');
  if (!analyze) return t.skip('systemd-analyze is not installed', () => {});
  if (!existsSync(argv[0]!)) return t.skip(`${argv[0]} is not installed, which systemd-analyze verify requires`, () => {});
  let out = '';
  try {
    out = execFileSync(analyze, ['verify', UNIT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    t.fail(`systemd-analyze verify: ${String((err as { stderr?: string }).stderr ?? err)}`);
  }
  t.equal(out.trim(), '', 'no warnings');
});

async function startRelay(t: TestContext, sshd: string, keygen: string) {
  const dir = t.testdir({});
  const user = os.userInfo().username;
  const [sshPort, relayPort] = [await freePort(), await freePort()];
  const keygenQuiet = (file: string, comment: string) => execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  keygenQuiet(path.join(dir, 'host_ed25519'), 'relay-host');
  keygenQuiet(path.join(dir, 'tunnel_ed25519'), 'skillgate-tunnel');
  const hostPub = readFileSync(path.join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(path.join(dir, 'known_hosts'), `[127.0.0.1]:${sshPort} ${hostPub}\n`);
  // The authorized_keys line the relay notes prescribe, for this test's port.
  const tunnelPub = readFileSync(path.join(dir, 'tunnel_ed25519.pub'), 'utf8').trim();
  writeFileSync(path.join(dir, 'authorized_keys'), `restrict,port-forwarding,permitlisten="127.0.0.1:${relayPort}" ${tunnelPub}\n`, { mode: 0o600 });
  // The shipped Match block, for the user running the test and this test's port.
  const match = readFileSync(RELAY_CONF, 'utf8')
    .replace(/^Match User skillgate-tunnel$/m, `Match User ${user}`)
    .replace(/127\.0\.0\.1:9000/g, `127.0.0.1:${relayPort}`)
    .replace(/^\s*ForceCommand .*$/m, '');
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `ListenAddress 127.0.0.1:${sshPort}`,
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      // The test dir's parents are not root-owned 0755 all the way up.
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      match.replace(/^\s*#.*$/gm, ''),
    ].join('\n'),
  );
  // sshd started as root insists on its privilege-separation directory, which only the system
  // service normally creates.
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const relay = startDaemon(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { cwd: dir });
  t.teardown(() => relay.stop());
  await relay.waitForPort(sshPort);
  return { dir, user, sshPort, relayPort, relay };
}

function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The comm field may contain spaces: the ppid is the second field after the closing paren.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return kids;
}

/** Sends `/help` as user 111 to `url`; resolves with the ms until the fake Telegram got the reply. */
async function roundTrip(gateway: LiveGateway, url: string): Promise<number> {
  const before = gateway.telegram.sent.length;
  const started = performance.now();
  const res = await telegramPost(url, gateway.telegram.textUpdate({ id: 111 }, '/help'));
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${res.text}`);
  await gateway.telegram.waitFor(() => gateway.telegram.sent.length > before, 20_000, 'the reply');
  return performance.now() - started;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const missing = Object.entries(tools).filter(([, bin]) => !bin).map(([name]) => name);
t.test('live: Telegram updates through an autossh reverse tunnel, which comes back after ssh is killed', { skip: missing.length > 0 && `not installed: ${missing.join(', ')} (apt-get install -y openssh-server openssh-client autossh)` }, async (t) => {
  // Send rates lifted (as the benchmarks do) so that the latency figure is not Telegram's 1/s per chat.
  const gateway = await startLiveGateway(t, { TRUST_PROXY: '127.0.0.1', TELEGRAM_SEND_RATE: '1000', TELEGRAM_CHAT_SEND_RATE: '1000' });
  const { dir, user, sshPort, relayPort, relay } = await startRelay(t, tools.sshd!, tools['ssh-keygen']!);
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const vars = {
    ...unit.env,
    RELAY_HOST: '127.0.0.1',
    RELAY_SSH_PORT: String(sshPort),
    RELAY_USER: user,
    RELAY_BIND_PORT: String(relayPort),
    GATEWAY_PORT: String(gateway.port),
    TUNNEL_KEY: path.join(dir, 'tunnel_ed25519'),
    TUNNEL_KNOWN_HOSTS: path.join(dir, 'known_hosts'),
  };
  const [bin, ...args] = substitute(unit.argv, vars);
  const autosshEnv = Object.fromEntries(Object.entries(unit.env).filter(([k]) => k.startsWith('AUTOSSH_')));
  const tunnel = startDaemon(existsSync(bin!) ? bin! : tools.autossh!, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...autosshEnv, AUTOSSH_PATH: tools.ssh! },
  });
  t.teardown(() => tunnel.stop());
  await tunnel.waitForPort(relayPort, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}\nsshd:\n${relay.output()}`);
  });

  const relayUrl = `http://127.0.0.1:${relayPort}/telegram/webhook`;
  t.test('a Telegram-style POST to the relay port reaches the gateway and is answered', async (t) => {
    const res = await telegramPost(relayUrl, gateway.telegram.textUpdate({ id: 111 }, '/help'));
    t.equal(res.status, 200, res.text);
    t.ok(await gateway.telegram.waitForMessages(1, 20_000, 111));
    const wrong = await telegramPost(relayUrl, { update_id: 5 }, { secret: 'wrong-secret' });
    t.equal(wrong.status, 401, 'the secret is still checked by the gateway at the far end');
  });

  t.test('latency, update in to reply out: through the tunnel and direct (a figure, not an assertion)', async (t) => {
    const tunnelMs: number[] = [];
    const directMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      tunnelMs.push(await roundTrip(gateway, relayUrl));
      directMs.push(await roundTrip(gateway, `http://127.0.0.1:${gateway.port}/telegram/webhook`));
    }
    t.comment(`e2e median over 10: tunnel ${median(tunnelMs).toFixed(1)} ms, direct ${median(directMs).toFixed(1)} ms`);
    t.pass('measured');
  });

  t.test('kill -9 of ssh: autossh restarts it and updates flow again', async (t) => {
    const [ssh] = childrenOf(tunnel.child.pid!);
    t.ok(ssh, 'autossh runs ssh as its child');
    process.kill(ssh!, 'SIGKILL');
    const back = await waitUntil(async () => {
      const now = childrenOf(tunnel.child.pid!);
      return now.length > 0 && !now.includes(ssh!) && (await canConnect(relayPort));
    }, 60_000, 250);
    t.ok(back, `a new ssh and the relay port again within 60 s\n${tunnel.output()}`);
    // The relay port may answer a moment before the forward is wired: retry the first POST briefly.
    let status = 0;
    await waitUntil(async () => {
      status = await telegramPost(relayUrl, gateway.telegram.textUpdate({ id: 111 }, '/help'))
        .then((r) => r.status)
        .catch(() => 0);
      return status === 200;
    }, 20_000, 250);
    t.equal(status, 200, 'an update through the new tunnel');
    t.ok(await roundTrip(gateway, relayUrl), 'and it is answered');
  });
});
