import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the Docker image holds, worked out without a Docker engine: the build context (the
 * checkout minus .dockerignore) and the final stage's COPY lines. Enough of Docker's rules for
 * this repository's files: `*`, `?`, `**`, `!` re-includes, a matched directory drops its tree.
 */

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function dockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), re: globToRegExp(path.posix.normalize(l.replace(/^!/, '').replace(/^\//, '')).replace(/\/$/, '')) }));
  return (file) => {
    // A path is excluded when it or one of its parent directories matches; the last rule wins.
    const prefixes = file.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) excluded = !rule.negate;
    return excluded;
  };
}

/** Every file of the build context, relative to `root`, with ignored directories pruned. */
export function buildContext(root: string): string[] {
  const ignored = dockerignore(readFileSync(path.join(root, '.dockerignore'), 'utf8'));
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (ignored(child)) continue;
      if (entry.isDirectory()) walk(child);
      else files.push(child);
    }
  };
  walk('');
  return files;
}

export interface ImageFiles {
  /** Paths under WORKDIR copied from the build context. */
  files: Set<string>;
  /** Destinations copied from an earlier stage (`COPY --from=...`), e.g. node_modules, dist. */
  fromStages: string[];
}

/** The files the Dockerfile's last stage copies in, relative to its WORKDIR. */
export function imageFiles(root: string): ImageFiles {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const final = dockerfile.split(/^FROM /m).at(-1)!;
  const context = buildContext(root);
  const files = new Set<string>();
  const fromStages: string[] = [];
  for (const line of final.split('\n')) {
    const m = /^COPY\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const words = m[1]!.split(/\s+/);
    const from = words.some((w) => w.startsWith('--from='));
    const args = words.filter((w) => !w.startsWith('--'));
    const rawDest = args.pop()!;
    const dest = path.posix.normalize(rawDest).replace(/^\.\/?/, '').replace(/\/$/, '');
    const intoDir = rawDest.endsWith('/') || dest === '';
    for (const src of args) {
      const source = path.posix.normalize(src).replace(/^\.?\//, '').replace(/\/$/, '');
      if (from) {
        fromStages.push(dest || path.posix.basename(source));
        continue;
      }
      for (const file of context) {
        // `COPY file ./` keeps the name; `COPY dir ./dest` copies the directory's contents into dest.
        if (file === source) files.add(intoDir ? path.posix.join(dest, path.posix.basename(file)) : dest);
        else if (file.startsWith(`${source}/`)) files.add(path.posix.join(dest, file.slice(source.length + 1)));
      }
    }
  }
  return { files, fromStages };
}
