import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { SkillLimits } from './limits.js';
import type { HostConfine, Sandbox } from './sandbox.js';

/** What host.py needs to know (argv, JSON): paths and limits, never a secret or user data. */
export interface HostConfig {
  dir: string;
  workspace: string;
  runAs: string | undefined;
  limits: SkillLimits;
  maxOutputBytes: number;
  timeoutMs: number;
  importTimeoutMs: number;
  socket?: string;
  /** Warm host only: skill files (base names) it must not import. */
  exclude?: string[];
  /** Landlock: the domains host.py applies to itself and to every call. */
  confine?: HostConfine;
}

export type HostMode = 'discover' | 'call' | 'serve';

export interface LauncherOptions {
  python: string;
  hostScript: string;
  sandbox: Sandbox;
  env: Record<string, string>;
  workspaceDir: string;
  runAs: string | undefined;
  limits: SkillLimits;
  maxOutputBytes: number;
  timeoutMs: number;
  /** The runtime's private folder (skill snapshots, the warm host's socket). */
  privateRoot: string;
}

/**
 * Starts host.py in one of its modes: never through a shell, scrubbed environment, cwd in the
 * workspace, a process group of its own (so the whole tree can be signalled), inside the sandbox.
 */
export class HostLauncher {
  constructor(readonly options: LauncherOptions) {}

  spawn(mode: HostMode, skillsDir: string, extra: { socket?: string; exclude?: string[]; network?: boolean } = {}): ChildProcess {
    const o = this.options;
    const { network = false, ...rest } = extra;
    const config: HostConfig = {
      dir: skillsDir,
      workspace: o.workspaceDir,
      runAs: o.runAs,
      limits: o.limits,
      maxOutputBytes: o.maxOutputBytes,
      timeoutMs: o.timeoutMs,
      importTimeoutMs: Math.min(o.timeoutMs, 10_000),
      confine: o.sandbox.hostConfine?.(network),
      ...rest,
    };
    const { command, args } = o.sandbox.wrap(o.python, ['-B', o.hostScript, mode, JSON.stringify(config)], {
      readOnly: [path.dirname(o.hostScript), o.privateRoot],
      writable: [o.workspaceDir, ...(extra.socket ? [path.dirname(extra.socket)] : [])],
    });
    return spawn(command, args, {
      cwd: o.workspaceDir,
      env: o.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }
}

/** SIGKILL a process group, ignoring "already gone". */
export function killGroup(pgid: number | undefined): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left to kill.
  }
}
