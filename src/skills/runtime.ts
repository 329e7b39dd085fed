import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Confinement } from './confinement.js';
import { execute, type Execution } from './executor.js';
import { KILL_LINE } from './frames.js';
import type { HostLauncher } from './launcher.js';
import { ConcurrencyLimiter } from './limiter.js';
import type { SkillRegistry } from './registry.js';
import { toSkillResult } from './result.js';
import { announceSkillRuntime, prepareSkillRuntime, watchSkillSources, type SkillRuntimeOptions, type SkillRuntimeParts } from './startup.js';
import { recordCall } from './trace.js';
import { coldTransport, type CallTransport } from './transport.js';
import type { SkillInfo, SkillResult, SkillRunner } from './types.js';
import type { WarmHost, WarmHostState } from './warm-host.js';

export type { SkillRuntimeOptions } from './startup.js';

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

  private readonly config: Config['skills'];
  private readonly logger: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly confinement: Confinement;
  private readonly launcher: HostLauncher;
  private readonly registry: SkillRegistry;
  private readonly warm: WarmHost | undefined;
  private readonly limiter: ConcurrencyLimiter;

  private constructor(parts: SkillRuntimeParts) {
    super();
    this.config = parts.config;
    this.logger = parts.logger;
    this.metrics = parts.metrics;
    this.confinement = parts.confinement;
    this.launcher = parts.launcher;
    this.registry = parts.registry;
    this.warm = parts.warm;
    this.limiter = new ConcurrencyLimiter(this.config.maxConcurrency, this.config.queueMax);
  }

  /** Starts the runtime (src/skills/startup.ts) and loads the skills once. */
  static async create(options: SkillRuntimeOptions): Promise<SkillRuntime> {
    const { python, ...parts } = await prepareSkillRuntime(options);
    const runtime = new SkillRuntime(parts);
    await runtime.reload();
    if (options.watch !== false) runtime.#stopWatching = watchSkillSources(parts, () => void runtime.reload());
    announceSkillRuntime(parts, python);
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
      transport.input.write(KILL_LINE);
      setTimeout(() => transport.destroy(), 1000).unref();
    }
    await Promise.race([
      Promise.all([...this.#active].map((t) => t.finished)),
      new Promise((resolve) => setTimeout(resolve, 3000).unref()),
    ]);
    await this.warm?.close();
    await this.#reloading?.catch(() => undefined);
    this.launcher.options.cgroups?.close();
    fs.rmSync(this.launcher.options.privateRoot, { recursive: true, force: true });
  }
}
