import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Newest mtime of any file under `dir` (0 when it does not exist). */
function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * The bench measures `node dist/main.js`, so dist/ must match src/: rebuild when dist/main.js is
 * missing or older than any source file. tsc still emits when only types fail, so a type error
 * is reported but does not stop the bench as long as dist/main.js exists.
 */
export function ensureBuilt(repoRoot: string, progress: (line: string) => void): void {
  const main = path.join(repoRoot, 'dist/main.js');
  const builtAt = fs.existsSync(main) ? fs.statSync(main).mtimeMs : 0;
  // tsc rewrites every output on each build, so main.js's mtime is the build's.
  if (builtAt > 0 && builtAt >= newestMtime(path.join(repoRoot, 'src'))) return;
  progress('build: dist/ is missing or older than src/, running npm run build');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, encoding: 'utf8' });
  if (build.status !== 0) {
    if (!fs.existsSync(main)) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
    progress(`build: npm run build reported errors (dist/ was still emitted):\n${(build.stdout + build.stderr).trim()}`);
  }
}

/** `python3 --version` as "3.11.7". */
export function pythonVersion(): string {
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
