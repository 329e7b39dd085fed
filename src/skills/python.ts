import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, SkillgateError } from '../errors.js';

export interface PythonInfo {
  /** `sys.executable` of PYTHON_BIN: the real interpreter, not a version-manager shim. */
  executable: string;
  version: string;
  /** uid SKILL_RUN_AS names, when set. */
  runAsUid: number | undefined;
}

const PROBE = `
import json, sys
info = {"executable": sys.executable, "version": sys.version.split()[0], "runAsUid": None}
if len(sys.argv) > 1:
    import pwd
    name = sys.argv[1]
    try:
        info["runAsUid"] = (pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)).pw_uid
    except KeyError:
        info["runAsError"] = "no such user"
print(json.dumps(info))
`;

/**
 * Runs PYTHON_BIN once to learn the real interpreter. pyenv-style shims are shell scripts that
 * cost ~50 ms per call; resolving them at start keeps that off every skill call.
 */
export async function resolvePython(bin: string, env: Record<string, string>, runAs?: string): Promise<PythonInfo> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(bin, ['-c', PROBE, ...(runAs ? [runAs] : [])], { env, timeout: 15_000 }, (err, out, errOut) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : String(errOut || err.message).trim().split('\n').pop();
        reject(new ConfigError([`PYTHON_BIN: "${bin}" cannot be run (${why}); install python3 or point PYTHON_BIN at an interpreter`]));
      } else resolve(out);
    });
  });
  const info = JSON.parse(stdout) as PythonInfo & { runAsError?: string };
  if (info.runAsError) throw new ConfigError([`SKILL_RUN_AS: user "${runAs}" does not exist on this machine`]);
  return { executable: info.executable, version: info.version, runAsUid: info.runAsUid ?? undefined };
}

/**
 * host.py ships next to this file in src/. After `tsc` this module runs from dist/skills/, and
 * tsc does not copy .py files, so it is found in the package's src/skills/ instead.
 */
/**
 * How every host.py process is started. -B: no bytecode written (precompileHost compiles the
 * package once); -S: no `site` at start, whose .pth lines would run code before the host confines
 * itself (skillgate_host/site_paths.py puts site-packages on sys.path instead).
 */
export const HOST_PYTHON_FLAGS = ['-B', '-S'] as const;

export function hostScriptPath(): string {
  const candidates = [new URL('./host.py', import.meta.url), new URL('../../src/skills/host.py', import.meta.url)];
  for (const url of candidates) {
    const file = fileURLToPath(url);
    if (fs.existsSync(file)) return file;
  }
  throw new SkillgateError('SG_SKILL_HOST_MISSING', `src/skills/host.py not found next to ${fileURLToPath(import.meta.url)}: ship src/skills/host.py with the build`);
}

/**
 * Compiles the skillgate_host package next to host.py into its __pycache__, once per start (what
 * pip does at install time). Hosts run with -B, so they never write bytecode themselves, but they
 * read it: a cold call then does not compile the package on every start (~6 ms). Best effort: on a
 * read-only install Python compiles from source, as before; an image can run compileall at build.
 */
export function precompileHost(python: string, hostScript: string, env: Record<string, string>): Promise<boolean> {
  const pkg = path.join(path.dirname(hostScript), 'skillgate_host');
  return new Promise((resolve) => {
    execFile(python, ['-m', 'compileall', '-q', pkg], { env, timeout: 15_000 }, (err) => resolve(!err));
  });
}
