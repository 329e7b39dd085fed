import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestContext } from './tap.js';
import { freePort, which } from './system.js';

/**
 * A real PostgreSQL server for the tests that need one (the PostgreSQL store, two replicas).
 *
 * `.ci/run` starts one server for the whole run and exports its superuser URL as
 * SKILLGATE_TEST_DATABASE_URL. Without it (a developer's machine) the first test that asks starts
 * a server of its own for this test process: initdb in a temp dir, listening only on 127.0.0.1 on
 * a free port, trust auth on loopback, stopped and removed when the process ends. Each test gets
 * its own empty database from `freshDatabase`, so test files can share one server in parallel.
 */

export const TEST_DATABASE_URL_ENV = 'SKILLGATE_TEST_DATABASE_URL';
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

let shared: Promise<{ url: string } | { missing: string }> | undefined;

/** The server the tests of this process share: SKILLGATE_TEST_DATABASE_URL, else one started here (once). */
export function postgresServer(): Promise<{ url: string } | { missing: string }> {
  const fromEnv = process.env[TEST_DATABASE_URL_ENV];
  if (fromEnv) return Promise.resolve({ url: fromEnv });
  shared ??= startPostgres();
  return shared;
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

/**
 * A new, empty database on the shared server for this test, dropped at its teardown (FORCE: a
 * replica the test left running or killed may still hold connections). `{ skip }` says why not.
 */
export async function freshDatabase(t: Pick<TestContext, 'teardown'>, server = postgresServer()): Promise<{ url: string; skip?: undefined } | { skip: string; url?: undefined }> {
  const found = await server;
  if ('missing' in found) return { skip: found.missing };
  const name = `skillgate_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(found.url, `CREATE DATABASE ${name}`);
  t.teardown(() => adminQuery(found.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined));
  return { url: withDatabase(found.url, name) };
}
