import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { describeCgroups, detectCgroups, type CgroupLayout, type Hierarchy } from './cgroup-detect.js';
import { closeAll, killSlot, removeLeftovers, removeTree } from './cgroup-fs.js';

export type { CgroupLayout } from './cgroup-detect.js';

interface CgroupLimits {
  /** memory.max / memory.limit_in_bytes of one call's whole process tree. */
  memoryBytes: number;
  /** pids.max of one call's whole process tree. */
  pids: number;
}

/**
 * What a host process receives in its config: descriptor numbers as it will see them. Per slot:
 * `threads`, each cgroup v1 hierarchy's `tasks` file (a forked skill process joins by writing "0":
 * one thread moves, which spares the global lock a whole-process move takes, and the process is
 * single-threaded then); `dir` and `procs`, the cgroup2 folder (for clone3 CLONE_INTO_CGROUP: the
 * skill process is born inside, no move at all) and its cgroup.procs (the move, when clone3 is
 * refused).
 */
export interface HostCgroupConfig {
  memoryMb: number;
  slots: { threads: number[]; dir: number | null; procs: number | null; list: number; oom: number | null }[];
}

/** Slots lent to one host process, and the descriptors to hand it (stdio 3, 4, ...). */
export interface SlotLease {
  config: HostCgroupConfig;
  fds: number[];
  /** Kills everything in the lease's slots and returns them (the host exited). Idempotent. */
  release(): void;
}

interface Slot {
  /** The slot's directory in each hierarchy, in layout order. */
  dirs: string[];
  /** Seen empty when it was given back; nothing can enter a free slot, so no second kill. */
  emptied: boolean;
}

let poolCount = 0; // several runtimes in one process (tests, the CLI) each get a root of their own
const MAX_SLOTS = 1024; // far above any SKILL_MAX_CONCURRENCY: a leak shows as an error, not a fork of /sys

/**
 * Per-call cgroups. The gateway (unconfined) creates, under its own cgroup, a folder
 * `skillgate-<pid>` per hierarchy holding slot cgroups `s<N>` with the call limits. Each host
 * process (warm host, cold call, discovery) gets a lease of slots as inherited descriptors (see
 * skillgate_host/cgroup.py): one per skill process it may run at once. The host puts each skill
 * process in a free slot and kills the slot when its call ends; when a host process exits, however
 * it died, the gateway kills its slots, so nothing a call started outlives the host either.
 */
export class CgroupPool {
  readonly #free: Slot[] = [];
  readonly #all: Slot[] = [];
  #closed = false;

  private constructor(
    readonly layout: CgroupLayout,
    private readonly limits: CgroupLimits,
    private readonly rootDirs: string[],
  ) {}

  /** The pool, or undefined (with the layout saying why) when this machine gives none. */
  static create(limits: CgroupLimits, options: { pid?: number } = {}): { pool?: CgroupPool; layout: CgroupLayout } {
    const layout = detectCgroups();
    if (layout.kind === 'none') return { layout };
    const name = `skillgate-${options.pid ?? process.pid}-${poolCount++}`;
    removeLeftovers(layout.hierarchies);
    try {
      const roots = layout.hierarchies.map((h) => {
        const root = path.join(h.dir, name);
        fs.mkdirSync(root, { recursive: true });
        if (h.version === 2 && h.controllers.length) {
          fs.writeFileSync(path.join(root, 'cgroup.subtree_control'), h.controllers.map((c) => `+${c}`).join(' '));
        }
        return root;
      });
      const pool = new CgroupPool(layout, limits, roots);
      pool.#free.push(pool.#create()); // fail now, at start, if slots cannot be made
      return { pool, layout };
    } catch (err) {
      for (const h of layout.hierarchies) removeTree(path.join(h.dir, name));
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'the gateway may not create cgroups here (neither root nor a delegated subtree: systemd Delegate=, see deploy/skillgate.service)'
        : `cannot create cgroups: ${(err as Error).message}`;
      return { layout: { kind: 'none', hierarchies: [], reason: why } };
    }
  }

  /** The runtime's pool for SKILL_MEMORY_MB and SKILL_MAX_PROCS, and the start log line saying what holds. */
  static start(config: Config['skills'], logger: Logger): { pool?: CgroupPool; kind: CgroupLayout['kind'] } {
    const limits = { memoryBytes: config.memoryMb * 2 ** 20, pids: config.maxProcs };
    const { pool, layout } = CgroupPool.create(limits);
    logger.info({ cgroups: layout.kind }, `Skill cgroups: ${describeCgroups(layout, limits)}`);
    return { pool, kind: layout.kind };
  }

