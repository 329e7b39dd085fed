/**
 * Keeps V8's young generation at its initial size while the gateway starts, and lets it grow
 * again once the gateway is ready.
 *
 * Why: V8 doubles the young generation (two semi-spaces, 1 MB each at first, up to 16 MB) each time
 * the bytes that survived its collections since the last doubling exceed its size. Start-up
 * survives almost everything it allocates (the code and objects of every module, the schemas,
 * the registry), about 20 MB, so by the end of start-up the young generation is at 8 MB x 2 and
 * stays there while the gateway waits for its first update: 6-10 MB of the idle RSS, and the
 * reason that figure moved by 10 MB from one start to the next (whether the last doubling came
 * before ready or not). Under load the growth is wanted (a small young generation means many more
 * collections, +25-30 % CPU per request measured with --max-semi-space-size=1), and load makes
 * it grow back within a few collections, so only start-up is held.
 *
 * The growth factor is read by V8 each time it grows the young generation, so setting it at run
 * time takes effect at once; nothing else about the heap changes. The entry point (main.ts) imports
 * this module alone and the gateway only after it, so the hold is in place before any other
 * module of the gateway is loaded.
 */
import v8 from 'node:v8';

/** V8's default (`--semi-space-growth-factor`): double at each step. */
const DEFAULT_GROWTH_FACTOR = 2;

/** An operator who set the factor on the command line keeps it, at start-up too. */
const held = !process.execArgv.some((arg) => arg.includes('semi-space-growth-factor'));
if (held) v8.setFlagsFromString('--semi-space-growth-factor=1');

/** Start-up is over: the young generation may grow again as the load asks for it. */
export function releaseYoungGeneration(): void {
  if (held) v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH_FACTOR}`);
}
