import fs from 'node:fs';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.js';

/**
 * How long a connection may hold a socket without doing its part, and how many sockets one client
 * and everyone together may hold. The defaults are the contract's; tests pass shorter ones.
 */
export interface ConnectionLimits {
  /** A connection with no request in flight (between requests) is closed after this. */
  idleMs: number;
  /** The request headers must be complete this long after the connection (or request) began. */
  headersMs: number;
  /** The whole request, headers and body, must have arrived this long after it began. */
  requestMs: number;
  /** A TLS handshake not finished by then is cut. */
  handshakeMs: number;
  /** Open connections per client socket address (Telegram opens at most 100, default 40). */
  perAddress: number;
  /** Open connections on this listener; further ones are closed at once by the kernel handle. */
  global: number;
  /** How often Node sweeps for expired header and request deadlines (its default is 30 s). */
  checkIntervalMs: number;
}

/**
 * Node 20 keeps an idle keep-alive socket open for keepAliveTimeout plus this buffer (so that a
 * client using the same figure closes first); we subtract it so the socket goes at idleMs.
 */
const NODE_KEEP_ALIVE_BUFFER_MS = 1_000;
/** Descriptors kept back for SQLite, skill pipes, outbound sockets to Telegram/OpenAI and logs. */
const FD_HEADROOM = 512;
/** The main listener never holds more than this, whatever the file limit. */
const MAX_GLOBAL = 4_000;
/** The admin listener serves probes and scrapes from this host: a small budget is plenty. */
export const ADMIN_GLOBAL = 256;
/** At most one log line per reason and listener in this period, with the count refused since. */
const REFUSAL_LOG_EVERY_MS = 60_000;

/**
 * The main listener's global cap: 4,000, or fewer when the file limit leaves less than that after
 * the headroom and the admin listener's share (at 4,096 descriptors: 3,328). Node raises its soft
 * RLIMIT_NOFILE to the hard limit at start, so the figure read here is the one that applies.
 */
export function defaultGlobalCap(fileLimit = readFileLimit()): number {
  if (fileLimit === undefined) return MAX_GLOBAL;
  return Math.max(64, Math.min(MAX_GLOBAL, fileLimit - FD_HEADROOM - ADMIN_GLOBAL));
}

export function connectionLimits(overrides: Partial<ConnectionLimits> = {}): ConnectionLimits {
  return {
    idleMs: 30_000,
    headersMs: 10_000,
    requestMs: 30_000,
    handshakeMs: 10_000,
    perAddress: 256,
    global: overrides.global ?? defaultGlobalCap(),
    checkIntervalMs: 1_000,
    ...overrides,
  };
}

/**
 * The Node server options (for `http`/`https` in Fastify's options) and Fastify's own timeout
 * options that enforce the limits. Node's header deadline runs from the moment the HTTP parser is
 * attached, that is from accept (TCP) or from the end of the handshake (TLS), so a connection that
 * never sends a byte is closed at headersMs; the handshake itself is bounded by handshakeMs.
 */
export function timeoutOptions(limits: ConnectionLimits) {
  return {
    server: {
      headersTimeout: limits.headersMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    /** For the https server only. */
    handshakeTimeout: limits.handshakeMs,
    fastify: {
      keepAliveTimeout: Math.max(1, limits.idleMs - NODE_KEEP_ALIVE_BUFFER_MS),
      requestTimeout: limits.requestMs,
      // Socket inactivity with a request in flight: a client that stops reading or sending.
      connectionTimeout: limits.idleMs,
    },
  };
}

/**
 * Counts open connections per client address (IPv6: per /64) on the raw TCP socket (before TLS, so a refused
 * client costs no handshake) and closes any past `perAddress`; the global cap is Node's own
 * `maxConnections`, which closes the accepted handle before any JavaScript runs. The address is
 * the socket's peer, never a forwarded header: the cap is about sockets this process holds.
 */
export function guardConnections(server: Server, limits: ConnectionLimits, logger: Logger, listener: string): void {
  const open = new Map<string, number>();
  const refusals = new RefusalLog(logger, listener);
  server.maxConnections = limits.global;
  server.on('drop', (data?: { remoteAddress?: string }) => refusals.note('global', data?.remoteAddress, limits.global));
  server.on('connection', (socket: Socket) => {
    const address = peerKey(socket.remoteAddress);
    if (address === undefined) {
      socket.destroy();
      return;
    }
    const count = (open.get(address) ?? 0) + 1;
    if (count > limits.perAddress) {
      socket.destroy();
      refusals.note('per-address', address, limits.perAddress);
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/**
 * The key a connection is counted under: the peer's IPv4 address (IPv4 clients of a dual-stack
 * listener appear as ::ffff:a.b.c.d), or its IPv6 /64, since one IPv6 host usually holds a whole
 * /64 and could otherwise open 256 connections from each of its addresses.
 */
export function peerKey(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('%')[0]!.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const full = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

/** A flood of refused connections must not become a flood of log lines. */
class RefusalLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly listener: string,
  ) {}

  note(reason: 'global' | 'per-address', address: string | undefined, cap: number): void {
    const now = Date.now();
    const entry = this.last.get(reason);
    if (entry && now - entry.at < REFUSAL_LOG_EVERY_MS) {
      entry.suppressed += 1;
      return;
    }
    const since = entry?.suppressed ?? 0;
    this.last.set(reason, { at: now, suppressed: 0 });
    const what = reason === 'global' ? `${cap} open connections in all` : `${cap} open connections from ${address}`;
    this.logger.warn(
      { listener: this.listener, reason, address, cap, refusedSinceLastLine: since },
      `Connections: ${this.listener} listener refused a new connection (already ${what})`,
    );
  }
}

/** The soft RLIMIT_NOFILE from /proc (Linux); undefined elsewhere or when unlimited. */
function readFileLimit(): number | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : undefined;
  } catch {
    return undefined;
  }
}
