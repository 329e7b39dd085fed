import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { CgroupPool } from './cgroups.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { skillEnvironment, type ParentEnv } from './environment.js';
import { execute, type Execution } from './executor.js';
import { HostLauncher } from './launcher.js';
import { ConcurrencyLimiter } from './limiter.js';
import { limitsFor } from './limits.js';
import { hostScriptPath, precompileHost, resolvePython } from './python.js';
import { SkillRegistry } from './registry.js';
import { toSkillResult } from './result.js';
import { recordCall } from './trace.js';
import { chooseConfinement, watchFolders, type Confinement } from './confinement.js';
import { coldTransport, type CallTransport } from './transport.js';
import type { SkillInfo, SkillResult, SkillRunner } from './types.js';
import { WarmHost, type WarmHostState } from './warm-host.js';
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

export interface SkillRuntimeStatus {
  ready: boolean;
  skills: number;
  mode: 'warm' | 'cold';
  sandbox: Confinement['sandbox']['kind'];
  /** What the sandbox enforces here (e.g. the Landlock ABI and its rules), or why there is none. */
  sandboxLevel: string;
  cgroups: 'v2' | 'v1-hybrid' | 'none'; // per-call cgroups; none: per-process rlimits only
  /** Why it is not ready (empty when ready). */
  reasons: string[];
  warmHost: WarmHostState | 'off';
}

/**
 * The skill runtime: the registry (discovery, hot reload) and the executor (validation,
 * concurrency, warm or cold host, sandbox, limits, trace, metrics). `run` never throws.
 * Emits 'reload' with the new SkillInfo[] whenever the registry changes.
 */
export class SkillRuntime extends EventEmitter implements SkillRunner {
  readonly #active = new Set<CallTransport>();
  #stopWatching: () => void = () => undefined;
  #reloading: Promise<SkillInfo[]> | undefined;
  #reloadAgain = false;
  #loadError: string | undefined;
  #closed = false;

  private constructor(
    private readonly config: Config['skills'],
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly confinement: Confinement,
    private readonly launcher: HostLauncher,
    private readonly registry: SkillRegistry,
    private readonly limiter: ConcurrencyLimiter,
    private readonly warm: WarmHost | undefined,
    private readonly privateRoot: string,
  ) {
    super();
  }

