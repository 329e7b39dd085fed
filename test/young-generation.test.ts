import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/young-generation.ts');

/**
 * A fresh Node (the young generation's size is per process) that keeps ~24 MB of small objects
 * alive, as start-up does, and prints the new space's size in MB: when the hold began (tsx's own
 * loading runs before it), with the survivors held, and after the release with as many again.
 */
interface NewSpaceSizes {
  before: number;
  held: number;
  released: number;
}

function newSpaceSizes(nodeArgs: string[] = []): NewSpaceSizes {
  const script = `
    import v8 from 'node:v8';
    import { releaseYoungGeneration } from ${JSON.stringify(MODULE)};
    const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    const survivors = (n) => { const kept = []; for (let i = 0; i < n; i++) kept.push({ i, text: 'x' + i }); return kept; };
    const before = newSpace();
    const keep = [survivors(400_000)];
    const held = newSpace();
    releaseYoungGeneration();
    keep.push(survivors(400_000));
    console.log(JSON.stringify({ before, held, released: newSpace(), kept: keep.length }));`;
  const out = execFileSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as NewSpaceSizes;
}

t.test('start-up survivors do not grow the young generation until the release, then they do', async (t) => {
  const { before, held, released } = newSpaceSizes();
  t.equal(held, before, `held: new space still ${before} MB with 24 MB of survivors`);
  t.ok(released >= 4 * held, `released: new space ${released} MB`);
});

t.test('a growth factor set on the command line is left alone', async (t) => {
  const { before, held } = newSpaceSizes(['--semi-space-growth-factor=2']);
  t.ok(held > before, `new space ${before} -> ${held} MB: the operator's factor applied during start-up`);
});
