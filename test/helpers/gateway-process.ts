import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET, TEST_TOKEN } from './logger.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RunningProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  /** Resolves when stdout+stderr match `pattern`, rejects after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `src/main.ts` (through tsx, so tests never depend on a stale dist/) with exactly the
 * given environment plus PATH and HOME: nothing leaks in from the developer's shell.
 */
export function startGatewayProcess(env: Record<string, string>, cwd = ROOT): RunningProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out + err)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms; got:\n${out}\n${err}`));
        }, timeoutMs);
        listeners.add(check);
        void exited.then(() => setTimeout(() => {
          if (listeners.has(check)) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`process exited before output matched ${pattern}:\n${out}\n${err}`));
          }
        }, 50));
        check();
      });
    },
  };
}

/** A complete, valid environment for a plain-HTTP gateway on a free port, rooted in `dir`. */
export function gatewayEnv(dir: string, apiBase: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    TELEGRAM_BOT_TOKEN: TEST_TOKEN,
    TELEGRAM_ALLOWED_USER_IDS: '111',
    TELEGRAM_WEBHOOK_SECRET: TEST_SECRET,
    TELEGRAM_API_BASE: apiBase,
    TLS: 'off',
    PORT: '0',
    ADMIN_PORT: '0',
    SKILLS_DIR: path.join(dir, 'skills'),
    WORKSPACE_DIR: path.join(dir, 'workspace'),
    DATA_DIR: path.join(dir, 'data'),
    LOG_LEVEL: 'info',
    ...extra,
  };
}
