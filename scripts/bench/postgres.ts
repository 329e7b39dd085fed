import { execFile, execFileSync, spawn } from 'node:child_process';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './net.js';
import { which } from './which.js';

/**
 * A private PostgreSQL server on loopback, for the tests that need one (the PostgreSQL store, two
 * replicas) and for the bench's `ha` run: initdb in a temp dir, listening only on 127.0.0.1 on a
 * free port, trust auth on loopback, stopped and removed when the process that started it ends.
 */

const INSTALL_HINT = 'apt-get install postgresql';

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
}

/** Where Debian puts the server binaries: not on PATH, one directory per major version. */
function debianBinDirs(libDir = '/usr/lib/postgresql'): string[] {
  try {
    return readdirSync(libDir)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => path.join(libDir, v, 'bin'));
  } catch {
    return [];
  }
}

function executableIn(dirs: string[], name: string): string | undefined {
  for (const dir of dirs) {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return path.join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** initdb and pg_ctl from PATH, else from the newest /usr/lib/postgresql/N/bin (or only from `dirs`); or why not. */
export function findPostgresBinaries(dirs?: string[]): PostgresBinaries | { missing: string } {
  const lookup = (name: string) => (dirs ? executableIn(dirs, name) : (which(name) ?? executableIn(debianBinDirs(), name)));
  const initdb = lookup('initdb');
  const pgCtl = lookup('pg_ctl');
  if (!initdb || !pgCtl) return { missing: `PostgreSQL not installed (no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin): ${INSTALL_HINT}` };
  return { initdb, pgCtl };
}

/** PostgreSQL refuses to run as root: as root, the binaries run as user postgres through runuser. */
function runAsPrefix(): { prefix: string[]; uid?: number; gid?: number } | { missing: string } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const runuser = which('runuser');
  if (!runuser) return { missing: 'running as root, and runuser (util-linux) is missing to run PostgreSQL as user postgres' };
  const entry = passwdEntry('postgres');
  if (!entry) return { missing: `running as root, and there is no user postgres to run PostgreSQL as: ${INSTALL_HINT}` };
  return { prefix: [runuser, '-u', 'postgres', '--'], ...entry };
}

function passwdEntry(name: string): { uid: number; gid: number } | undefined {
  try {
    const [, , uid, gid] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

function run(argv: string[], timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}`.trim() }),
    );
  });
}

/** A server this process started and owns: it can be taken down and brought back for "database down" tests. */
export interface PostgresInstance {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** An immediate shutdown (no checkpoint, crash recovery at the next start): what a dead database looks like to clients. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (resolves once it accepts connections). */
  start(): Promise<void>;
  /** Stops it and removes its directory (also done at process exit if never called). */
  close(): Promise<void>;
}

/**
 * Starts a private PostgreSQL server: initdb in a mktemp dir, 127.0.0.1 on a free port, the unix
 * socket inside that dir. A watchdog shell holds a pipe from this process; when the process ends
 * in any way (even kill -9) the pipe closes and the watchdog stops the server and removes the dir.
 */
export async function startPostgres(binaries?: PostgresBinaries): Promise<PostgresInstance | { missing: string }> {
  const found = binaries ?? findPostgresBinaries();
  if ('missing' in found) return found;
  const runAs = runAsPrefix();
  if ('missing' in runAs) return runAs;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skillgate-pg-'));
  if (runAs.uid !== undefined) chownSync(dir, runAs.uid, runAs.gid!);
  const data = path.join(dir, 'data');
  const port = await freePort();
  const pgCtl = (...args: string[]) => [...runAs.prefix, found.pgCtl, '-D', data, ...args];

  const init = await run([...runAs.prefix, found.initdb, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { missing: `PostgreSQL is installed but initdb failed: ${init.out.slice(-500)}` };
  }
  // fsync off: a test never survives an OS crash, and the 2-core CI box is slow enough. Commits
  // are still synchronous to the server (synchronous_commit stays on), which is what the store relies on.
  const options = `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=200`;
  const start = async () => {
    const result = await run(pgCtl('-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start'), 90_000);
    if (result.code !== 0) throw new Error(`PostgreSQL did not start: ${result.out}`);
  };
  const stop = async () => {
    await run(pgCtl('-m', 'immediate', '-w', 'stop'));
  };
  const watchdog = spawn('sh', ['-c', 'read _ignored; "$@" >/dev/null 2>&1; rm -rf "$0"', dir, ...pgCtl('-m', 'immediate', '-w', 'stop')], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref(): void }).unref();
  try {
    await start();
  } catch (err) {
    watchdog.stdin!.end();
    return { missing: `PostgreSQL is installed but did not start: ${(err as Error).message.slice(-500)}` };
  }
  let closed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async close() {
      if (closed) return;
      closed = true;
      await stop();
      watchdog.stdin!.end();
    },
  };
}

/** Runs one statement on `url` with a short-lived client (no pool left open). */
export async function adminQuery(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A session ended by the server (DROP DATABASE ... FORCE, a stopped server) also emits 'error'
  // on the client; the query's rejection already reports it.
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `url` with its database part replaced. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
