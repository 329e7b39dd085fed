import fs from 'node:fs';
import path from 'node:path';

/** One cgroup hierarchy the pool uses, at the gateway's own cgroup in it. */
export interface Hierarchy {
  version: 1 | 2;
  /** The gateway's own cgroup in this hierarchy: slots are created below it. */
  dir: string;
  /** The controllers whose limits are set in this hierarchy (memory, pids). */
  controllers: string[];
}

export interface CgroupLayout {
  kind: 'v2' | 'v1-hybrid' | 'none';
  hierarchies: Hierarchy[];
  /** Why there are none, or which limits are missing. */
  reason?: string;
}

const WANTED = ['memory', 'pids'];

/**
 * Where per-call cgroups can live: pure cgroup2 with memory and pids delegated (systemd
 * Delegate=yes, Docker with its own cgroup namespace), or the hybrid layout (v1 memory and pids
 * controllers, a controller-less cgroup2 "unified" tree, where a slot's process list is always
 * current and clone3 puts a skill process in its slot at birth).
 * Always below the gateway's own cgroup, so whatever limits the machine put on the gateway still
 * hold for its skills.
 */
export function detectCgroups(): CgroupLayout {
  let mounts: string;
  let own: string;
  try {
    mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
    own = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return none('no /proc/self/cgroup (not Linux?)');
  }
  const unifiedMount = mountsOf(mounts, 'cgroup2')[0];
  const ownV2 = /^0::(.*)$/m.exec(own)?.[1];
  const unified = unifiedMount && ownV2 !== undefined ? path.join(unifiedMount.dir, ownV2) : undefined;

  if (unified) {
    const available = readWords(path.join(unified, 'cgroup.controllers'));
    if (WANTED.every((c) => available.includes(c))) {
      const why = enableControllers(unified);
      if (!why) return { kind: 'v2', hierarchies: [{ version: 2, dir: unified, controllers: WANTED }] };
      // Controllers are there but not ours to hand down: fall through to what else there is.
    }
  }

  const hierarchies: Hierarchy[] = [];
  for (const controller of WANTED) {
    const mount = mountsOf(mounts, 'cgroup').find((m) => m.options.includes(controller));
    const ownPath = ownV1Path(own, controller);
    if (mount && ownPath !== undefined) hierarchies.push({ version: 1, dir: path.join(mount.dir, ownPath), controllers: [controller] });
  }
  if (unified) hierarchies.push({ version: 2, dir: unified, controllers: [] });
  if (!hierarchies.length) return none('no cgroup hierarchy is mounted');
  const limited = hierarchies.flatMap((h) => h.controllers);
  const missing = WANTED.filter((c) => !limited.includes(c));
  return {
    kind: hierarchies.some((h) => h.version === 1) ? 'v1-hybrid' : 'v2',
    hierarchies,
    ...(missing.length ? { reason: `no ${missing.join(' or ')} controller available to the gateway` } : {}),
  };
}

/** One line for the start log: what a call's cgroup enforces here. */
export function describeCgroups(layout: CgroupLayout, limits: { memoryBytes: number; pids: number }): string {
  if (layout.kind === 'none') return `none (${layout.reason}): per-process rlimits only`;
  const controllers = layout.hierarchies.flatMap((h) => h.controllers);
  const parts = [
    controllers.includes('memory') ? `memory ${Math.round(limits.memoryBytes / 2 ** 20)} MiB per call` : 'no memory limit per call',
    controllers.includes('pids') ? `${limits.pids} processes per call` : 'no process limit per call',
    'leftovers killed until the cgroup is empty',
  ];
  const name = layout.kind === 'v2' ? 'per-call cgroup v2' : 'per-call cgroup v1 hybrid';
  return `${name}: ${parts.join(', ')}${layout.reason ? ` (${layout.reason})` : ''}`;
}

/**
 * cgroup2 hands controllers to children only from a cgroup without processes of its own. In a
 * delegated subtree (systemd Delegate=yes, a container's namespace root) the gateway is in that
 * cgroup itself, so it first moves the processes there (itself, and a container's init) into a
 * leaf `skillgate-gateway`, as systemd's delegation rules ask. Undefined when it worked.
 */
function enableControllers(dir: string): string | undefined {
  const control = path.join(dir, 'cgroup.subtree_control');
  const enabled = () => WANTED.every((c) => readWords(control).includes(c));
  if (enabled()) return undefined;
  const enable = () => fs.writeFileSync(control, WANTED.map((c) => `+${c}`).join(' '));
  try {
    enable();
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return (err as Error).message;
  }
  try {
    const leaf = path.join(dir, 'skillgate-gateway');
    fs.mkdirSync(leaf, { recursive: true });
    const pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        fs.writeFileSync(path.join(leaf, 'cgroup.procs'), pid);
      } catch {
        // A kernel thread or a process that exited meanwhile.
      }
    }
    enable();
    return enabled() ? undefined : 'controllers did not enable';
  } catch (err) {
    return (err as Error).message;
  }
}

function mountsOf(mounts: string, type: string): { dir: string; options: string[] }[] {
  return mounts
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[2] === type && f[1])
    .map((f) => ({ dir: f[1]!.replace(/\\040/g, ' '), options: (f[3] ?? '').split(',') }));
}

function ownV1Path(own: string, controller: string): string | undefined {
  for (const line of own.split('\n')) {
    const [, controllers, p] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers?.split(',').includes(controller)) return p;
  }
  return undefined;
}

function readWords(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

function none(reason: string): CgroupLayout {
  return { kind: 'none', hierarchies: [], reason };
}
