import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { readFrames, readHostWarnings, type ReadyFrame } from './frames.js';
import { killGroup, type HostLauncher } from './launcher.js';
import { treeRssBytes } from './process-memory.js';
import { warmTransport, type CallTransport } from './transport.js';

export type WarmHostState = 'starting' | 'up' | 'down' | 'stopped';

/** One running `host.py serve` process and the calls it is serving. */
interface Generation {
  id: number;
  liveDir: string;
  child: ChildProcess;
  socket: string;
  active: number;
  retired: boolean;
  exited: boolean;
  /** The skill file it was importing last (until it has imported them all). */
  importing: string | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const READY_TIMEOUT_MS = 30_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The warm skill host: a single-threaded Python process that imported the skills once and runs
 * each call in a child process of its own, forked and confined ahead of time (the spare, see
 * skillgate_host/spawner.py) so a call pays neither. A new generation is started on every registry reload; the old one keeps
 * serving its in-flight calls and exits once they are done. If the host dies it is restarted
 * with backoff; meanwhile `connect()` returns undefined and the runtime spawns cold.
 *
 * Discovery imports each file in a child of its own and leaves the files that kill Python out of
 * the snapshot, so the host normally never sees one. A file that still kills the host while it is
 * imported (it behaves differently there) is named by the host's last "importing" frame: the host
 * is restarted without it at once and that file's skills run cold, until the next snapshot.
 */
export class WarmHost {
  #current: Generation | undefined;
  #generations = new Set<Generation>();
  #state: WarmHostState = 'down';
  #nextId = 0;
  #restartDelay = 500;
  #restartTimer: NodeJS.Timeout | undefined;
  #liveDir: string | undefined;
  /** Files of #liveDir that killed a host while it imported them: left out, their calls go cold. */
  #excluded = new Set<string>();

  constructor(
    private readonly launcher: HostLauncher,
    private readonly socketDir: string,
    private readonly logger: Logger,
  ) {}

  get state(): WarmHostState {
    return this.#state;
  }

