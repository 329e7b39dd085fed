import fs from 'node:fs';
import path from 'node:path';
import type { Hierarchy } from './cgroup-detect.js';

/** The file-system side of cgroups the pool needs: kill a cgroup's members, remove folders. */

const KILL_ROUNDS = 100; // a fork bomb may add members while we kill: bounded, 5 ms apart

/**
 * SIGKILLs every process in the slot until it is empty (bounded); true when it is.
 *
 * Not with cgroup.kill: on Linux 6.18 (measured here) every process later forked into a cgroup
 * with clone3(CLONE_INTO_CGROUP), as each skill process is, is born SIGKILLed once that cgroup's
 * cgroup.kill was written (the kernel compares the kill count of the parent's cgroup with the
 * target's). One kill would end every later call of the slot. Killing the listed members round
 * by round ends a fork bomb as well: pids.max bounds how many there are.
 */
export function killSlot(dirs: string[]): boolean {
  for (let round = 0; round < KILL_ROUNDS; round++) {
    const pids = dirs.flatMap((dir) => members(dir));
    if (pids.length === 0) return true;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ESRCH: already gone.
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // 5 ms, bounded rounds
  }
  return dirs.every((dir) => members(dir).length === 0);
}

function members(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Removes a cgroup tree bottom-up (rmdir only: cgroup files cannot be unlinked). */
export function removeTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) if (entry.isDirectory()) removeTree(path.join(dir, entry.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    // Still busy (a process in uninterruptible sleep): left for the next start's cleanup.
  }
}

/** `skillgate-<pid>-<n>` folders of gateways that are gone (a crash, a SIGKILL): kill and remove. */
export function removeLeftovers(hierarchies: Hierarchy[]): void {
  for (const h of hierarchies) {
    let names: string[];
    try {
      names = fs.readdirSync(h.dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = /^skillgate-(\d+)-\d+$/.exec(name);
      if (!match || isAlive(Number(match[1]))) continue;
      const root = path.join(h.dir, name);
      for (const slot of safeReaddir(root)) killSlot([path.join(root, slot)]);
      removeTree(root);
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}
