import type pg from 'pg';

/**
 * The PostgreSQL schema, as numbered migrations applied in order on start. Each runs in its own
 * transaction under one advisory lock, so two replicas starting at once apply it exactly once
 * (the second waits, then finds the version recorded and skips it). Never edit a released
 * migration: add the next one.
 *
 * Times the replicas compare with each other (heartbeats) are the database's now(), so clock skew
 * between machines cannot make a live replica look dead. Times the gateway only reads back
 * (retry times, accept and finish times) are epoch milliseconds, as in the SQLite store.
 */
const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE updates (
        update_id       bigint PRIMARY KEY,
        seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        chat_id         bigint,
        -- The dispatcher's lane: c<chat id>, or u<update id> for an update without a chat.
        lane            text NOT NULL,
        state           text NOT NULL CHECK (state IN ('accepted', 'processing', 'replied', 'done', 'failed')),
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL DEFAULT 0,
        payload         text,
        error           text,
        accepted_at     bigint NOT NULL,
        finished_at     bigint
      );
      CREATE INDEX updates_open ON updates (lane, seq) WHERE state IN ('accepted', 'processing', 'replied');
      CREATE INDEX updates_finished ON updates (finished_at) WHERE state IN ('done', 'failed');
      -- One row per live gateway process; a row whose heartbeat is older than its lease is dead.
      CREATE TABLE replicas (
        id           text PRIMARY KEY,
        name         text NOT NULL,
        lease_ms     integer NOT NULL,
        started_at   timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
      );
      -- Which replica runs a lane's updates: exactly one at a time, so a chat's order holds.
      CREATE TABLE lanes (
        lane    text PRIMARY KEY,
        replica text NOT NULL
      );
      CREATE INDEX lanes_replica ON lanes (replica);
      CREATE TABLE meta (
        key   text PRIMARY KEY,
        value text NOT NULL
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Pending approvals (one row each: a take is one DELETE ... RETURNING, so one taker wins).
      CREATE TABLE approvals (
        id         text PRIMARY KEY,
        chat_id    bigint NOT NULL,
        expires_at bigint NOT NULL,
        entry      jsonb NOT NULL
      );
      CREATE INDEX approvals_expiry ON approvals (expires_at);
      -- The LLM router's memory of each chat, written by the replica that runs the chat.
      CREATE TABLE chat_memory (
        chat_id    bigint PRIMARY KEY,
        document   text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

/** Serialises schema changes across replicas (any constant; "skillgate" in ASCII). */
const MIGRATION_LOCK = 0x736b696c6c67;

/** Brings the schema to the latest version. Returns the versions it applied (empty: already current). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query(`SELECT pg_advisory_lock($1)`, [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS skillgate_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM skillgate_schema`)).rows.map((r) => r.version));
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO skillgate_schema (version) VALUES ($1)`, [migration.version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      applied.push(migration.version);
    }
  } finally {
    await client.query(`SELECT pg_advisory_unlock($1)`, [MIGRATION_LOCK]);
  }
  return applied;
}

/** The newest schema version this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
