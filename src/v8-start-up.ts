/**
 * Two V8 settings held while the gateway starts and released once it is ready: start-up runs
 * once, and V8 sizes the heap and the compiled code for what ran, as if it were the load to come.
 * Both settings are read by V8 when it acts on them (a growth, a tier-up), so setting them at run
 * time takes effect at once. The entry point (main.ts) imports this module alone and the gateway
 * only after it, so the hold is in place before any other module of the gateway is loaded.
 *
 * The young generation. V8 doubles it (two semi-spaces, 1 MB each at first, up to 16 MB) each
 * time the bytes that survived its collections since the last doubling exceed its size. Start-up
 * survives almost everything it allocates (the code and objects of every module, the schemas,
 * the registry), about 20 MB, so by ready it was at 8 MB x 2 and stayed there while the gateway
 * waited for its first update: new space 16 MB at idle, 2 MB with the hold. Under load the growth
 * is wanted (a small young generation means many more collections: +25-30 % CPU per request
 * measured with --max-semi-space-size=1), so only start-up is held.
 *
 * WebAssembly tier-up. undici parses HTTP responses with llhttp compiled to WebAssembly; V8 runs
 * it in its baseline compiler and recompiles it with TurboFan once it has used a budget, which
 * the one getMe response of start-up already does. That compile runs on a V8 worker thread and
 * takes ~35 MB of compiler memory from the thread's malloc arena; about half the time glibc keeps
 * 10 MB of it resident afterwards: the main reason idle RSS moved between 88 and 107 MB from one
 * start to the next. With the budget raised during start-up the compile happens under load, after
 * the first few dozen responses, where it belongs.
 */
import v8 from 'node:v8';

/**
 * The growth factor once ready. Not V8's default of 2: the young generation grows only when the
 * bytes surviving its collections exceed its size, and at intake almost nothing survives, so
 * doubling from 1 MB took long enough to cost a quarter of the intake rate in a 3 s run
 * (13,300-13,750 -> 10,000-10,200 req/s). With 8 the first growth goes from 1 MB to 8 MB (the
 * size start-up used to leave) and the next to V8's cap of 16 MB: intake measured at par with
 * before (13,800-15,000 vs 13,650-14,550 req/s, three interleaved pairs).
 */
const RELEASED_GROWTH_FACTOR = 8;
/** V8's default `--wasm-tiering-budget` (Node 20): what each function gets after a tier-up check. */
const DEFAULT_TIERING_BUDGET = 1_800_000;
/**
 * The budget a WebAssembly instance starts with while held: start-up's few Bot API responses
 * (getMe, and getWebhookInfo/setWebhook with PUBLIC_URL) use less than 20 M; under load the first
 * tier-up comes after about ten to thirty responses (measured on undici's llhttp).
 */
const START_UP_TIERING_BUDGET = 50_000_000;

/**
 * An operator who set a flag on the command line keeps it, at start-up too. The command line is
 * the only place for them: Node refuses both in NODE_OPTIONS ("is not allowed in NODE_OPTIONS").
 */
const operatorSet = (flag: string) => process.execArgv.some((arg) => arg.includes(flag));
const holdGrowth = !operatorSet('semi-space-growth-factor');
const holdTierUp = !operatorSet('wasm-tiering-budget');
if (holdGrowth) v8.setFlagsFromString('--semi-space-growth-factor=1');
if (holdTierUp) v8.setFlagsFromString(`--wasm-tiering-budget=${START_UP_TIERING_BUDGET}`);

/** Start-up is over: the young generation may grow, and hot WebAssembly may tier up, as the load asks. */
export function endStartUp(): void {
  if (holdGrowth) v8.setFlagsFromString(`--semi-space-growth-factor=${RELEASED_GROWTH_FACTOR}`);
  if (holdTierUp) v8.setFlagsFromString(`--wasm-tiering-budget=${DEFAULT_TIERING_BUDGET}`);
}
