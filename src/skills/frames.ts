/**
 * The skill host protocol, the gateway's side: what host.py reads and writes, one JSON object per
 * line. src/skills/skillgate_host/wire.py is the Python side and describes the whole exchange;
 * both are checked against the same examples in test/fixtures/protocol/.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';

/** One call's request, the first line the gateway writes on a call channel. */
export interface CallRequest {
  skill: string;
  /** The .py file (in the live snapshot) that defines it; the cold host imports only that one. */
  file: string;
  args: Record<string, unknown>;
}

export function requestLine(request: CallRequest): string {
  return `${JSON.stringify(request)}\n`;
}

/** Stops the call now (the host matches this exact object; EOF on the channel stops it too). */
export const KILL_LINE = `${JSON.stringify({ op: 'kill' })}\n`;

/** What `host.py discover` prints: the registry of a skills folder, one line. */
export const discoveryReport = z.object({
  skills: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      parameters: z.object({
        type: z.literal('object'),
        properties: z.record(z.string(), z.record(z.string(), z.unknown())),
        required: z.array(z.string()),
        additionalProperties: z.literal(false),
      }),
      file: z.string(),
      requiresApproval: z.boolean(),
      network: z.boolean().default(false),
    }),
  ),
  errors: z.array(z.object({ file: z.string(), error: z.string() })),
  warnings: z.array(z.string()),
  files: z.record(z.string(), z.array(z.string())),
});

export type DiscoveryReport = z.infer<typeof discoveryReport>;

/** The host's own warnings on its stderr (skillgate_host/log.py): lines that start with this. */
export const HOST_WARNING_PREFIX = 'skillgate host: ';

/**
 * Calls `onWarning` with each of the host's own warnings on `stderr` (a limit it could not set).
 * Other lines there (what skill files print while imported) are not for the log.
 */
export function readHostWarnings(stderr: Readable, onWarning: (text: string) => void): void {
  stderr.on('data', hostWarningReader(onWarning));
}

/** The chunk handler of readHostWarnings, for a caller that also keeps stderr's text itself. */
export function hostWarningReader(onWarning: (text: string) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!.slice(-4096);
    for (const line of lines) if (line.startsWith(HOST_WARNING_PREFIX)) onWarning(line.slice(HOST_WARNING_PREFIX.length));
  };
}

/** Frames host.py writes on a call channel and, when warm, while starting. */
const startFrame = z.object({ t: z.literal('start'), pid: z.number().int() });

const skillOutcome = z.union([
  z.object({ ok: z.literal(true), value: z.object({ text: z.string(), truncated: z.boolean() }) }),
  z.object({ ok: z.literal(false), error: z.string(), trace: z.string().optional() }),
]);

const doneFrame = z.object({
  t: z.literal('done'),
  result: skillOutcome.nullable(),
  stdout: z.string(),
  stdout_truncated: z.boolean().optional(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** The call's cgroup hit its memory limit: the kernel killed one of its processes. */
  oom: z.boolean().optional(),
});

const readyFrame = z.object({
  t: z.literal('ready'),
  pid: z.number().int(),
  skills: z.array(z.string()),
  errors: z.array(z.object({ file: z.string(), error: z.string() })),
});

/** The warm host is about to import this skill file (null: done importing). */
const importingFrame = z.object({ t: z.literal('importing'), file: z.string().nullable() });

export const hostFrame = z.discriminatedUnion('t', [startFrame, doneFrame, readyFrame, importingFrame]);

export type StartFrame = z.infer<typeof startFrame>;
export type DoneFrame = z.infer<typeof doneFrame>;
export type ReadyFrame = z.infer<typeof readyFrame>;
export type HostFrame = z.infer<typeof hostFrame>;

/**
 * Calls `onFrame` for every JSON line of `stream`. A line longer than `maxLineBytes` (a host bug
 * or a forged frame) or one that is not a valid frame is reported once via `onBad` and dropped.
 */
export function readFrames(
  stream: Readable,
  maxLineBytes: number,
  onFrame: (frame: HostFrame) => void,
  onBad: (why: string) => void,
): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (!overflow) {
        pending.push(piece);
        emit(Buffer.concat(pending).toString('utf8'));
      }
      pending = [];
      pendingBytes = 0;
      overflow = false;
    }
    const rest = chunk.subarray(start);
    pendingBytes += rest.length;
    if (pendingBytes > maxLineBytes) {
      if (!overflow) onBad(`frame longer than ${maxLineBytes} bytes`);
      overflow = true;
      pending = [];
    } else if (rest.length > 0) pending.push(rest);
  });

  function emit(line: string): void {
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      onBad(`not JSON: ${line.slice(0, 200)}`);
      return;
    }
    const parsed = hostFrame.safeParse(json);
    if (parsed.success) onFrame(parsed.data);
    else onBad(`unexpected frame: ${line.slice(0, 200)}`);
  }
}
