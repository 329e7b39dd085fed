import { randomBytes } from 'node:crypto';
import type { TestContext } from './tap.js';
import { adminQuery, startPostgres, withDatabase } from '../../scripts/bench/postgres.js';

export { adminQuery, findPostgresBinaries, startPostgres, withDatabase, type PostgresBinaries, type PostgresInstance } from '../../scripts/bench/postgres.js';

/**
 * A real PostgreSQL server for the tests that need one (the PostgreSQL store, two replicas).
 *
 * `.ci/run` starts one server for the whole run and exports its superuser URL as
 * SKILLGATE_TEST_DATABASE_URL. Without it (a developer's machine) the first test that asks starts
 * a server of its own for this test process (scripts/bench/postgres.ts, shared with the bench).
 * Each test gets its own empty database from `freshDatabase`, so test files can share one server
 * in parallel.
 */

export const TEST_DATABASE_URL_ENV = 'SKILLGATE_TEST_DATABASE_URL';

let shared: Promise<{ url: string } | { missing: string }> | undefined;

/** The server the tests of this process share: SKILLGATE_TEST_DATABASE_URL, else one started here (once). */
export function postgresServer(): Promise<{ url: string } | { missing: string }> {
  const fromEnv = process.env[TEST_DATABASE_URL_ENV];
  if (fromEnv) return Promise.resolve({ url: fromEnv });
  shared ??= startPostgres();
  return shared;
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
