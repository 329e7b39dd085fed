import pg from 'pg';
import { SkillgateError } from '../../errors.js';

/** bigint columns (update ids, chat ids, seq, epoch ms) as numbers: Telegram's ids fit in 2^53. */
const INT8_OID = 20;
const numericTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Per session, whatever the server's or the role's default: a COMMIT returns only once it is
 * flushed to the server's WAL, so the webhook's 200 after an accept means durable.
 */
const SESSION_OPTIONS = '-c synchronous_commit=on';

/** How long a connection attempt may take before the store reports the database unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

export interface PgConnectionOptions {
  url: string;
  /** Shows in pg_stat_activity, so an operator can tell the replicas' connections apart. */
  applicationName: string;
  /** Connections in the pool: intake batches, claims and bookkeeping run on them in parallel. */
  max: number;
}

export function createPool(options: PgConnectionOptions): pg.Pool {
  return new pg.Pool({
    connectionString: options.url,
    application_name: options.applicationName,
    max: options.max,
    options: SESSION_OPTIONS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    types: numericTypes,
  });
}

/** One connection of its own (LISTEN, the poller's advisory lock: both live as long as their session). */
export function createClient(options: Omit<PgConnectionOptions, 'max'>): pg.Client {
  return new pg.Client({
    connectionString: options.url,
    application_name: options.applicationName,
    options: SESSION_OPTIONS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: numericTypes,
  });
}

/** user@host:port/database, for log lines and errors: never the password or the query string. */
export function describeDatabase(url: string): string {
  const parsed = new URL(url);
  const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
  return `postgres://${user}${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/**
 * A failure to reach or use PostgreSQL as one SG_STORE_UNAVAILABLE error naming the database (no
 * password) and the fix. The driver's own message never carries the URL; the caller's redactor
 * still runs over every log line.
 */
export function databaseUnavailable(where: string, err: unknown): SkillgateError {
  if (err instanceof SkillgateError && err.code === 'SG_STORE_UNAVAILABLE') return err;
  const code = (err as { code?: string }).code ?? '';
  const reason = (err as Error).message ?? String(err);
  return new SkillgateError('SG_STORE_UNAVAILABLE', `Database unavailable at ${where}: ${reason}. ${fixFor(code)}`, { cause: err });
}

function fixFor(code: string): string {
  switch (code) {
    case '28P01':
    case '28000':
      return 'Check the user name and password in DATABASE_URL.';
    case '3D000':
      return 'Create the database first (createdb, or CREATE DATABASE), or fix its name in DATABASE_URL.';
    case '42501':
      return 'Grant the DATABASE_URL user the right to create tables in that database (it owns the schema).';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
      return 'Check that PostgreSQL is running and that the host and port in DATABASE_URL reach it.';
    default:
      return 'Check that PostgreSQL is running and that DATABASE_URL is right.';
  }
}
