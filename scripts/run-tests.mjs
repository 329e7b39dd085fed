#!/usr/bin/env node
// Runs the tap suite with the TAP reporter and ends with one plain line,
// `N passed, N failed, N skipped`, which CI reads (tap's own summary is not in that form).
// Passing assertions are folded away; every failure is printed with its diagnostics, and every
// skipped or todo test with its reason (a todo counts as skipped). Exit code 0 only when nothing
// failed; see scripts/test-summary.mjs for what counts as a failure.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { formatSkip, TapSummary } from './test-summary.mjs';

const tapBin = fileURLToPath(new URL('../node_modules/tap/dist/esm/run.mjs', import.meta.url));
const child = spawn(process.execPath, [tapBin, '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

const summary = new TapSummary();
const rl = createInterface({ input: child.stdout });
rl.on('line', (line) => {
  if (summary.push(line)) console.log(line);
});

child.on('close', (code, signal) => {
  const result = summary.result(code ?? (signal ? 1 : 0));
  console.log('');
  for (const skip of result.skips) console.log(formatSkip(skip));
  for (const failure of result.failures) console.log(`fail: ${failure}`);
  for (const problem of result.problems) console.log(`fail: ${problem}`);
  console.log(result.line);
  process.exit(result.failed === 0 ? 0 : 1);
});
