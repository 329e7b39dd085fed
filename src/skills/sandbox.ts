import { execFile } from 'node:child_process';
import { SkillgateError } from '../errors.js';

export interface SandboxPaths {
  /** Visible read-only (re-bound because /tmp is a private tmpfs inside the sandbox). */
  readOnly: string[];
  /** The only writable trees: the workspace, and the warm host's socket folder. */
  writable: string[];
}

/** How skill processes are confined beyond rlimits and a scrubbed environment. */
export interface Sandbox {
  readonly kind: 'none' | 'bwrap' | 'landlock';
  /** Pids reported from inside live in another pid namespace: the gateway cannot signal them itself. */
  readonly namespacedPids: boolean;
  wrap(command: string, args: string[], paths: SandboxPaths): { command: string; args: string[] };
  /** Landlock: what host.py applies to itself (src/skills/landlock.ts, skillgate_host/confinement.py). */
  hostConfine?(network: boolean): HostConfine;
}

/** The `confine` block of host.py's config: paths only, never a secret. */
export interface HostConfine {
  kind: 'landlock';
  abi: number;
  /** Gateway paths inside the workspace: left out of the grant set. */
  protected: string[];
  /** Read-only besides the system's (SKILLS_DIR). */
  readOnly: string[];
  /** Where each call gets its private temp dir. */
  tmpRoot: string;
  /** TCP left alone (a `network` skill's cold host and call). */
  network: boolean;
}

export const noSandbox: Sandbox = {
  kind: 'none',
  namespacedPids: false,
  wrap: (command, args) => ({ command, args }),
};

/**
 * bubblewrap: read-only root, private /tmp, only the workspace writable, no network, its own pid,
 * ipc and uts namespaces, and everything dies with the gateway.
 */
export function bwrapSandbox(bwrap = 'bwrap', options: { dropCapabilities: boolean }): Sandbox {
  return {
    kind: 'bwrap',
    namespacedPids: true,
    wrap(command, args, paths) {
      const binds = [
        ...paths.readOnly.flatMap((p) => ['--ro-bind', p, p]),
        ...paths.writable.flatMap((p) => ['--bind', p, p]),
      ];
      return {
        command: bwrap,
        args: [
          '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
          ...binds,
          '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts',
          '--die-with-parent',
          // Without SKILL_RUN_AS there is no user to drop to, so drop root's capabilities at least.
          ...(options.dropCapabilities ? ['--cap-drop', 'ALL'] : []),
          '--', command, ...args,
        ],
      };
    },
  };
}

/**
 * SKILL_SANDBOX=bwrap must fail at start, clearly, when bubblewrap is missing or cannot create
 * namespaces here (containers often forbid it): silently running unconfined would be worse.
 */
export async function createSandbox(
  kind: 'none' | 'bwrap',
  python: string,
  options: { dropCapabilities: boolean },
): Promise<Sandbox> {
  if (kind === 'none') return noSandbox;
  const sandbox = bwrapSandbox('bwrap', options);
  const probe = sandbox.wrap(python, ['-c', 'pass'], { readOnly: [], writable: [] });
  await new Promise<void>((resolve, reject) => {
    execFile(probe.command, probe.args, { timeout: 15_000, env: { PATH: '/usr/local/bin:/usr/bin:/bin' } }, (err, _out, errOut) => {
      if (!err) return resolve();
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'bwrap is not installed (apt-get install bubblewrap)'
        : `bwrap cannot create its namespaces here: ${String(errOut).trim() || err.message}`;
      reject(new SkillgateError('SG_SANDBOX_UNAVAILABLE', `SKILL_SANDBOX=bwrap is set but unusable: ${why}. Install or enable bubblewrap, or set SKILL_SANDBOX=none.`));
    });
  });
  return sandbox;
}
