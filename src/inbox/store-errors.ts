import path from 'node:path';
import { SkillgateError } from '../errors.js';

/**
 * Turns a failure to open or use the inbox database into one SG_STORE_UNAVAILABLE error that
 * names the file and says what to do, instead of SQLite's bare "file is not a database". An
 * error that already is one (from `storeProblem`) passes through as it is.
 */
export function storeUnavailable(file: string, err: unknown): SkillgateError {
  if (err instanceof SkillgateError && err.code === 'SG_STORE_UNAVAILABLE') return err;
  const code = (err as { code?: string }).code ?? '';
  const reason = (err as Error).message ?? String(err);
  return storeProblem(file, reason, code, err);
}

/**
 * The same error for a problem the gateway finds itself (no SQLite error to wrap): `sqliteCode`
 * is the SQLite or errno code whose fix applies (e.g. SQLITE_CORRUPT for a failed quick_check).
 */
export function storeProblem(file: string, reason: string, sqliteCode = '', cause?: unknown): SkillgateError {
  return new SkillgateError(
    'SG_STORE_UNAVAILABLE',
    `Inbox store unavailable at ${file}: ${reason}. ${fixFor(sqliteCode, file, path.dirname(file))}`,
    cause === undefined ? undefined : { cause },
  );
}

function fixFor(code: string, file: string, dir: string): string {
  switch (code) {
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
    case 'SQLITE_CORRUPT_VTAB':
      return (
        `The file is corrupt or is not a SQLite database. Stop the gateway, move it aside ` +
        `(mv ${file} ${file}.corrupt, and any ${file}-wal / ${file}-shm next to it) and start again; ` +
        `Telegram re-delivers updates it has not had a 200 for.`
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'SQLITE_READONLY':
    case 'SQLITE_READONLY_DIRECTORY':
    case 'SQLITE_CANTOPEN':
    case 'SQLITE_IOERR':
      return `Make DATA_DIR (${dir}) writable by the user running the gateway (chown/chmod it), or set DATA_DIR to a writable directory.`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `DATA_DIR (${dir}) must be a directory; something else is in the way. Set DATA_DIR to a directory path.`;
    case 'SQLITE_BUSY':
      return (
        `Another process holds it open, most likely a second gateway on the same DATA_DIR. Stop ` +
        `the other one (systemctl status skillgate, docker ps), or give each its own DATA_DIR; ` +
        `replicas share state through DATABASE_URL instead.`
      );
    case 'SQLITE_FULL':
    case 'ENOSPC':
      return `The disk holding DATA_DIR (${dir}) is full. Free space; a running gateway resumes by itself.`;
    default:
      return `Check that DATA_DIR (${dir}) is a writable directory on a local disk.`;
  }
}

/** A call on a store that was already closed (shutdown raced with late work). */
export function storeClosed(file: string): SkillgateError {
  return new SkillgateError('SG_STORE_UNAVAILABLE', `Inbox store at ${file} is closed`);
}