  /** `count` slots for one host process, their descriptors opened now (before it is confined). */
  lease(count: number): SlotLease {
    const slots: Slot[] = [];
    const fds: number[] = [];
    const config: HostCgroupConfig = { memoryMb: Math.round(this.limits.memoryBytes / 2 ** 20), slots: [] };
    const open = (file: string, flags: number) => {
      fds.push(fs.openSync(file, flags));
      return 2 + fds.length; // the child sees them from descriptor 3 on, in this order
    };
    const hs = this.layout.hierarchies;
    const v2 = hs.findIndex((h) => h.version === 2);
    const mem = hs.findIndex((h) => h.controllers.includes('memory'));
    const oomFile = mem < 0 ? undefined : hs[mem]!.version === 2 ? 'memory.events' : 'memory.oom_control';
    try {
      for (let i = 0; i < count; i++) {
        const slot = this.#take();
        slots.push(slot);
        const threads = slot.dirs.flatMap((dir, i) => (hs[i]!.version === 1 ? [open(path.join(dir, 'tasks'), fs.constants.O_WRONLY)] : []));
        const dir = v2 >= 0 ? open(slot.dirs[v2]!, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : null;
        const procs = v2 >= 0 ? open(path.join(slot.dirs[v2]!, 'cgroup.procs'), fs.constants.O_WRONLY) : null;
        // Who is in the slot, read by the host through this descriptor before and after each call:
        // cgroup2's list is made afresh at every read, a cgroup v1 cgroup.procs read again through
        // the same descriptor can be the list of up to a second before (the kernel keeps it per
        // open file), which once said "empty" of a slot that held a call's daemon.
        const list = open(path.join(slot.dirs[v2 >= 0 ? v2 : 0]!, 'cgroup.procs'), fs.constants.O_RDONLY);
        const oom = oomFile ? open(path.join(slot.dirs[mem]!, oomFile), fs.constants.O_RDONLY) : null;
        config.slots.push({ threads, dir, procs, list, oom });
      }
    } catch (err) {
      closeAll(fds);
      this.#give(slots);
      throw err;
    }
    let released = false;
    return {
      config,
      fds,
      release: () => {
        if (released) return;
        released = true;
        this.#give(slots);
      },
    };
  }

  /** Closes the descriptors the gateway holds for a lease, once the host has its copies. */
  static closeDescriptors(lease: SlotLease): void {
    closeAll(lease.fds);
    lease.fds.length = 0;
  }

  /** The pool's own folders, one per hierarchy (tests check they are gone after close). */
  get roots(): readonly string[] {
    return this.rootDirs;
  }

  /** Kills what is left in every slot and removes the cgroups (shutdown). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#all) killSlot(slot.dirs);
    for (const root of this.rootDirs) removeTree(root);
  }

  #take(): Slot {
    if (this.#closed) throw new SkillgateError('SG_CGROUPS_UNAVAILABLE', 'the cgroup pool is closed');
    const index = this.#free.findIndex((slot) => slot.emptied || killSlot(slot.dirs));
    const slot = index >= 0 ? this.#free.splice(index, 1)[0]! : this.#create();
    slot.emptied = false; // lent: a host may put processes in it from now on
    return slot;
  }

  #give(slots: Slot[]): void {
    for (const slot of slots) slot.emptied = killSlot(slot.dirs);
    if (!this.#closed) this.#free.push(...slots);
  }

  #create(): Slot {
    if (this.#all.length >= MAX_SLOTS) throw new SkillgateError('SG_CGROUPS_UNAVAILABLE', `more than ${MAX_SLOTS} per-call cgroups in use`);
    const name = `s${this.#all.length}`;
    const dirs = this.layout.hierarchies.map((h, i) => {
      const dir = path.join(this.rootDirs[i]!, name);
      fs.mkdirSync(dir, { recursive: true });
      writeLimits(h, dir, this.limits);
      return dir;
    });
    const slot = { dirs, emptied: true };
    this.#all.push(slot);
    return slot;
  }
}

function writeLimits(h: Hierarchy, dir: string, limits: CgroupLimits): void {
  const write = (file: string, value: string | number, optional = false) => {
    try {
      fs.writeFileSync(path.join(dir, file), String(value));
    } catch (err) {
      if (!optional) throw err;
    }
  };
  if (h.controllers.includes('memory')) {
    if (h.version === 2) {
      write('memory.max', limits.memoryBytes);
      write('memory.swap.max', 0, true); // the limit is of memory, not memory plus swap
      write('memory.oom.group', 1, true); // one OOM kill ends the call's whole tree
    } else {
      write('memory.limit_in_bytes', limits.memoryBytes);
      write('memory.memsw.limit_in_bytes', limits.memoryBytes, true);
    }
  }
  if (h.controllers.includes('pids')) write('pids.max', limits.pids);
}
