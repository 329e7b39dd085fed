import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import { startGateway, type GatewaySpec, type RunningGateway } from './gateway-process.js';
import type { ChildProcesses } from './processes.js';

/**
 * Gateway replicas on one PostgreSQL database (issue 17), as the two-replica test and the bench's
 * `ha` run start them: each its own process, DATA_DIR and ports, the same DATABASE_URL, a short
 * REPLICA_LEASE_MS so a takeover takes seconds, not the production default's.
 */

export interface ReplicaDatabase {
  url: string;
  leaseMs: number;
}

export interface Replica {
  name: string;
  spec: GatewaySpec;
  gateway: RunningGateway;
}

/** What FakeTelegram records as the caller (RecordedCall.client) for replica `name`. */
export function replicaClient(name: string): string {
  return `replica-${name}`;
}

/**
 * `base` made into replica `name`: DATA_DIR `<base.dataDir>/<name>`, the database settings, `env`
 * on top, and the Bot API base with a path of its own, so the fake Telegram tells the replicas apart.
 */
export async function replicaSpec(base: GatewaySpec, name: string, db: ReplicaDatabase, env: Record<string, string> = {}): Promise<GatewaySpec> {
  const dataDir = path.join(base.dataDir, name);
  await mkdir(dataDir, { recursive: true });
  return {
    ...base,
    dataDir,
    telegramApiBase: `${base.telegramApiBase}/${replicaClient(name)}`,
    env: { ...base.env, DATABASE_URL: db.url, REPLICA_ID: name, REPLICA_LEASE_MS: String(db.leaseMs), ...env },
  };
}

export async function startReplica(procs: ChildProcesses, base: GatewaySpec, name: string, db: ReplicaDatabase, env: Record<string, string> = {}): Promise<Replica> {
  const spec = await replicaSpec(base, name, db, env);
  return { name, spec, gateway: await startGateway(procs, spec) };
}

/** The same replica again after it died: same name, DATA_DIR and ports (a new id in the database). */
export async function restartReplica(procs: ChildProcesses, replica: Replica): Promise<Replica> {
  return { ...replica, gateway: await startGateway(procs, { ...replica.spec, ports: replica.gateway.ports }) };
}

export interface ReplicaHoldings {
  /** Chat ids whose lane the replica owns. */
  chats: Set<number>;
  /**
   * Updates in those lanes claimed (processing) and not marked replied: the sends that may have
   * been in flight. The claim commits before the send and the replied mark right after it, so
   * only these can be sent twice when another replica runs them again.
   */
  claimed: number;
}

/** What the replica named `name` holds right now (read straight after a kill, before the lease ran out). */
export async function replicaHoldings(url: string, name: string): Promise<ReplicaHoldings> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const owned = `SELECT l.lane FROM lanes l JOIN replicas r ON r.id = l.replica WHERE r.name = $1`;
    const lanes = await client.query<{ lane: string }>(owned, [name]);
    const claimed = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM updates WHERE state = 'processing' AND lane IN (${owned})`, [name]);
    const chats = lanes.rows.map((r) => r.lane).filter((lane) => lane.startsWith('c')).map((lane) => Number(lane.slice(1)));
    return { chats: new Set(chats), claimed: claimed.rows[0]?.n ?? 0 };
  } finally {
    await client.end();
  }
}
