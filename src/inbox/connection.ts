import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { checkpointFully, openInboxDatabase } from './database.js';
import { prepareStatements } from './schema.js';
import { WalFlusher } from './wal-flusher.js';

/** The store's connection: the database, its prepared statements and the WAL's flusher (a reopen replaces all three). */
export interface Connection {
  db: Database.Database;
  statements: ReturnType<typeof prepareStatements>;
  flusher: WalFlusher;
}

export function inboxFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'inbox.sqlite');
}

/** Opens `file`, creating its directory first (0700: the inbox holds every message's full text). */
export function openInboxFile(file: string): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  return openInboxDatabase(file);
}

export function connect(file: string, db: Database.Database = openInboxDatabase(file)): Connection {
  return { db, statements: prepareStatements(db), flusher: new WalFlusher(file) };
}

/**
 * After a failed fsync: a full checkpoint (what this connection reads, copied into the database
 * file and fsync'd), then the old connection closed and a fresh one opened. Throws when any step
 * fails; the caller tries again later.
 */
export function reconnect(old: Connection, file: string): Connection {
  const { db, statements, flusher } = old;
  if (db.open) {
    if (db.inTransaction) statements.commit.run();
    checkpointFully(db);
    flusher.close();
    db.close();
  }
  return connect(file);
}