  static async create(options: SkillRuntimeOptions): Promise<SkillRuntime> {
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
    const sandbox = confinement.sandbox;
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
      sandbox,
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
    });
    const registry = new SkillRegistry({ skillsDir: config.dir, privateRoot, launcher, logger });
    const warm = config.mode === 'warm' ? new WarmHost(launcher, socketDir, logger) : undefined;
    const limiter = new ConcurrencyLimiter(config.maxConcurrency, config.queueMax);
    const runtime = new SkillRuntime(config, logger, metrics, confinement, launcher, registry, limiter, warm, privateRoot);
    await runtime.reload();
    if (options.watch !== false) {
      const stopSkills = watchDirectory(config.dir, 300, () => void runtime.reload(), logger);
      const stopFolders = sandbox.kind === 'landlock' ? watchFolders(confinement.folders, () => void runtime.reload(), logger) : () => undefined;
      runtime.#stopWatching = () => (stopSkills(), stopFolders());
    }
    metrics?.skillSandbox.set({ sandbox: sandbox.kind }, 1);
    if (sandbox.kind === 'none') logger.warn({ sandbox: confinement.level }, `Skills run unconfined: ${confinement.level}`);
    logger.info(
      { python: python.executable, pythonVersion: python.version, mode: config.mode, sandbox: sandbox.kind, sandboxLevel: confinement.level, protected: confinement.protected, runAs: config.runAs, workspace: config.workspaceDir },
      `Skill runtime ready (sandbox ${confinement.level})`,
    );
    return runtime;
  }

  /** The registry has been loaded at least once. */
  get ready(): boolean {
    return this.registry.loadedOnce;
  }

  list(): SkillInfo[] {
    return this.registry.list();
  }

  get(name: string): SkillInfo | undefined {
    return this.registry.get(name)?.info;
  }

  status(): SkillRuntimeStatus {
    const reasons: string[] = [];
    if (!this.ready) reasons.push(`skills not loaded${this.#loadError ? `: ${this.#loadError}` : ''}`);
    return {
      ready: this.ready,
      skills: this.registry.list().length,
      mode: this.config.mode,
      sandbox: this.confinement.sandbox.kind,
      sandboxLevel: this.confinement.level,
      cgroups: this.launcher.options.cgroups?.layout.kind ?? 'none',
      reasons,
      warmHost: this.warm?.state ?? 'off',
    };
  }

  /** Resident memory of the warm host's process tree, in bytes (undefined when cold or down). */
  hostRssBytes(): number | undefined {
    return this.warm?.rssBytes();
  }

  /**
   * Re-reads SKILLS_DIR (file watcher, SIGHUP). Concurrent requests collapse into one more round.
   * Never throws: a failure is logged and the last good registry stays.
   */
  reload(): Promise<SkillInfo[]> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#reloadAgain = false;
          await this.#reloadOnce();
        } while (this.#reloadAgain && !this.#closed);
      } finally {
        this.#reloading = undefined;
      }
      return this.list();
    })();
    return this.#reloading;
  }

  async #reloadOnce(): Promise<void> {
    if (this.#closed) return;
    try {
      const { liveDir, changed } = await this.registry.load();
      this.#loadError = undefined;
      if (this.warm) await this.warm.start(liveDir);
      const skills = this.list();
      this.logger.info({ skills: skills.map((s) => s.name), count: skills.length, dir: this.config.dir }, `Skills loaded: ${skills.map((s) => s.name).join(', ') || '(none)'}`);
      if (changed) this.emit('reload', skills);
    } catch (err) {
      this.#loadError = (err as Error).message;
      this.logger.error({ err }, 'Skill reload failed; keeping the previous registry');
    }
  }

  /**
   * Why `run` would refuse this call before starting anything (unknown skill, invalid
   * arguments), or undefined when it would go ahead. The approval gate asks this first, so a
   * user is never asked to approve a call that cannot run.
   */
  precheck(name: string, args: unknown): string | undefined {
    const skill = this.registry.get(name);
    if (!skill) return `There is no skill named "${name}".`;
    const check = skill.validate(args);
    return check.ok ? undefined : `${name}: ${check.message}`;
  }

  async run(name: string, args: unknown, options: { signal?: AbortSignal } = {}): Promise<SkillResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const refuse = (outcome: SkillResult['outcome'], output: string): SkillResult =>
      this.#record({ skill: name, outcome, ok: false, output, truncated: false, durationMs: elapsed() }, args);

    const skill = this.registry.get(name);
    if (!skill) return refuse('not_found', `There is no skill named "${name}". Known skills: ${this.list().map((s) => s.name).join(', ') || 'none'}.`);
    const check = skill.validate(args);
    if (!check.ok) return refuse('invalid_args', `${name}: ${check.message}`);
    if (this.#closed) return refuse('error', 'The skill runtime is shut down.');

    const release = await this.limiter.acquire(options.signal);
    if (!release) {
      return refuse('busy', options.signal?.aborted ? 'Cancelled before it started.' : `Too many skills are running (${this.config.maxConcurrency} at once, ${this.config.queueMax} waiting); try again shortly.`);
    }
    try {
      const liveDir = this.registry.liveDir!;
      // A `network` skill runs cold: the warm host's Landlock domain denies TCP to everything it forks.
      const network = skill.info.network === true && this.confinement.sandbox.kind === 'landlock';
      const transport = (network ? undefined : await this.warm?.connect(liveDir, skill.fileName)) ?? coldTransport(this.launcher, liveDir, network);
      this.#active.add(transport);
      let execution: Execution;
      try {
        execution = await execute(transport, { skill: name, file: skill.fileName, args: check.args }, {
          timeoutMs: this.config.timeoutMs,
          maxOutputBytes: this.config.maxOutputBytes,
          signal: options.signal,
          namespacedPids: this.confinement.sandbox.namespacedPids,
          logger: this.logger,
        });
      } finally {
        this.#active.delete(transport);
      }
      const result = toSkillResult(name, execution, { ...this.config, durationMs: elapsed() });
      if (execution.done?.result && !execution.done.result.ok && execution.done.result.trace) {
        this.logger.warn({ skill: name, trace: execution.done.result.trace }, `Skill ${name} raised ${execution.done.result.error}`);
      }
      if (!execution.done && execution.end?.stderr) this.logger.warn({ skill: name, stderr: execution.end.stderr }, 'Skill host stderr');
      return this.#record(result, check.args, execution.transport);
    } finally {
      release();
    }
  }

  #record(result: SkillResult, args: unknown, transport?: 'warm' | 'cold'): SkillResult {
    return recordCall(result, args, transport, this.logger, this.metrics);
  }

  /** Stops watching, kills every running call and the warm host, removes the snapshots. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWatching();
    for (const transport of this.#active) {
      transport.input.write('{"op":"kill"}\n');
      setTimeout(() => transport.destroy(), 1000).unref();
    }
    await Promise.race([
      Promise.all([...this.#active].map((t) => t.finished)),
      new Promise((resolve) => setTimeout(resolve, 3000).unref()),
    ]);
    await this.warm?.close();
    await this.#reloading?.catch(() => undefined);
    this.launcher.options.cgroups?.close();
    fs.rmSync(this.privateRoot, { recursive: true, force: true });
  }
}
