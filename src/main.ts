/**
 * `npm start`: configuration from the environment and `.env`, then the gateway until a signal
 * (src/run-gateway.ts). Exit codes: 0 after a clean shutdown, 78 for configuration problems, 1
 * for anything else.
 *
 * The only static import holds V8's young generation at its start-up size (see the module). The
 * rest is imported after it has run: a static import graph is loaded and compiled as a whole
 * before any of it runs, and that alone grew the young generation to 4 MB semi-spaces.
 */
import './young-generation.js';

await import('./run-gateway.js');
