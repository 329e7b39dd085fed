import net from 'node:net';
import tls from 'node:tls';
import { Agent, request } from 'undici';

/** A client socket and when (ms after it was opened) the server closed it. */
export interface Probe {
  socket: net.Socket;
  /** Resolves with the ms from open to close, and whatever the server sent before closing. */
  closed: Promise<{ afterMs: number; received: string }>;
  /** Resolves once connected (TCP) or once the handshake is done (TLS). */
  ready: Promise<void>;
}

export interface ProbeOptions {
  port: number;
  /** Our side of the connection: 127.0.0.x, so one test can be several clients. */
  localAddress?: string;
  /** Do the TLS handshake (else a bare TCP connection, also to a TLS port). */
  tls?: boolean;
  /** Written once connected. */
  send?: string;
  /** Written every `dripMs` after `send`, up to a bound, to look like a slow client. */
  drip?: { text: string; everyMs: number; maxCount: number };
}

export function openProbe(options: ProbeOptions): Probe {
  const started = Date.now();
  const base = { host: '127.0.0.1', port: options.port, localAddress: options.localAddress ?? '127.0.0.1' };
  const socket = options.tls ? tls.connect({ ...base, rejectUnauthorized: false }) : net.connect(base);
  let received = '';
  let drip: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      if (options.send) socket.write(options.send);
      if (options.drip) {
        const { text, everyMs, maxCount } = options.drip;
        let n = 0;
        drip = setInterval(() => (++n > maxCount ? clearInterval(drip) : socket.write(text)), everyMs);
      }
      resolve();
    });
  });
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  // A safety net: no probe outlives its test by much.
  const limit = setTimeout(() => socket.destroy(), 60_000);
  limit.unref();
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => {
    socket.once('close', () => {
      clearInterval(drip);
      clearTimeout(limit);
      resolve({ afterMs: Date.now() - started, received });
    });
  });
  return { socket, closed, ready };
}

/** Opens `count` probes one after the other (so the server counts them in order). */
export async function openMany(count: number, options: ProbeOptions): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (let i = 0; i < count; i++) {
    const probe = openProbe(options);
    await probe.ready;
    probes.push(probe);
  }
  return probes;
}

/** True if the server closed the probe within `ms`. */
export async function closedWithin(probe: Probe, ms: number): Promise<boolean> {
  const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
  return Promise.race([probe.closed.then(() => true), timer]);
}

export function destroyAll(probes: Probe[]): void {
  for (const p of probes) p.socket.destroy();
}

/**
 * An undici agent whose one keep-alive connection comes from `localAddress`, trusting the test
 * certificate. One connection, because undici may open a second when a request follows the last
 * response in the same tick, and a cap test must know how many sockets it holds.
 */
export function agentFrom(localAddress: string, ca?: string | Buffer): Agent {
  return new Agent({ localAddress, connections: 1, ...(ca ? { connect: { ca } } : {}) });
}

export async function status(url: string, agent: Agent, init: { method?: 'GET' | 'POST'; body?: string; headers?: Record<string, string> } = {}): Promise<number> {
  const res = await request(url, { ...init, dispatcher: agent });
  await res.body.text();
  return res.statusCode;
}
