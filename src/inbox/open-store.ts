import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PgInboxStore } from './pg/pg-store.js';
import type { StoreHealth } from './store-health.js';
import { InboxStore } from './store.js';
import type { UpdateStore } from './update-store.js';

export interface OpenedStore {
  store: UpdateStore;
  /** Set with DATABASE_URL: the replica this process is among the others. */
  replicas?: PgInboxStore;
}

/**
 * The inbox the configuration asks for: PostgreSQL with DATABASE_URL (loaded only then, so the
 * embedded default does not carry the driver), else SQLite in DATA_DIR.
 */
export async function openUpdateStore(
  config: Pick<Config, 'database' | 'dataDir' | 'inboxMaxPending'>,
  options: { logger: Logger; metrics?: Metrics; onHealthChange: (health: StoreHealth) => void },
): Promise<OpenedStore> {
  const { database } = config;
  if (!database) {
    return { store: InboxStore.open({ dataDir: config.dataDir, maxPending: config.inboxMaxPending, ...options }) };
  }
  const { PgInboxStore } = await import('./pg/pg-store.js');
  const store = await PgInboxStore.open({ ...database, maxPending: config.inboxMaxPending, ...options });
  return { store, replicas: store };
}
