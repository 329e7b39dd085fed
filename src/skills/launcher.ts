import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { CgroupPool, type HostCgroupConfig, type SlotLease } from './cgroups.js';
import type { SkillLimits } from './limits.js';
import { HOST_PYTHON_FLAGS } from './python.js';
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
  /** Per-call cgroups lent to this host (descriptors it inherits), when the machine has them. */
  cgroups?: HostCgroupConfig;
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
  /** SKILLS_DIR: visible read-only in the sandbox. */
  skillsDir: string;
  /** The gateway's own paths (its folder, DATA_DIR, TLS files), masked where they lie in the workspace. */
  hidden: string[];
  /** Per-call cgroups; a warm host gets one slot per concurrent call plus its spare. */
  cgroups?: CgroupPool;
  maxConcurrency: number;
  /** Told when no cgroup slot can be lent (the host then refuses its calls). */
  logger?: Pick<Logger, 'warn'>;
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
    const lease = this.#lease(mode === 'serve' ? o.maxConcurrency + 1 : 1);
    if (lease) config.cgroups = lease.config;
    const { command, args } = o.sandbox.wrap(o.python, [...HOST_PYTHON_FLAGS, o.hostScript, mode, JSON.stringify(config)], {
      workspace: o.workspaceDir,
      // The checkout and HOME too: out of reach even when nested in the workspace.
      hidden: [...o.hidden, path.resolve(path.dirname(o.hostScript), '../..'), ...(o.env.HOME ? [o.env.HOME] : [])],
      // The host script and its package only, not the checkout around them.
      readOnly: [o.hostScript, path.join(path.dirname(o.hostScript), 'skillgate_host'), o.privateRoot, o.skillsDir],
      writable: extra.socket ? [path.dirname(extra.socket)] : [],
    });
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: o.workspaceDir,
        env: o.env,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe', ...(lease?.fds ?? [])],
      });
    } finally {
      if (lease) CgroupPool.closeDescriptors(lease); // the host has its copies
    }
    // However the host ends (even killed by a skill), what its calls left in their cgroups dies.
    if (lease) child.once('exit', () => lease.release()).once('error', () => lease.release());
    return child;
  }

  /** Slots for one host; none lent (every call refused) when the pool fails: never unconfined. */
  #lease(count: number): SlotLease | undefined {
    const pool = this.options.cgroups;
    if (!pool) return undefined;
    try {
      return pool.lease(count);
    } catch (err) {
      this.options.logger?.warn({ err }, 'Skills: no per-call cgroup for a new host; it refuses every call until it is replaced');
      return { config: { memoryMb: 0, slots: [] }, fds: [], release: () => undefined };
    }
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
