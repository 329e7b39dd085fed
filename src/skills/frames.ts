import type { Readable } from 'node:stream';
import { z } from 'zod';

/** Frames host.py writes on a call channel (see the protocol at the top of host.py). */
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
