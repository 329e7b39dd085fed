import path from 'node:path';
import { BASE_USER_ID, BENCH_SECRET, BENCH_TOKEN } from './payload.js';
import { freePort, waitFor200, type TlsFiles } from './net.js';
import type { BenchChild, ChildProcesses } from './processes.js';

export interface GatewaySpec {
  repoRoot: string;
  /** PATH and HOME for the child. */
  baseEnv: { PATH: string; HOME: string };
  tls: TlsFiles;
  dataDir: string;
  skillsDir: string;
  workspaceDir: string;
  telegramApiBase: string;
  /** Users 0..allowedUsers-1 above BASE_USER_ID are allowed. Default 100. */
  allowedUsers?: number;
  /** Extra environment (OPENAI_BASE_URL, INBOX_MAX_PENDING, ...). */
  env?: Record<string, string>;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The entry point, relative to repoRoot or absolute. Default dist/main.js (tests pass src/main.ts with `--import tsx`). */
  entry?: string;
  /** Reuse ports (a restart on the same DATA_DIR); default: fresh ones. */
  ports?: { main: number; admin: number };
}

export interface RunningGateway {
  child: BenchChild;
  webhookUrl: string;
  adminUrl: string;
  ports: { main: number; admin: number };
  /** Spawn until /readyz answered 200, in ms. */
  readyMs: number;
}

const READY_TIMEOUT_MS = 30_000;

/**
 * `node dist/main.js` as production runs it, in its own process group, on loopback HTTPS with the
 * bench's certificate. The send rate limits are lifted (the defaults follow Telegram's real
 * limits, 30/s overall and 1/s per chat, which would make every figure a rate-limit figure).
 * cwd is the data dir so a developer's .env in the repo does not leak into the run.
 */
export async function startGateway(procs: ChildProcesses, spec: GatewaySpec): Promise<RunningGateway> {
  const ports = spec.ports ?? { main: await freePort(), admin: await freePort() };
  const allowed = Array.from({ length: spec.allowedUsers ?? 100 }, (_, i) => BASE_USER_ID + i).join(',');
  const env: Record<string, string> = {
    ...spec.baseEnv,
    TELEGRAM_BOT_TOKEN: BENCH_TOKEN,
    TELEGRAM_ALLOWED_USER_IDS: allowed,
    TELEGRAM_WEBHOOK_SECRET: BENCH_SECRET,
    TELEGRAM_API_BASE: spec.telegramApiBase,
    TELEGRAM_SEND_RATE: '100000',
    TELEGRAM_CHAT_SEND_RATE: '100000',
    HOST: '127.0.0.1',
    PORT: String(ports.main),
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: String(ports.admin),
    TLS: 'on',
    TLS_CERT_FILE: spec.tls.certFile,
    TLS_KEY_FILE: spec.tls.keyFile,
    DATA_DIR: spec.dataDir,
    SKILLS_DIR: spec.skillsDir,
    WORKSPACE_DIR: spec.workspaceDir,
    LOG_LEVEL: 'warn',
    ...spec.env,
  };
  const started = performance.now();
  const child = procs.spawn('skillgate', process.execPath, [...(spec.nodeArgs ?? []), path.resolve(spec.repoRoot, spec.entry ?? 'dist/main.js')], { cwd: spec.dataDir, env });
  const adminUrl = `http://127.0.0.1:${ports.admin}`;
  try {
    await waitFor200(`${adminUrl}/readyz`, READY_TIMEOUT_MS, () => child.alive);
  } catch (err) {
    await child.stop(1000);
    throw new Error(`skillgate did not become ready: ${(err as Error).message}\n${child.tail}`);
  }
  return {
    child,
    // TLS=off in spec.env: a replica behind a proxy that ends TLS (the two-replica test's nginx).
    webhookUrl: `${env.TLS === 'off' ? 'http' : 'https'}://127.0.0.1:${ports.main}/telegram/webhook`,
    adminUrl,
    ports,
    readyMs: performance.now() - started,
  };
}
