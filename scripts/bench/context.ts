import { freshDataDir, type BenchDirs } from './fixtures.js';
import type { GatewaySpec } from './gateway-process.js';
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
  /** The gateway entry point (`--gateway DIR`: DIR/dist/main.js, an A/B run against another build). */
  gatewayEntry: string;
  /** Progress lines go to stderr, so stdout holds only the result table. */
  progress(line: string): void;
}

/** A gateway child's spec on a fresh DATA_DIR named `name`, from what every benchmark shares. */
export async function gatewaySpec(
  ctx: BenchContext,
  name: string,
  telegramApiBase: string,
  extra: Partial<GatewaySpec> = {},
): Promise<GatewaySpec> {
  return {
    repoRoot: ctx.repoRoot,
    baseEnv: ctx.baseEnv,
    nodeArgs: ctx.gatewayNodeArgs,
    entry: ctx.gatewayEntry,
    tls: ctx.tls,
    dataDir: await freshDataDir(ctx.tmp, name),
    ...ctx.dirs,
    telegramApiBase,
    ...extra,
  };
}
