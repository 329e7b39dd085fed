import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freshNodeJson } from './helpers/fresh-node.js';

const MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/v8-start-up.ts');

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
    import { endStartUp } from ${JSON.stringify(MODULE)};
    const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    const survivors = (n) => { const kept = []; for (let i = 0; i < n; i++) kept.push({ i, text: 'x' + i }); return kept; };
    const before = newSpace();
    const keep = [survivors(400_000)];
    const held = newSpace();
    endStartUp();
    keep.push(survivors(400_000));
    console.log(JSON.stringify({ before, held, released: newSpace(), kept: keep.length }));`;
  return freshNodeJson<NewSpaceSizes>(script, nodeArgs);
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

/**
 * (func (export "spin") (param i32) (result i32)): a loop of n turns, hot enough for V8 to tier
 * it up from Liftoff to TurboFan once it has used its budget.
 */
const SPIN_WASM = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 127, 1, 127, 3, 2, 1, 0, 7, 8, 1, 4, 115, 112, 105, 110, 0, 0, 10, 27, 1, 25, 1, 1,
  127, 3, 64, 32, 1, 65, 1, 106, 33, 1, 32, 0, 65, 1, 107, 34, 0, 13, 0, 11, 32, 1, 11,
];

t.test('WebAssembly made during start-up is not recompiled by TurboFan for start-up work; after the release, hot code is', async (t) => {
  const script = `
    import { endStartUp } from ${JSON.stringify(MODULE)};
    const { instance } = await WebAssembly.instantiate(new Uint8Array(${JSON.stringify(SPIN_WASM)}));
    const spin = instance.exports.spin;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    // About 4 M of budget: more than V8's default 1.8 M, as start-up's Bot API responses use in llhttp.
    spin(200000);
    await settle();
    const duringStartUp = %IsTurboFanFunction(spin);
    endStartUp();
    for (let i = 0; i < 50; i++) spin(100000);
    await settle();
    console.log(JSON.stringify({ duringStartUp, underLoad: %IsTurboFanFunction(spin) }));`;
  t.same(freshNodeJson(script, ['--allow-natives-syntax']), { duringStartUp: false, underLoad: true });
});
