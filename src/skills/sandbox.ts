import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SkillgateError } from '../errors.js';

export interface SandboxPaths {
  /** Bound read-write first: the skills' working tree. */
  workspace?: string;
  /**
   * The gateway's own paths (its folder, DATA_DIR, TLS files, HOME). Masked wherever they lie
   * inside something bound (the seed's layout nests the gateway's folder in the workspace).
   */
  hidden?: string[];
  /** Visible read-only, after the masks (so SKILLS_DIR or the host inside a masked folder show). */
  readOnly: string[];
  /** Writable after the read-only ones (the warm host's socket folder inside the private root). */
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

/** What Python and its libraries need, read-only; nothing else of the host's root is visible. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];
/** Secrets under /etc that a skill running as root could otherwise read (it owns them). */
const ETC_SECRETS = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-', '/etc/sudoers', '/etc/ssh', '/etc/ssl/private'];

/**
 * bubblewrap: only the system folders, the interpreter's prefix, SKILLS_DIR (read-only) and the
 * workspace (read-write) are visible; the gateway's folder is masked when it lies in the
 * workspace; private /tmp, /dev and /proc; no network; its own pid, ipc and uts namespaces; and
 * everything dies with the gateway.
 */
export function bwrapSandbox(bwrap = 'bwrap', options: { dropCapabilities: boolean; python?: string }): Sandbox {
  const system = systemArgs(options.python);
  return {
    kind: 'bwrap',
    namespacedPids: true,
    wrap(command, args, paths) {
      const bound = [paths.workspace, ...paths.readOnly].filter((p): p is string => !!p);
      const masked = existing(paths.hidden ?? []).filter((m) => strictlyInside(m.path, bound));
      return {
        command: bwrap,
        args: [
          ...system,
          '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
          ...(paths.workspace ? ['--bind', paths.workspace, paths.workspace] : []),
          ...masked.flatMap(maskArgs),
          ...paths.readOnly.flatMap((p) => ['--ro-bind', p, p]),
          ...paths.writable.flatMap((p) => ['--bind', p, p]),
          // Read-only only now: bwrap makes the mount points of what shows through inside them.
          ...masked.flatMap(remountArgs),
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

/** The system folders (symlinks stay symlinks, as on a merged-/usr system), minus /etc's secrets. */
function systemArgs(python: string | undefined): string[] {
  const out: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const stat = lstat(dir);
    if (!stat) continue;
    if (stat.isSymbolicLink()) out.push('--symlink', fs.readlinkSync(dir), dir);
    else out.push('--ro-bind', dir, dir);
  }
  // An interpreter outside those (pyenv, /opt/python): its prefix, read-only.
  const prefix = python ? interpreterPrefix(python) : undefined;
  if (prefix && !SYSTEM_DIRS.some((dir) => isWithin(prefix, dir))) out.push('--ro-bind', prefix, prefix);
  for (const secret of existing(ETC_SECRETS)) out.push(...maskArgs(secret), ...remountArgs(secret));
  return out;
}

/** A path to hide, looked up once per spawn (lstat: a symlink is masked, not its target). */
interface Masked {
  path: string;
  isDirectory: boolean;
}

function existing(paths: string[]): Masked[] {
  return paths.flatMap((p) => {
    const stat = lstat(p);
    return stat ? [{ path: p, isDirectory: stat.isDirectory() }] : [];
  });
}

/** `target` lies strictly inside one of the `bound` trees, so it would show in the sandbox. */
function strictlyInside(target: string, bound: string[]): boolean {
  return bound.some((b) => isWithin(target, b) && path.resolve(target) !== path.resolve(b));
}

/** Hides `m`: an empty tmpfs over a folder (made read-only later), /dev/null over a file. */
function maskArgs(m: Masked): string[] {
  return m.isDirectory ? ['--tmpfs', m.path] : ['--ro-bind', '/dev/null', m.path];
}

/** A masked folder becomes read-only only after what shows through inside it is bound. */
function remountArgs(m: Masked): string[] {
  return m.isDirectory ? ['--remount-ro', m.path] : [];
}

function interpreterPrefix(python: string): string | undefined {
  try {
    return path.dirname(path.dirname(fs.realpathSync(python)));
  } catch {
    return undefined;
  }
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/** `p` is `dir` or below it. */
function isWithin(p: string, dir: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(p));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
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
  const sandbox = bwrapSandbox('bwrap', { ...options, python });
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
