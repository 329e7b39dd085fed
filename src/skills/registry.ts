import fs from 'node:fs/promises';
import path from 'node:path';
import { SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { discoveryReport, hostWarningReader, type DiscoveryReport } from './frames.js';
import { killGroup, type HostLauncher } from './launcher.js';
import type { SkillInfo } from './types.js';
import { compileArgsValidator, type ArgsCheck } from './validate.js';

/** A skill as the runtime keeps it: the public info, its validator, and the snapshot file name. */
export interface RegisteredSkill {
  info: SkillInfo;
  /** Base name of the .py file inside the live snapshot. */
  fileName: string;
  validate: (args: unknown) => ArgsCheck;
}

const DISCOVERY_TIMEOUT_MS = 60_000;
const MAX_REPORT_BYTES = 16 * 1024 * 1024;

/**
 * Discovery with last-good semantics. Each load copies SKILLS_DIR/*.py into a new snapshot
 * folder and imports it in a sandboxed host.py; a file that fails to import is replaced in the
 * snapshot by its last good copy, so its skills keep working (warm and cold alike) until fixed.
 * Calls always import from the snapshot, never from SKILLS_DIR being edited.
 */
export class SkillRegistry {
  #skills = new Map<string, RegisteredSkill>();
  #generation = 0;
  #liveDir: string | undefined;
  #previousDir: string | undefined;
  #loadedOnce = false;

  constructor(
    private readonly options: { skillsDir: string; privateRoot: string; launcher: HostLauncher; logger: Logger },
  ) {}

  get loadedOnce(): boolean {
    return this.#loadedOnce;
  }

  get liveDir(): string | undefined {
    return this.#liveDir;
  }

  list(): SkillInfo[] {
    return [...this.#skills.values()].map((s) => s.info);
  }

  get(name: string): RegisteredSkill | undefined {
    return this.#skills.get(name);
  }

  /** Loads SKILLS_DIR into a new snapshot. Throws only when discovery itself could not run. */
  async load(): Promise<{ liveDir: string; changed: boolean }> {
    const { skillsDir, privateRoot, logger } = this.options;
    const dir = path.join(privateRoot, `gen-${++this.#generation}`);
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    try {
      const files = await listPythonFiles(skillsDir, logger);
      for (const file of files) {
        await fs.copyFile(path.join(skillsDir, file), path.join(dir, file));
        await fs.chmod(path.join(dir, file), 0o644);
      }
      const report = await this.#discover(dir);
      const next = new Map<string, RegisteredSkill>();
      const add = (info: SkillInfo, fileName: string) => {
        if (next.has(info.name)) {
          logger.warn({ skill: info.name, file: info.file }, `Duplicate skill name ${info.name}; keeping the one from ${next.get(info.name)!.info.file}`);
          return;
        }
        next.set(info.name, { info, fileName, validate: compileArgsValidator(info.parameters) });
      };
      for (const warning of report.warnings) logger.warn({ file: skillsDir }, `Skill warning: ${warning}`);
      const broken = new Map(report.errors.map((e) => [e.file, e.error]));
      for (const s of report.skills) add({ ...s, file: path.join(skillsDir, s.file) }, s.file);
      for (const [file, error] of broken) {
        const lastGood = [...this.#skills.values()].filter((s) => s.fileName === file);
        const source = path.join(skillsDir, file);
        if (lastGood.length > 0 && this.#liveDir) {
          await fs.copyFile(path.join(this.#liveDir, file), path.join(dir, file));
          for (const s of lastGood) add(s.info, file);
          logger.warn({ file: source, error, kept: lastGood.map((s) => s.info.name) }, `Skill file ${source} failed to import (${error}); keeping the last good version of its skills`);
        } else {
          await fs.rm(path.join(dir, file), { force: true });
          logger.warn({ file: source, error }, `Skill file ${source} failed to import: ${error}`);
        }
      }
      const changed = !sameRegistry(this.#skills, next);
      // Publish the skills and the snapshot they run from together: a call never mixes them.
      this.#skills = next;
      await this.#swap(dir);
      this.#loadedOnce = true;
      return { liveDir: dir, changed };
    } catch (err) {
      await fs.rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Keeps the previous snapshot one more round: a cold call may be importing from it right now. */
  async #swap(dir: string): Promise<void> {
    const stale = this.#previousDir;
    this.#previousDir = this.#liveDir;
    this.#liveDir = dir; // synchronous with the #skills assignment above: no await in between
    if (stale) await fs.rm(stale, { recursive: true, force: true });
  }

  #discover(dir: string): Promise<DiscoveryReport> {
    const child = this.options.launcher.spawn('discover', dir);
    child.stdin!.end();
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_REPORT_BYTES) chunks.push(c);
    });
    const warnings = hostWarningReader((text) => this.options.logger.warn({ dir }, `Skill discovery: ${text}`));
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-2000);
      warnings(c);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => killGroup(child.pid), DISCOVERY_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new SkillgateError('SG_SKILL_DISCOVERY_FAILED', `skill discovery could not start: ${err.message}`, { cause: err }));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        const parsed = safeJson(text.trim().split('\n').pop() ?? '');
        const report = discoveryReport.safeParse(parsed);
        if (report.success) return resolve(report.data);
        reject(new SkillgateError('SG_SKILL_DISCOVERY_FAILED', `skill discovery failed (exit ${code ?? signal}): ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no report'}`));
      });
    });
  }
}

async function listPythonFiles(dir: string, logger: Logger): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() && e.name.endsWith('.py')).map((e) => e.name).sort();
  } catch (err) {
    logger.warn({ dir, error: (err as Error).message }, 'SKILLS_DIR cannot be read; no skills loaded');
    return [];
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sameRegistry(a: Map<string, RegisteredSkill>, b: Map<string, RegisteredSkill>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, s] of a) {
    const t = b.get(name);
    if (!t || JSON.stringify(t.info) !== JSON.stringify(s.info)) return false;
  }
  return true;
}
