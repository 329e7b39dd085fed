import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { InboxStore, type InboxStoreOptions } from '../../src/inbox/store.js';
import type { UpdateStore } from '../../src/inbox/update-store.js';
import { captureLogger } from '../helpers/logger.js';

/** Polls `predicate` every 5 ms; rejects after `timeoutMs` (a bound, not a timing assertion). */
export async function waitUntil(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A store in `dir` with a capturing logger; the prune timer is off so tests stay deterministic. */
export function openStore(dir: string, options: Partial<InboxStoreOptions> = {}) {
  const log = captureLogger();
  const store = InboxStore.open({ dataDir: dir, logger: log.logger, pruneIntervalMs: 0, ...options });
  return { store, log };
}

/**
 * Runs `sql` against what a kill -9 of the store's process would leave: a copy of the database
 * file and its WAL, opened apart (SQLite recovers the copy's WAL index from the frames). The
 * store holds its file exclusively (locking_mode=EXCLUSIVE), so no second connection can read the
 * live file; the copy holds every committed write and nothing uncommitted, which is what a check
 * of "committed" means.
 */
export function committedRows(file: string, sql: string, ...params: unknown[]): unknown[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-inbox-image-'));
  try {
    const copy = path.join(dir, path.basename(file));
    // The WAL first, as README advises for a running gateway (here nothing can commit in between).
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    fs.copyFileSync(file, copy);
    const db = new Database(copy);
    try {
      return db.prepare(sql).all(...params);
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A Telegram text-message update for chat `chatId`. */
export function textUpdate(updateId: number, chatId: number, text = `message ${updateId}`) {
  return {
    update_id: updateId,
    message: { message_id: updateId, from: { id: chatId, is_bot: false, first_name: 'U' }, chat: { id: chatId, type: 'private' }, date: 0, text },
  };
}

/** Accepts a text update into the store. */
export function acceptText(store: Pick<UpdateStore, 'accept'>, updateId: number, chatId: number, text?: string) {
  return store.accept(updateId, chatId, JSON.stringify(textUpdate(updateId, chatId, text)));
}

/** An Alerter that records alerts. */
export function recordingAlerter() {
  const alerts: string[] = [];
  return { alerts, alerter: { alert: (text: string) => void alerts.push(text), flush: async () => {} } };
}