  /** Starts a generation on `liveDir`; resolves when it is ready (or has failed: calls go cold). */
  async start(liveDir: string): Promise<void> {
    if (this.#state === 'stopped') return;
    if (liveDir !== this.#liveDir) this.#excluded = new Set(); // a new snapshot: every file gets a chance
    this.#liveDir = liveDir;
    clearTimeout(this.#restartTimer);
    if (!this.#current) this.#state = 'starting';
    const started = await this.#startGeneration(liveDir);
    if ((this.#state as WarmHostState) === 'stopped') return; // closed while starting
    if (!started) {
      if (!this.#current) {
        this.logger.warn('Warm skill host failed to start; calls run cold until it is back');
        this.#state = 'down';
        this.#scheduleRestart();
      }
      return;
    }
    const { generation, ready } = started;
    const previous = this.#current;
    this.#current = generation;
    this.#state = 'up';
    this.#restartDelay = 500;
    if (previous) this.#retire(previous);
    const failed = ready.errors.map((e) => e.file);
    this.logger.debug({ pid: generation.child.pid, skills: ready.skills.length, failed }, 'Warm skill host ready');
  }

  /**
   * A channel for a call of a skill defined in `fileName`, or undefined when the warm host is not
   * up, still runs an older snapshot than `liveDir` (right after a reload) or left that file out:
   * the caller then spawns cold.
   */
  async connect(liveDir: string, fileName: string): Promise<CallTransport | undefined> {
    const generation = this.#current;
    if (!generation || this.#state !== 'up' || generation.liveDir !== liveDir) return undefined;
    if (this.#excluded.has(fileName)) return undefined;
    const transport = await warmTransport(generation.socket);
    if (!transport) return undefined;
    generation.active++;
    void transport.finished.then(() => {
      generation.active--;
      if (generation.retired && generation.active === 0) this.#stopGeneration(generation);
    });
    return transport;
  }

  /** Resident memory of the host process tree in bytes (bwrap included), or undefined. */
  rssBytes(): number | undefined {
    const pid = this.#current?.child.pid;
    return pid ? treeRssBytes(pid) : undefined;
  }

  get pid(): number | undefined {
    return this.#current?.child.pid;
  }

  /** Kills every generation, its in-flight calls included (they are in the host's process tree). */
  async close(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    const exits = [...this.#generations].map(
      (g) => new Promise<void>((resolve) => (g.exited ? resolve() : g.child.once('exit', () => resolve()))),
    );
    for (const g of this.#generations) {
      g.child.stdin?.end();
      killGroup(g.child.pid);
    }
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.#current = undefined;
  }

  /**
   * Spawns generations until one is ready. A file that kills a host while it imports it is left
   * out of the next one; bounded, since every round leaves out one more file or gives up.
   */
  async #startGeneration(liveDir: string): Promise<{ generation: Generation; ready: ReadyFrame } | undefined> {
    for (;;) {
      const generation = this.#spawn(liveDir, [...this.#excluded]);
      const ready = await this.#waitReady(generation);
      if (ready) return { generation, ready };
      this.#retire(generation);
      const culprit = generation.importing;
      if (this.#state === 'stopped' || !culprit || this.#excluded.has(culprit)) return undefined;
      this.#excluded.add(culprit);
      const how = generation.exit ? `exit ${generation.exit.signal ?? generation.exit.code}` : 'it hung';
      this.logger.warn(
        { file: culprit, code: generation.exit?.code, signal: generation.exit?.signal },
        `Skill file ${culprit} killed the warm skill host while it imported it (${how}); restarting the host without it, its skills run cold`,
      );
    }
  }

  #spawn(liveDir: string, exclude: string[]): Generation {
    const id = ++this.#nextId;
    const socket = path.join(this.socketDir, `host-${id}.sock`);
    fs.rmSync(socket, { force: true });
    const child = this.launcher.spawn('serve', liveDir, { socket, exclude });
    const generation: Generation = { id, liveDir, child, socket, active: 0, retired: false, exited: false, importing: undefined, exit: undefined };
    this.#generations.add(generation);
    child.stdin!.on('error', () => undefined);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    readHostWarnings(child.stderr!, (text) => this.logger.warn({ pid: child.pid }, `Warm skill host: ${text}`));
    child.on('error', () => undefined); // 'exit' follows; a missing binary is reported there
    child.once('exit', (code, signal) => {
      generation.exited = true;
      generation.exit = { code, signal };
      this.#generations.delete(generation);
      fs.rmSync(socket, { force: true });
      if (generation === this.#current && this.#state !== 'stopped') {
        this.#current = undefined;
        this.#state = 'down';
        this.logger.warn({ code, signal, stderr: stderr.trim().slice(-1000) }, 'Warm skill host died; calls run cold until it is back');
        this.#scheduleRestart();
      }
    });
    return generation;
  }

  #waitReady(generation: Generation): Promise<ReadyFrame | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ready: ReadyFrame | undefined) => {
        settled = true;
        clearTimeout(timer);
        resolve(ready);
      };
      const timer = setTimeout(() => {
        this.logger.warn({ pid: generation.child.pid, importing: generation.importing }, 'Warm skill host did not become ready in time');
        settle(undefined);
      }, READY_TIMEOUT_MS);
      readFrames(
        generation.child.stdout!,
        16 * 1024 * 1024,
        (frame) => {
          if (frame.t === 'importing') generation.importing = frame.file ?? undefined;
          if (frame.t === 'ready') settle(frame);
        },
        (why) => this.logger.warn({ why }, 'Warm skill host wrote an unexpected line'),
      );
      generation.child.once('exit', () => {
        if (settled) return;
        // Its last frames may still be in the pipe: wait for stdout to close (killing what it
        // started, which may hold it open), at most a second.
        killGroup(generation.child.pid);
        const fallback = setTimeout(() => settle(undefined), 1000);
        generation.child.once('close', () => {
          clearTimeout(fallback);
          settle(undefined);
        });
      });
    });
  }

  #retire(generation: Generation): void {
    generation.retired = true;
    if (generation.active === 0) this.#stopGeneration(generation);
  }

  #stopGeneration(generation: Generation): void {
    // Closing stdin makes the host stop accepting, drop its spare, finish its running calls and exit.
    generation.child.stdin?.end();
    setTimeout(() => {
      if (!generation.exited) killGroup(generation.child.pid);
    }, 2000).unref();
  }

  #scheduleRestart(): void {
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restartDelay * 2, MAX_RESTART_DELAY_MS);
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#liveDir && this.#state !== 'stopped') void this.start(this.#liveDir);
    }, delay);
    this.#restartTimer.unref();
  }
}
