#!/usr/bin/env node
// Runs the tap suite with the TAP reporter and ends with one plain line, `N passed, N failed`,
// which CI reads (tap's own summary is not in that form). Passing assertions are folded away;
// every failure is printed with its diagnostics. Exit code: tap's, or 1 when anything failed.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const tapBin = new URL('../node_modules/tap/dist/esm/run.mjs', import.meta.url);
const child = spawn(process.execPath, [tapBin.pathname, '--reporter=tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});

let summary;
let inFailure = -1; // indentation of the `not ok` whose diagnostics are being printed
const rl = createInterface({ input: child.stdout });
rl.on('line', (line) => {
  const indent = line.length - line.trimStart().length;
  const body = line.trimStart();
  const m = /^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(line);
  if (m) summary = { total: +m[1], pass: +m[2], fail: +(m[3] ?? 0) };
  if (body.startsWith('not ok')) inFailure = indent;
  else if (inFailure >= 0 && indent <= inFailure && !body.startsWith('---') && !body.startsWith('...')) inFailure = -1;
  if (indent === 0 || inFailure >= 0 || body.startsWith('# Subtest: test/')) console.log(line);
});

child.on('close', (code, signal) => {
  const pass = summary?.pass ?? 0;
  const fail = summary ? summary.fail || summary.total - summary.pass : 1;
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(code === 0 && fail === 0 && summary ? 0 : code || 1);
});
