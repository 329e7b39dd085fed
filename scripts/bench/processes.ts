import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

/** Bytes of a child's output kept for the error message when it dies unexpectedly. */
const TAIL_BYTES = 4096;

/** One child started by the bench, in its own process group (so a kill takes its children too). */
export class BenchChild {
  #tail = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.#tail = (this.#tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    process.stdout?.on('data', keep);
    process.stderr?.on('data', keep);
    this.exited = once(process, 'exit').then(([code, signal]) => ({ code, signal }));
  }

  get pid(): number {
    return this.process.pid!;
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last few KB of stdout+stderr, for diagnostics. */
  get tail(): string {
    return this.#tail;
  }

  /** Resolves with the first stdout line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const match = pattern.exec(buffered);
        if (match) finish(() => resolve(match));
      };
      const onExit = () => finish(() => reject(new Error(`${this.name} exited before printing ${pattern}:\n${this.#tail}`)));
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms:\n${this.#tail}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.process.stdout?.off('data', onData);
        this.process.off('exit', onExit);
        settle();
      };
      this.process.stdout?.on('data', onData);
      this.process.once('exit', onExit);
    });
  }

  /** Signals the whole process group; a group that is already gone is not an error. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // already exited
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.signal('SIGKILL'); // stragglers in the group (skill hosts) go too
  }
}

/**
 * Every child process the bench starts, so that all of them die at the end, on failure and on
 * Ctrl-C too. Each child leads its own process group; killing the group takes grandchildren
 * (the gateway's Python skill host) along.
 */
export class ChildProcesses {
  readonly #children = new Set<BenchChild>();

  spawn(name: string, command: string, args: string[], options: SpawnOptions = {}): BenchChild {
    const child = spawn(command, args, { ...options, detached: true, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
    const managed = new BenchChild(name, child);
    this.#children.add(managed);
    void managed.exited.then(() => this.#children.delete(managed));
    return managed;
  }

  /** SIGKILL to every live process group; synchronous so it also works from an exit handler. */
  killAll(): void {
    for (const child of this.#children) child.signal('SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((c) => c.stop(2000)));
  }
}
