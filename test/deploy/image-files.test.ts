import t from 'tap';
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { imageFiles } from '../helpers/docker-context.js';
import { ROOT } from '../helpers/gateway-process.js';

/**
 * The CLIs the README promises inside the Docker image can run there: from the Dockerfile's COPY
 * lines and .dockerignore, the image's file list holds every local module each `tsx scripts/X.ts`
 * command imports (following the import graph), and every package they import is a production
 * dependency (the final stage has `npm prune --omit=dev` node_modules). `npm run bench` needs dev
 * dependencies (autocannon, grammy) and the README says it is not in the image.
 */

const NOT_IN_IMAGE = new Set(['bench']);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Module specifiers a file loads at run time (type-only imports are erased, so left out). */
function importsOf(file: string): string[] {
  const code = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) specs.push(m[1]!);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  return specs;
}

/** A relative specifier resolved as tsx does: `./x.js` may be `./x.ts`. */
function resolveLocal(from: string, spec: string): string {
  const target = path.resolve(path.dirname(from), spec);
  for (const candidate of [target, target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), `${target}.ts`]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${path.relative(ROOT, from)} imports ${spec}, which does not exist`);
}

function packageName(spec: string): string {
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
}

/** Every local file and bare package reachable from `entry`. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) todo.push(resolveLocal(file, spec));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) packages.add(packageName(spec));
    }
  }
  return { files, packages };
}

const clis = Object.entries(pkg.scripts).flatMap(([name, command]) => {
  const m = /^tsx (scripts\/\S+\.ts)/.exec(command);
  return m ? [{ name, entry: m[1]! }] : [];
});

t.test('the image-file model sees the COPY lines', async (t) => {
  const image = imageFiles(ROOT);
  t.ok(image.files.has('package.json'));
  t.ok(image.files.has('fakes/telegram.ts'), 'the fakes ship (the demo uses them)');
  t.ok(image.files.has('skills/system_skills.py'));
  t.notOk([...image.files].some((f) => f.startsWith('test/')), 'no tests in the image');
  t.notOk([...image.files].some((f) => f.includes('__pycache__')));
  t.same(image.fromStages.sort(), ['dist', 'node_modules'], 'node_modules (production only) and dist from the build stage');
  t.ok(clis.length >= 5, `CLIs found in package.json: ${clis.map((c) => c.name).join(', ')}`);
});

for (const cli of clis) {
  const promised = !NOT_IN_IMAGE.has(cli.name);
  t.test(`npm run ${cli.name} ${promised ? 'has everything it imports in the image' : 'is documented as not in the image'}`, async (t) => {
    if (!promised) {
      t.match(readme, new RegExp(`\`npm run ${cli.name}\` is not in the image`), 'the README says so');
      return;
    }
    const image = imageFiles(ROOT);
    const graph = importGraph(path.join(ROOT, cli.entry));
    const missingFiles = [...graph.files].map((f) => path.relative(ROOT, f)).filter((f) => !image.files.has(f));
    t.same(missingFiles, [], `${graph.files.size} local modules, all copied into the image`);
    const devOnly = [...graph.packages].filter((p) => !(p in pkg.dependencies));
    t.same(devOnly, [], `packages ${[...graph.packages].join(', ')}: all production dependencies`);
  });
}
