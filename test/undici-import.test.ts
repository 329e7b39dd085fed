import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freshNodeJson } from './helpers/fresh-node.js';

const MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/undici-import.ts');

/** A fresh Node (module caches are per process) that loads undici one way and reports what it loaded. */
function loadUndici(how: 'importUndici' | 'plain import'): { bundledCopyLoaded: boolean; headersAfter: string; agent: string } {
  const script = `
    import { importUndici } from ${JSON.stringify(MODULE)};
    const bundled = () => process.moduleLoadList.includes('NativeModule internal/deps/undici/undici');
    if (${JSON.stringify(how)} === 'importUndici') await importUndici(); else await import('undici');
    const bundledCopyLoaded = bundled();
    const headersAfter = typeof new Headers({ a: '1' }).get;
    const { Agent } = await import('undici');
    console.log(JSON.stringify({ bundledCopyLoaded, headersAfter, agent: typeof Agent }));`;
  return freshNodeJson(script);
}

t.test("a plain import of undici makes Node load its bundled copy of undici (the reason for importUndici)", async (t) => {
  t.equal(loadUndici('plain import').bundledCopyLoaded, true);
});

t.test("importUndici loads the package without Node's bundled copy, and the global Headers still works after", async (t) => {
  const loaded = loadUndici('importUndici');
  t.equal(loaded.bundledCopyLoaded, false, "Node's bundled undici not loaded by the import");
  t.equal(loaded.headersAfter, 'function', 'globalThis.Headers is back, and usable');
  t.equal(loaded.agent, 'function', 'later imports of undici get the loaded package');
});
