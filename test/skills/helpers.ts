import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import type { Config } from '../../src/config/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { SkillRuntime } from '../../src/skills/runtime.js';
import { captureLogger } from '../helpers/logger.js';

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

/**
 * The inline decorator exactly as skill authors write it (CONTRACT section 6): the top of
 * test/fixtures/skills-decorators/inline_form.py, which the Python tests discover too.
 */
const INLINE_FORM = fs.readFileSync(path.join(FIXTURES, 'skills-decorators', 'inline_form.py'), 'utf8');
export const DECORATOR = `${INLINE_FORM.slice(INLINE_FORM.indexOf('import functools'), INLINE_FORM.indexOf('\n@skill(')).trimEnd()}\n`;

export interface RuntimeFixture {
  runtime: SkillRuntime;
  skillsDir: string;
  workspace: string;
  logs: () => string;
  lines: string[];
  metrics: Metrics;
}

/**
 * A runtime over a temp SKILLS_DIR holding `files` (name -> source), closed at teardown.
 */
export async function startRuntime(
  t: Test,
  files: Record<string, string>,
  overrides: Partial<Config['skills']> & { env?: Record<string, string | undefined>; watch?: boolean; secrets?: string[] } = {},
): Promise<RuntimeFixture> {
  const root = t.testdir({ skills: files, workspace: {} });
  const { env, watch, secrets, ...config } = overrides;
  const skillsDir = path.join(root, 'skills');
  const workspace = path.join(root, 'workspace');
  const { logger, lines, text } = captureLogger(secrets ?? []);
  const metrics = new Metrics();
  const runtime = await SkillRuntime.create({
    config: {
      dir: skillsDir,
      workspaceDir: workspace,
      pythonBin: 'python3',
      timeoutMs: 10_000,
      maxConcurrency: 4,
      queueMax: 8,
      maxOutputBytes: 65_536,
      mode: 'warm',
      sandbox: 'auto',
      gatewayPaths: [],
      runAs: undefined,
      envAllow: [],
      memoryMb: 1024,
      maxProcs: 256,
      ...config,
    },
    logger,
    metrics,
    env: env ?? { PATH: process.env.PATH, HOME: process.env.HOME },
    watch: watch ?? false,
  });
  t.teardown(() => runtime.close());
  return { runtime, skillsDir, workspace, logs: text, lines, metrics };
}

/** A fixture skill file from test/fixtures/skills-hostile. */
export function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, 'skills-hostile', name), 'utf8');
}

/** True when the process group no longer exists (kill(-pgid, 0) fails with ESRCH). */
export function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Polls `check` every 100 ms, at most `attempts` times. */
export async function eventually(check: () => boolean, attempts = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

export const MODES = ['warm', 'cold'] as const;

/** bubblewrap is installed and may create the namespaces SKILL_SANDBOX=bwrap uses, here. */
export function bwrapWorks(): boolean {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-pid', '--unshare-net', '--', '/bin/true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The comm of a warm host's zygote (skillgate_host/zygote.py, cut to 15 bytes by the kernel). */
const ZYGOTE_COMM = 'skillgate-zygot';

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function isZygote(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === ZYGOTE_COMM;
  } catch {
    return false;
  }
}

/** A warm host's skill processes (its running calls and its spare): its children but the zygote. */
export function skillProcessesOf(host: number): number[] {
  return childPids(host).filter((pid) => !isZygote(pid));
}

/**
 * A warm host's one idle spare, once the host has settled: a zygote is a fork of the host that
 * carries the host's name until it renames itself, so right after start it can pass for a spare.
 * Waits for one skill process beside a renamed zygote; a host that never makes a zygote (clone3
 * refused) has no such window, and after the wait its one skill process is taken as it is.
 */
export async function idleSpareOf(host: number): Promise<number | undefined> {
  let spare: number | undefined;
  const withZygote = await eventually(() => {
    const processes = skillProcessesOf(host);
    spare = processes.length === 1 && zygoteOf(host) !== undefined ? processes[0] : undefined;
    return spare !== undefined;
  }, 50);
  if (withZygote) return spare;
  const processes = skillProcessesOf(host);
  return processes.length === 1 ? processes[0] : undefined;
}

/** A warm host's zygote, the child that forks its spares, when it has one. */
export function zygoteOf(host: number): number | undefined {
  return childPids(host).find(isZygote);
}
