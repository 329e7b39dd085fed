import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HOST_PYTHON_FLAGS } from './python.js';
import type { HostConfine, Sandbox } from './sandbox.js';

/** What a Landlock domain enforces at an ABI level (see skillgate_host/landlock.py). */
export interface LandlockEnforcement {
  abi: number;
  /** Filesystem grants (ABI 1); rename/link across folders (2), truncate (3), device ioctl (5). */
  fs: boolean;
  refer: boolean;
  truncate: boolean;
  ioctl: boolean;
  /** TCP bind and connect denied unless the skill has `network` (ABI 4). */
  tcp: boolean;
  /** No signals or abstract unix sockets across the domain's edge (ABI 6). */
  scope: boolean;
}

export function landlockEnforcement(abi: number): LandlockEnforcement {
  return { abi, fs: abi >= 1, refer: abi >= 2, truncate: abi >= 3, tcp: abi >= 4, ioctl: abi >= 5, scope: abi >= 6 };
}

/** One line for the start log: what holds, and what does not at this ABI. */
export function describeLandlock(e: LandlockEnforcement): string {
  const parts = [
    'filesystem',
    e.tcp ? 'tcp connect/bind' : 'NO tcp rules (needs ABI 4, Linux 6.7)',
    e.scope ? 'signal and abstract-socket scoping' : 'NO signal scoping (needs ABI 6, Linux 6.12)',
    'ptrace and /proc/<pid>/mem of outside processes',
  ];
  return `landlock ABI ${e.abi}: ${parts.join(', ')}`;
}

/** The kernel's Landlock ABI as host.py sees it: 0 when there is none (or the probe failed). */
export function probeLandlock(python: string, hostScript: string): Promise<number> {
  return new Promise((resolve) => {
    execFile(python, [...HOST_PYTHON_FLAGS, hostScript, 'probe', '{}'], { timeout: 15_000, env: { PATH: '/usr/bin:/bin' } }, (err, out) => {
      if (err) return resolve(0);
      try {
        resolve(Number((JSON.parse(String(out).trim()) as { abi: unknown }).abi) || 0);
      } catch {
        resolve(0);
      }
    });
  });
}

export interface LandlockLayout {
  /** Gateway paths that lie inside the workspace (real paths): out of the skills' reach. */
  protected: string[];
  /** SKILLS_DIR: readable even where it sits inside a protected folder. */
  readOnly: string[];
  /** Parent of every call's private temp dir. */
  tmpRoot: string;
}

/**
 * Landlock applies itself inside host.py (no wrapper process): the host before any skill file is
 * imported, every call again, narrower. The gateway's pids are the real ones.
 */
export function landlockSandbox(abi: number, layout: LandlockLayout): Sandbox & { enforcement: LandlockEnforcement } {
  return {
    kind: 'landlock',
    namespacedPids: false,
    enforcement: landlockEnforcement(abi),
    wrap: (command, args) => ({ command, args }),
    hostConfine: (network: boolean): HostConfine => ({ kind: 'landlock', abi, ...layout, network }),
  };
}

/**
 * The gateway's paths that lie inside the workspace (the seed's layout: the gateway cloned into
 * WORKSPACE_DIR/labs/openclaw). Real paths, so a symlinked workspace compares right.
 */
export function protectedInside(workspace: string, gatewayPaths: readonly string[]): string[] {
  const root = realOrSelf(workspace);
  const inside = gatewayPaths.map(realOrSelf).filter((p) => p === root || p.startsWith(root + path.sep));
  // A path under another protected one adds nothing.
  return [...new Set(inside)].filter((p) => !inside.some((q) => q !== p && p.startsWith(q + path.sep))).sort();
}

/**
 * The folders from the workspace down to each protected path (the protected ones excluded). Their
 * entries are granted one by one, so an entry created in one later is outside the warm host's
 * domain until it restarts: the runtime watches these folders.
 */
export function foldersAlongPath(workspace: string, protectedPaths: readonly string[]): string[] {
  const root = realOrSelf(workspace);
  const folders = new Set<string>();
  for (const p of protectedPaths) {
    for (let dir = path.dirname(p); dir.length >= root.length && dir.startsWith(root); dir = path.dirname(dir)) {
      folders.add(dir);
      if (dir === root) break;
    }
  }
  return [...folders].sort();
}

function realOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    // Not there yet (DATA_DIR before the first start): its parent's real path, plus the name.
    const parent = path.dirname(p);
    return parent === p ? p : path.join(realOrSelf(parent), path.basename(p));
  }
}
