import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import type { Config } from './schema.js';

/** A file or folder that holds secrets and should be its owner's alone. */
export interface PrivatePath {
  path: string;
  /** What it is, for the log line ("the .env file", "the TLS key", "DATA_DIR"). */
  what: string;
}

/** Group and world bits: any of them means another user can read (or enter, or write). */
const OTHERS = 0o077;

/**
 * The files a start-up should find private: `.env` (bot token, secrets, API keys), the TLS key
 * (when this process serves HTTPS) and DATA_DIR (queued updates, chat history, audit log).
 */
export function privatePaths(config: Config, cwd: string): PrivatePath[] {
  const paths: PrivatePath[] = [{ path: path.join(cwd, '.env'), what: 'the .env file' }];
  if (config.telegram.mode === 'webhook' && config.http.tls) paths.push({ path: config.http.keyFile, what: 'the TLS key' });
  paths.push({ path: config.dataDir, what: 'DATA_DIR' });
  return paths;
}

/**
 * One WARN per path that other users can read, naming it and the chmod that fixes it. Missing
 * paths are skipped (DATA_DIR is created private on first start). Only the mode is read, never
 * the content, so no secret can reach these lines.
 */
export function warnLoosePermissions(paths: readonly PrivatePath[], logger: Logger, cwd: string): number {
  let warned = 0;
  for (const { path: file, what } of paths) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      continue;
    }
    if ((stat.mode & OTHERS) === 0) continue;
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    const fix = `chmod ${stat.isDirectory() ? '700' : '600'} ${shown(file, cwd)}`;
    logger.warn({ file, mode }, `Permissions: ${what} ${shown(file, cwd)} is open to other users (mode ${mode}); fix with: ${fix}`);
    warned += 1;
  }
  return warned;
}

/** Relative to the working directory when inside it (`.env`, `data`), else absolute. */
function shown(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}
