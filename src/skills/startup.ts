import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { CgroupPool } from './cgroups.js';
import { chooseConfinement, watchFolders, type Confinement } from './confinement.js';
import { skillEnvironment, type ParentEnv } from './environment.js';
import { HostLauncher } from './launcher.js';
import { limitsFor } from './limits.js';
import { hostScriptPath, precompileHost, resolvePython, type PythonInfo } from './python.js';
import { SkillRegistry } from './registry.js';
import { WarmHost } from './warm-host.js';
import { watchDirectory } from './watcher.js';

export interface SkillRuntimeOptions {
  config: Config['skills'];
  logger: Logger;
  metrics?: Metrics;
  /**
   * The gateway's environment, source of PATH, HOME, LANG, TZ and SKILL_ENV_ALLOW values (nothing
   * else is passed on). Default: none of them (PATH falls back to the system default).
   */
  env?: ParentEnv;
  /** Watch SKILLS_DIR and reload on changes. Default true; the CLI turns it off. */
  watch?: boolean;
}

/** What a skill runtime is made of, built once at start (see SkillRuntime). */
export interface SkillRuntimeParts {
  config: Config['skills'];
  /** The `skills` child logger. */
  logger: Logger;
  metrics?: Metrics;
  confinement: Confinement;
  /** Starts host.py; owns the runtime's private folder (snapshots, sockets) and the cgroups. */
  launcher: HostLauncher;
  registry: SkillRegistry;
  /** SKILL_MODE=warm only. */
  warm?: WarmHost;
}

/**
 * Skill start-up, up to a runtime that has not loaded its skills yet: refuses SKILL_RUN_AS
 * without root, makes the workspace, resolves the interpreter, picks the sandbox (probing
 * Landlock and bwrap) while it precompiles the host package, and lays out the private folder.
 */
export async function prepareSkillRuntime(options: SkillRuntimeOptions): Promise<SkillRuntimeParts & { python: PythonInfo }> {
  const { config, metrics } = options;
  const logger = options.logger.child({ component: 'skills' });
  const isRoot = process.getuid?.() === 0;
  if (config.runAs && !isRoot) {
    throw new ConfigError(['SKILL_RUN_AS: only works when the gateway runs as root (it drops skill processes to that user); unset it']);
  }
  fs.mkdirSync(config.workspaceDir, { recursive: true });
  const env = skillEnvironment(options.env ?? {}, { workspaceDir: config.workspaceDir, allow: config.envAllow, logger });
  const python = await resolvePython(config.pythonBin, env, config.runAs);
  const hostScript = hostScriptPath();
  const privateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-skills-'));
  const [confinement, compiled] = await Promise.all([
    chooseConfinement(config, python, hostScript, privateRoot).catch((err: unknown) => {
      fs.rmSync(privateRoot, { recursive: true, force: true });
      throw err;
    }),
    precompileHost(python.executable, hostScript, env),
  ]);
  // Defence in depth: the shipped skills refuse these paths themselves (no secret in it).
  if (confinement.protected.length > 0) env.SKILLGATE_PROTECTED_PATHS = confinement.protected.join(path.delimiter);
  if (!compiled) logger.debug('Could not precompile the skill host package (read-only?); hosts compile it from source');
  if (isRoot && !config.runAs) {
    logger.warn('Running as root: skills run as root too. Set SKILL_RUN_AS to an unprivileged user (e.g. nobody) to drop them');
  }
  fs.chmodSync(privateRoot, 0o711); // SKILL_RUN_AS must be able to read the snapshots inside
  const socketDir = path.join(privateRoot, 'sock');
  fs.mkdirSync(socketDir, { mode: 0o700 });
  const launcher = new HostLauncher({
    python: python.executable,
    hostScript,
    sandbox: confinement.sandbox,
    env,
    workspaceDir: config.workspaceDir,
    runAs: config.runAs,
    limits: limitsFor(config),
    maxOutputBytes: config.maxOutputBytes,
    timeoutMs: config.timeoutMs,
    privateRoot,
    skillsDir: config.dir,
    hidden: config.gatewayPaths,
    cgroups: CgroupPool.start(config, logger).pool,
    maxConcurrency: config.maxConcurrency,
    logger,
  });
  const registry = new SkillRegistry({ skillsDir: config.dir, privateRoot, launcher, logger });
  const warm = config.mode === 'warm' ? new WarmHost(launcher, socketDir, logger) : undefined;
  return { config, logger, metrics, confinement, launcher, registry, warm, python };
}

/**
 * Calls `reload` when SKILLS_DIR changes and, under Landlock, when a folder whose entries the grant
 * set lists one by one changes (a new entry there would be outside the domain). Returns the stop.
 */
export function watchSkillSources(parts: SkillRuntimeParts, reload: () => void): () => void {
  const stopSkills = watchDirectory(parts.config.dir, 300, reload, parts.logger);
  const stopFolders = parts.confinement.sandbox.kind === 'landlock' ? watchFolders(parts.confinement.folders, reload, parts.logger) : () => undefined;
  return () => (stopSkills(), stopFolders());
}

/** The start log line (and the sandbox metric): which interpreter, mode and sandbox. */
export function announceSkillRuntime(parts: SkillRuntimeParts, python: PythonInfo): void {
  const { config, logger, confinement } = parts;
  const sandbox = confinement.sandbox;
  parts.metrics?.skillSandbox.set({ sandbox: sandbox.kind }, 1);
  if (sandbox.kind === 'none') logger.warn({ sandbox: confinement.level }, `Skills run unconfined: ${confinement.level}`);
  logger.info(
    { python: python.executable, pythonVersion: python.version, mode: config.mode, sandbox: sandbox.kind, sandboxLevel: confinement.level, protected: confinement.protected, runAs: config.runAs, workspace: config.workspaceDir },
    `Skill runtime ready (sandbox ${confinement.level})`,
  );
}
