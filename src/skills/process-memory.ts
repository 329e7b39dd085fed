import fs from 'node:fs';

/**
 * Resident memory of a process and its descendants (Linux /proc), with the pages that forks of one
 * program share counted once: the sum of private pages, plus per executable the largest shared set.
 * The warm host's spare skill process shares most of its pages with the host copy-on-write;
 * summing VmRSS would count them twice. For a single process this is its RSS.
 */
export function treeRssBytes(pid: number): number | undefined {
  let privateBytes = 0;
  const largestShared = new Map<string, number>(); // executable -> its largest shared set
  const seen = new Set<number>();
  const stack = [pid];
  while (stack.length > 0 && seen.size < 1000) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    const memory = residentMemory(p);
    if (!memory) {
      if (p === pid) return undefined;
      continue;
    }
    privateBytes += memory.privateBytes;
    const exe = executableOf(p);
    largestShared.set(exe, Math.max(largestShared.get(exe) ?? 0, memory.sharedBytes));
    try {
      const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
      if (children) stack.push(...children.split(/\s+/).map(Number));
    } catch {
      // it exited meanwhile
    }
  }
  return privateBytes + [...largestShared.values()].reduce((a, b) => a + b, 0);
}

function executableOf(pid: number): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return `pid:${pid}`; // not ours to read: count its shared pages on their own
  }
}

/** Private and shared resident bytes of one process (smaps_rollup; all of VmRSS as private without it). */
function residentMemory(pid: number): { privateBytes: number; sharedBytes: number } | undefined {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    return { privateBytes: kb('Private_Clean') + kb('Private_Dirty'), sharedBytes: kb('Shared_Clean') + kb('Shared_Dirty') };
  } catch {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return kb ? { privateBytes: Number(kb) * 1024, sharedBytes: 0 } : undefined;
    } catch {
      return undefined;
    }
  }
}
