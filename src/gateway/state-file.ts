import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';

/**
 * A small JSON state file in DATA_DIR (pending approvals, chat migrations): read once at start,
 * written whole, atomically (a private temporary file, fsync, rename) and synchronously, since
 * it is tiny, rare and never interleaved with itself. Failures are logged, never thrown: the
 * chat must get an answer either way, and the in-memory state still works.
 */
export class StateFile {
  readonly file: string;

  constructor(
    private readonly options: {
      dataDir: string;
      name: string;
      /** What it holds, for log lines: "pending approvals". */
      holds: string;
      logger: Logger;
    },
  ) {
    this.file = path.join(options.dataDir, options.name);
  }

  /** The parsed content; undefined when there is none yet, it cannot be read or is not JSON (`ifCorrupt` says what then). */
  read(ifCorrupt: string): unknown {
    const { logger, holds } = this.options;
    let raw: string;
    try {
      raw = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err }, `Cannot read ${holds}`);
      return undefined;
    }
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      logger.warn({ file: this.file }, `${holds[0]!.toUpperCase()}${holds.slice(1)} file is corrupt; ${ifCorrupt}`);
      return undefined;
    }
  }

  /** Whether `value` is now on disk. */
  write(value: object): boolean {
    const tmp = `${this.file}.tmp`;
    try {
      fs.mkdirSync(this.options.dataDir, { recursive: true });
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeFileSync(fd, JSON.stringify(value));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
      return true;
    } catch (err) {
      this.options.logger.error({ err, file: this.file }, `Could not save ${this.options.holds}`);
      return false;
    }
  }
}
