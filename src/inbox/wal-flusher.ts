import fs from 'node:fs';
import path from 'node:path';
import { storeProblem } from './store-errors.js';

export type DurableCallback = (err: Error | null) => void;

/**
 * Group commit for the inbox's write-ahead log: makes committed transactions power-loss durable
 * with fsync(2) of the `-wal` file, run in libuv's threadpool so the event loop never waits on
 * the disk.
 *
 * SQLite runs with synchronous=NORMAL, so a COMMIT is a write() into the WAL: it survives kill -9
 * (the kernel has it) but not a power cut until the WAL is fsync'd. `whenDurable` is called right
 * after a commit; its callback runs once an fsync that started after that commit has finished.
 * One fsync is in flight at a time; commits made while it runs queue up and share the next one,
 * so the disk sees one fsync per batch of batches, however fast requests arrive (pipelined group
 * commit).
 *
 * Why fsync of the WAL file alone is enough: committed pages live only in the WAL until a
 * checkpoint copies them into the database file, and SQLite (NORMAL) fsyncs the WAL before and
 * the database after every checkpoint. SQLite reuses the same WAL file (same inode) for the life
 * of the connection: a checkpoint rewinds it and `wal_checkpoint(TRUNCATE)` shortens it, but only
 * the last connection's close deletes it, so the descriptor opened here stays the live WAL.
 * test/inbox/wal-flusher.test.ts checks that across checkpoints.
 */
export class WalFlusher {
  private readonly fd: number;
  /** Committed, waiting for the next fsync to start. */
  private queued: DurableCallback[] = [];
  /** Waiting for the fsync in flight (emptied by close()). */
  private inFlight: DurableCallback[] = [];
  /**
   * True from the start of an fsync until its batch's callbacks have all run. Invariant: at most
   * one fsync in flight, and batches are settled strictly in the order their commits were made.
   * A callback that commits again (the store does) lands in `queued` and starts the next fsync
   * only after the whole batch has run, so its rows can never overtake an earlier batch's.
   */
  private busy = false;
  /** The first failed fsync: every later waiter gets it too (see `failure`). */
  private failed: Error | undefined;
  private closed = false;
  private fsyncs = 0;

  /** Opens the WAL of `databaseFile`, which must exist (SQLite creates it on the first read in WAL mode). */
  constructor(private readonly databaseFile: string) {
    this.fd = fs.openSync(`${databaseFile}-wal`, 'r');
    // SQLite creates the WAL anew at each first open; its directory entry must survive a power cut too.
    fsyncDirectory(path.dirname(databaseFile));
  }

  /**
   * Calls `done` once everything committed before this call is on disk (or with the error when
   * it cannot be). Callbacks run in call order, also those registered from inside a callback.
   */
  whenDurable(done: DurableCallback): void {
    if (this.closed || this.failed) {
      done(this.failed ?? storeProblem(this.databaseFile, 'WAL flusher is closed'));
      return;
    }
    this.queued.push(done);
    if (!this.busy) this.startFsync();
  }

  /** No fsync running: a commit now would be fsync'd at once, without waiting for another. */
  get idle(): boolean {
    return !this.busy;
  }

  /**
   * Set once an fsync failed. Such a flusher never syncs again: after a failed fsync the kernel may
   * have dropped the dirty pages, so a later fsync that succeeds proves nothing about them
   * (PostgreSQL's "fsyncgate", 2018). The store reopens the database instead (see InboxStore).
   */
  get failure(): Error | undefined {
    return this.failed;
  }

  /** fsync(2) calls completed or in flight so far (tests and the bench: how well commits group). */
  get fsyncCount(): number {
    return this.fsyncs;
  }

  /**
   * Shutdown: one synchronous fsync settles every waiter, including those of the fsync in flight
   * (its late callback then finds nothing to settle). Closes the descriptor once no fsync uses it.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = [...this.inFlight, ...this.queued];
    this.queued = [];
    this.inFlight = [];
    let failure: Error | null = this.failed ?? null;
    if (!failure) {
      try {
        fs.fsyncSync(this.fd);
      } catch (err) {
        failure = err as Error;
      }
    }
    if (!this.busy) fs.closeSync(this.fd);
    for (const done of waiting) done(failure);
  }

  private startFsync(): void {
    const batch = this.queued;
    this.queued = [];
    this.inFlight = batch;
    this.busy = true;
    this.fsyncs++;
    fs.fsync(this.fd, (err) => {
      if (this.closed) {
        this.busy = false;
        fs.close(this.fd, () => {});
        return;
      }
      if (err) this.failed ??= err;
      // Still busy while the batch runs: whenDurable() from a callback queues behind this batch.
      const settled = this.inFlight;
      this.inFlight = [];
      for (const done of settled) done(this.failed ?? null);
      // A failure also settles everything queued meanwhile: none of it may be called durable.
      while (this.failed && this.queued.length > 0) {
        const rest = this.queued;
        this.queued = [];
        for (const done of rest) done(this.failed);
      }
      this.busy = false;
      if (this.closed) {
        fs.close(this.fd, () => {});
        return;
      }
      if (this.queued.length > 0) this.startFsync();
    });
  }
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
