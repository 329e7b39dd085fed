/**
 * `npm start`: configuration from the environment and `.env`, then the gateway until a signal
 * (src/run-gateway.ts). Exit codes: 0 after a clean shutdown, 78 for configuration problems, 1
 * for anything else.
 *
 * Before the gateway's modules load: V8's start-up settings are held (v8-start-up.ts) and undici
 * is loaded without Node's bundled copy (undici-import.ts). The gateway is imported only after
 * both: a static import graph is loaded and compiled as a whole before any of it runs, and that
 * alone grew the young generation to 4 MB semi-spaces before a hold could take effect.
 */
import './v8-start-up.js';
import { importUndici } from './undici-import.js';

await importUndici();
await import('./run-gateway.js');
