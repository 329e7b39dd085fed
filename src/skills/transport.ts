import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { killGroup, type HostLauncher } from './launcher.js';

export interface TransportEnd {
  /** Why the transport could not even start (missing interpreter, refused socket...). */
  error?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** The tail of the host's stderr (cold), for the log. */
  stderr?: string;
}

/** One call's channel to host.py: a unix socket to the warm host, or a cold host's stdio. */
export interface CallTransport {
  readonly kind: 'warm' | 'cold';
  readonly input: Writable;
  readonly output: Readable;
  /** Resolves once the channel is gone (socket closed, cold process exited). */
  readonly finished: Promise<TransportEnd>;
  /** Last resort: drop the channel (warm) or kill the cold host's process group. */
  destroy(): void;
}

const STDERR_TAIL = 4096;

/** A fresh interpreter for one call (SKILL_MODE=cold, or while the warm host is down). */
export function coldTransport(launcher: HostLauncher, liveDir: string, network = false): CallTransport {
  const child = launcher.spawn('call', liveDir, { network });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  child.stdin!.on('error', () => undefined); // EPIPE when the host is already gone
  const finished = new Promise<TransportEnd>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ error: err.code === 'ENOENT' ? `the Python interpreter (${launcher.options.python}) or the sandbox binary is missing` : `could not start the skill host: ${err.message}` }),
    );
    child.once('close', (exitCode, signal) => resolve({ exitCode, signal, stderr }));
  });
  return {
    kind: 'cold',
    input: child.stdin!,
    output: child.stdout!,
    finished,
    destroy: () => killGroup(child.pid),
  };
}

/** A connection to the warm host: the call's request goes to its spare skill process (or a fresh fork). */
export function warmTransport(socketPath: string): Promise<CallTransport | undefined> {
  return new Promise((resolve) => {
    const socket = net.createConnection(socketPath);
    socket.once('error', () => resolve(undefined));
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // surfaces as 'close', which ends the call
      const finished = new Promise<TransportEnd>((done) => socket.once('close', () => done({})));
      resolve({ kind: 'warm', input: socket, output: socket, finished, destroy: () => socket.destroy() });
    });
  });
}
