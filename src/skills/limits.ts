import type { Config } from '../config/index.js';

/**
 * Resource limits of one skill process (setrlimit in src/skills/host.py). Fixed, generous for an
 * operator's script, tight enough that a runaway skill cannot take the machine down.
 */
export interface SkillLimits {
  /** RLIMIT_CPU: the wall timeout in seconds, plus one (the timeout normally fires first). */
  cpuSeconds: number;
  /** RLIMIT_AS: 1 GiB of address space. */
  asBytes: number;
  /** RLIMIT_NOFILE: 256 open files. */
  openFiles: number;
  /** RLIMIT_FSIZE: 64 MiB per written file. */
  fileBytes: number;
  /**
   * RLIMIT_NPROC: SKILL_MAX_PROCS (256) processes of the skill's user. Linux never applies it to root, which is one
   * more reason to set SKILL_RUN_AS when the gateway runs as root.
   */
  processes: number;
}

export function limitsFor(config: Config['skills']): SkillLimits {
  return {
    cpuSeconds: Math.ceil(config.timeoutMs / 1000) + 1,
    asBytes: 1024 * 1024 * 1024,
    openFiles: 256,
    fileBytes: 64 * 1024 * 1024,
    processes: config.maxProcs,
  };
}
