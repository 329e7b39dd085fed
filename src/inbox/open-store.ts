import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PollerLeadership } from './pg/poller-leadership.js';
import type { PgInboxStore } from './pg/pg-store.js';
import type { StoreHealth } from './store-health.js';
import { InboxStore } from './store.js';
import type { UpdateStore } from './update-store.js';

export interface OpenedStore {
  store: UpdateStore;
  /** Set with DATABASE_URL: the replica this process is among the others. */
  replicas?: PgInboxStore;
  /** Set with DATABASE_URL in polling mode: only the replica holding it polls. */
  leadership?: PollerLeadership;
}

/**
 * The inbox the configuration asks for: PostgreSQL with DATABASE_URL (loaded only then, so the
 * embedded default does not carry the driver), else SQLite in DATA_DIR.
 */
export async function openUpdateStore(
  config: Pick<Config, 'database' | 'dataDir' | 'inboxMaxPending'> & { telegram: Pick<Config['telegram'], 'mode'> },
  options: { logger: Logger; metrics?: Metrics; onHealthChange: (health: StoreHealth) => void },
): Promise<OpenedStore> {
  const { database } = config;
  if (!database) {
    return { store: InboxStore.open({ dataDir: config.dataDir, maxPending: config.inboxMaxPending, ...options }) };
  }
  const { PgInboxStore } = await import('./pg/pg-store.js');
  const store = await PgInboxStore.open({ ...database, maxPending: config.inboxMaxPending, ...options });
  options.metrics?.labelReplica(database.replicaName);
  if (config.telegram.mode !== 'polling') return { store, replicas: store };
  const { PollerLeadership } = await import('./pg/poller-leadership.js');
  const leadership = new PollerLeadership({
    url: database.url,
    applicationName: `skillgate ${store.replicaId} poller`,
    logger: options.logger,
    // Failover within about a fifth of the lease once the old poller's session is gone.
    retryMs: Math.max(250, Math.floor(database.leaseMs / 5)),
  });
  return { store, replicas: store, leadership };
}
