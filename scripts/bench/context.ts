import type { BenchDirs } from './fixtures.js';
import type { TlsFiles } from './net.js';
import type { ChildProcesses } from './processes.js';
import type { BenchProfile } from './profile.js';

/** What every benchmark gets from the entry point; nothing is global. */
export interface BenchContext {
  repoRoot: string;
  profile: BenchProfile;
  procs: ChildProcesses;
  /** A temp dir removed at the end; each benchmark makes its own DATA_DIR inside. */
  tmp: string;
  tls: TlsFiles;
  dirs: BenchDirs;
  /** PATH and HOME from the bench's environment, the only variables handed to children. */
  baseEnv: { PATH: string; HOME: string };
  /** Extra node flags for every skillgate child (`--profile` adds --cpu-prof). */
  gatewayNodeArgs: string[];
  /** Progress lines go to stderr, so stdout holds only the result table. */
  progress(line: string): void;
}
