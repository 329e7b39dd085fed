// The skill host protocol as the gateway speaks it, against the examples the Python tests read
// too (test/fixtures/protocol/, test/skills/python/test_wire.py): the two sides cannot drift.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import type { HostCgroupConfig } from '../../src/skills/cgroups.js';
import { discoveryReport, hostFrame, KILL_LINE, readHostWarnings, requestLine, type CallRequest } from '../../src/skills/frames.js';
import type { HostConfig } from '../../src/skills/launcher.js';
import type { SkillLimits } from '../../src/skills/limits.js';
import type { HostConfine } from '../../src/skills/sandbox.js';
import { FIXTURES } from './helpers.js';

const read = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, 'protocol', name), 'utf8'));
const frames = read('host-frames.json') as {
  valid: { name: string; frame: unknown }[];
  invalid: { name: string; frame: unknown }[];
  registry: { frame: unknown };
  warning: { line: string; text: string };
};
const lines = read('gateway-lines.json') as { request: CallRequest; kill: string };
const hostConfig = read('host-config.json') as Record<string, unknown>;

t.test('every frame the Python builders make is read as it was written', async (t) => {
  for (const { name, frame } of frames.valid) {
    const parsed = hostFrame.safeParse(frame);
    t.ok(parsed.success, `${name}: accepted`);
    if (parsed.success) t.same(parsed.data, frame, `${name}: nothing dropped or added`);
  }
});

t.test('malformed frames are refused', async (t) => {
  for (const { name, frame } of frames.invalid) t.notOk(hostFrame.safeParse(frame).success, name);
});

t.test("discovery's registry line is read as it was written", async (t) => {
  const parsed = discoveryReport.safeParse(frames.registry.frame);
  t.ok(parsed.success);
  t.same(parsed.data, frames.registry.frame);
});

t.test("the host's own warnings are read from its stderr, and only those", async (t) => {
  const stderr = new PassThrough();
  const warnings: string[] = [];
  readHostWarnings(stderr, (text) => warnings.push(text));
  const { line, text } = frames.warning;
  stderr.write('a skill file printed this while imported\n');
  stderr.write(line.slice(0, 20)); // a line may arrive in pieces
  stderr.write(`${line.slice(20)}not a warning: skillgate host: inside a line\n`);
  t.same(warnings, [text]);
});

t.test('the gateway writes the request and the kill frame the host expects', async (t) => {
  t.equal(KILL_LINE, lines.kill, 'the exact kill frame');
  t.equal(requestLine(lines.request), `${JSON.stringify(lines.request)}\n`, 'one JSON line');
  t.same(JSON.parse(requestLine(lines.request)), lines.request);
});

// Each record must name every field of its interface and nothing else (checked by tsc), so a
// field added to the TypeScript side fails here until the fixture, and with it the Python
// HostConfig (test_config.py), has it too.
const hostConfigKeys = {
  dir: true, workspace: true, runAs: true, limits: true, maxOutputBytes: true, timeoutMs: true,
  importTimeoutMs: true, socket: true, exclude: true, confine: true, cgroups: true,
} satisfies Record<keyof HostConfig, true>;
const limitsKeys = { cpuSeconds: true, asBytes: true, openFiles: true, fileBytes: true, processes: true } satisfies Record<keyof SkillLimits, true>;
const confineKeys = { kind: true, abi: true, protected: true, readOnly: true, tmpRoot: true, network: true } satisfies Record<keyof HostConfine, true>;
const cgroupKeys = { memoryMb: true, slots: true } satisfies Record<keyof HostCgroupConfig, true>;
const slotKeys = { threads: true, dir: true, procs: true, list: true, oom: true } satisfies Record<keyof HostCgroupConfig['slots'][number], true>;

t.test('the shared HostConfig example has exactly the fields of the TypeScript HostConfig', async (t) => {
  const keys = (o: object) => Object.keys(o).sort();
  const sub = (key: string) => hostConfig[key] as Record<string, unknown>;
  t.same(keys(hostConfig), keys(hostConfigKeys), 'HostConfig');
  t.same(keys(sub('limits')), keys(limitsKeys), 'limits');
  t.same(keys(sub('confine')), keys(confineKeys), 'confine');
  t.same(keys(sub('cgroups')), keys(cgroupKeys), 'cgroups');
  for (const slot of sub('cgroups').slots as object[]) t.same(keys(slot), keys(slotKeys), 'a cgroup slot');
});
