import fs from 'node:fs';
import type { Logger } from '../observability/logger.js';

/**
 * Calls `onChange` once things settle after files in `dir` change. Editors save in bursts (write,
 * rename, chmod), so events are debounced. Returns a stop function.
 */
export function watchDirectory(dir: string, debounceMs: number, onChange: () => void, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher;
  try {
    watcher = fs.watch(dir, { persistent: false }, (_event, file) => {
      if (file && !String(file).endsWith('.py')) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
  } catch (err) {
    logger.warn({ dir, error: (err as Error).message }, 'Cannot watch SKILLS_DIR; reload with SIGHUP instead');
    return () => undefined;
  }
  watcher.on('error', (err) => logger.warn({ dir, error: err.message }, 'SKILLS_DIR watcher failed; reload with SIGHUP instead'));
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
