/**
 * Loads the undici package without making Node load its own bundled copy of undici too.
 *
 * When undici's index is first evaluated, its cookie helpers read `globalThis.Headers` (to accept
 * Node's Headers beside undici's own). In Node 20 that global is a lazy getter, and reading it
 * loads the copy of undici Node bundles for its global fetch (about 1 MB of code, kept on the heap
 * once compiled) and compiles that copy's HTTP parser to WebAssembly on a V8 worker thread, whose
 * malloc arena then often keeps megabytes of the compiler's memory. The gateway uses neither:
 * everything outbound goes through the undici package, and no cookie helper is called. So the
 * global is hidden while undici's index runs and put back as it was (still lazy, never read) right
 * after; anything that reads `Headers` later gets Node's as before. Measured: 1 MB less heap and
 * no second WebAssembly compile at start.
 */
export async function importUndici(): Promise<void> {
  const headers = Object.getOwnPropertyDescriptor(globalThis, 'Headers');
  if (!headers?.configurable) {
    await import('undici');
    return;
  }
  Reflect.deleteProperty(globalThis, 'Headers');
  try {
    await import('undici');
  } finally {
    Object.defineProperty(globalThis, 'Headers', headers);
  }
}
