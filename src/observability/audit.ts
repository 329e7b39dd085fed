import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger.js';
import type { Redactor } from './redact.js';

/** One finished update: who, what, which skills, outcome, timings. */
export interface AuditEntry {
  ts: string;
  update_id: number;
  chat_id: number | null;
  user_id: number | null;
  kind: string;
  text_preview?: string;
  route?: string;
  skills: string[];
  outcome: string;
  duration_ms: number;
  error?: string;
}

export interface AuditLogOptions {
  /** DATA_DIR; the log is DATA_DIR/audit.log. Created when missing. */
  dir: string;
  /** Size at which audit.log is rotated to audit.log.1. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (audit.log.1 ... audit.log.N). Default 5. */
  keep?: number;
  /** Applied to every string field of a line but its own time: a user may paste a secret, an error may carry a URL. Default: identity. */
  redact?: Redactor;
  /** Where write failures are reported (once per failure streak). Default: nowhere. */
  logger?: Logger;
}

/** Longest text_preview kept, in UTF-16 code units; the handler usually truncates earlier. */
const PREVIEW_MAX = 200;

/** Buffered characters that make the end of a turn write them (one write() for all). */
const FLUSH_CHARS = 32 * 1024;
/** The longest a line waits for its write while less than FLUSH_CHARS is buffered. */
const FLUSH_MS = 20;

/**
 * Append-only JSON-lines audit trail, rotated by size. Lines are buffered and written together,
 * one write() for all of them, instead of one blocking write() per update: at the end of a turn of
 * the event loop once FLUSH_CHARS are buffered, else FLUSH_MS after the first buffered line. Under
 * load a write() per turn was about 1 µs of the main thread per update (issue 16); this makes it
 * one per ~150 lines. Lines from concurrent updates never interleave, close() writes what is
 * buffered (graceful shutdown loses nothing), and a crash loses at most the lines of its last
 * FLUSH_MS. Never throws into the caller: auditing must not break message handling.
 */
export class AuditLog {
  readonly file: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private fd: number | undefined;
  private size = 0;
  private failing = false;
  private closed = false;
  private buffered: string[] = [];
  private bufferedChars = 0;
  private turnEndScheduled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AuditLogOptions) {
    this.file = path.join(path.resolve(options.dir), 'audit.log');
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.keep = Math.max(1, options.keep ?? 5);
  }

  write(entry: AuditEntry): void {
    if (this.closed) return;
    let line: string;
    try {
      line = this.serialize(entry);
    } catch (err) {
      this.reportFailure(err);
      return;
    }
    this.buffered.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars >= FLUSH_CHARS) {
      if (this.turnEndScheduled) return;
      this.turnEndScheduled = true;
      setImmediate(() => {
        this.turnEndScheduled = false;
        this.flush();
      });
    } else if (!this.timer) {
      // Not unref'd: a process that ends on its own still writes its last lines.
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
    }
  }

  /** Writes the buffered lines now (close() does; tests that read the file at once do). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffered.length === 0) return;
    const lines = this.buffered;
    this.buffered = [];
    this.bufferedChars = 0;
    try {
      if (this.fd === undefined) this.openFile();
      let chunk = '';
      let chunkBytes = 0;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        // Rotation stays per line: no file grows past maxBytes except by a single oversized line.
        if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.maxBytes) {
          this.append(chunk, chunkBytes);
          this.rotate();
          chunk = '';
          chunkBytes = 0;
        }
        chunk += line;
        chunkBytes += bytes;
      }
      this.append(chunk, chunkBytes);
      this.failing = false;
    } catch (err) {
      this.reportFailure(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.closeFile();
  }

  private append(chunk: string, bytes: number): void {
    if (bytes === 0) return;
    fs.writeSync(this.fd!, chunk);
    this.size += bytes;
  }

  private serialize(entry: AuditEntry): string {
    const long = entry.text_preview !== undefined && entry.text_preview.length > PREVIEW_MAX;
    const cut = long ? { ...entry, text_preview: `${entry.text_preview!.slice(0, PREVIEW_MAX)}…` } : entry;
    return `${JSON.stringify(this.options.redact ? redactFields(cut, this.options.redact) : cut)}\n`;
  }

  private openFile(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.fd = fs.openSync(this.file, 'a', 0o640);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** audit.log.(keep-1) -> audit.log.keep (the oldest is overwritten), ..., audit.log -> audit.log.1. */
  private rotate(): void {
    this.closeFile();
    for (let i = this.keep - 1; i >= 1; i--) {
      const from = `${this.file}.${i}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i + 1}`);
    }
    fs.renameSync(this.file, `${this.file}.1`);
    this.openFile();
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fs.closeSync(fd);
    } catch {
      // Already gone; nothing left to flush (writes are unbuffered).
    }
  }

  private reportFailure(err: unknown): void {
    this.closeFile(); // reopen on the next write: the directory may come back
    if (this.failing) return;
    this.failing = true;
    this.options.logger?.warn({ err, file: this.file }, 'Audit log write failed; audit lines are being lost until it recovers');
  }
}

/**
 * `entry` with every string in it redacted (a user may paste a secret, an error may carry a URL):
 * the values one by one, before JSON escaping, rather than the whole line, whose keys, numbers
 * and punctuation were a third of the redactor's work per update (issue 16). Copied only when
 * something was redacted (the caller's entry is never changed); most lines are written as they are.
 */
function redactFields(entry: AuditEntry, redact: Redactor): AuditEntry {
  let out: Record<string, unknown> | undefined;
  const fields = entry as unknown as Record<string, unknown>;
  for (const key in fields) {
    // The line's time is the gateway's own clock (isoNow): digits and separators, nothing to find.
    if (key === 'ts') continue;
    const value = fields[key];
    let redacted: unknown = value;
    if (typeof value === 'string') redacted = redact(value);
    else if (Array.isArray(value) && value.length > 0) {
      const items = value.map((item: unknown) => (typeof item === 'string' ? redact(item) : item));
      if (items.some((item, i) => item !== value[i])) redacted = items;
    }
    if (redacted === value) continue;
    out ??= { ...fields };
    out[key] = redacted;
  }
  return (out ?? entry) as AuditEntry;
}
