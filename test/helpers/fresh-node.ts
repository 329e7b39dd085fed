import { execFileSync } from 'node:child_process';

/**
 * Runs an ES module script in a fresh Node (through tsx, so it can import src/*.ts) and parses the
 * one JSON line it prints. For what is per process and already spent in the test's own: module
 * caches, which modules loaded, V8's heap sizing and tier-up state.
 */
export function freshNodeJson<T>(script: string, nodeArgs: string[] = []): T {
  const out = execFileSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as T;
}
