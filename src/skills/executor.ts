import type { Logger } from '../observability/logger.js';
import { KILL_LINE, readFrames, requestLine, type CallRequest, type DoneFrame, type StartFrame } from './frames.js';
import { killGroup } from './launcher.js';
import type { CallTransport, TransportEnd } from './transport.js';

/** Everything one call produced, before it is turned into a SkillResult. */
export interface Execution {
  start?: StartFrame;
  done?: DoneFrame;
  stoppedFor?: 'timeout' | 'cancelled';
  end?: TransportEnd;
  transport: 'warm' | 'cold';
}

export interface ExecuteOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  /** Pids from the host live in a pid namespace (bwrap): only the host can signal them. */
  namespacedPids: boolean;
  logger: Logger;
}

/** After asking the host to stop a call, how long it gets before the channel is torn down. */
const STOP_GRACE_MS = 3000;

/**
 * Sends one request over `transport` and waits for the outcome. The timeout (and an abort) asks
 * the host to kill the skill's process group and, when pids are ours, kills the group directly
 * too; if the host does not answer within STOP_GRACE_MS the channel is destroyed.
 */
export function execute(transport: CallTransport, request: CallRequest, options: ExecuteOptions): Promise<Execution> {
  const execution: Execution = { transport: transport.kind };
  return new Promise((resolve) => {
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      options.signal?.removeEventListener('abort', onAbort);
      transport.input.end();
      resolve(execution);
    };
    const stop = (why: 'timeout' | 'cancelled') => {
      if (execution.stoppedFor || execution.done || settled) return;
      execution.stoppedFor = why;
      transport.input.write(KILL_LINE);
      if (execution.start && !options.namespacedPids) killGroup(execution.start.pid);
      graceTimer = setTimeout(() => {
        if (execution.start && !options.namespacedPids) killGroup(execution.start.pid);
        transport.destroy();
      }, STOP_GRACE_MS);
    };
    const onAbort = () => stop('cancelled');
    const timeoutTimer = setTimeout(() => stop('timeout'), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    readFrames(
      transport.output,
      options.maxOutputBytes * 8 + 1024 * 1024,
      (frame) => {
        if (frame.t === 'start') execution.start = frame;
        else if (frame.t === 'done') {
          execution.done = frame;
          finish(); // the host reports only once every descendant is gone
        }
      },
      (why) => options.logger.warn({ skill: request.skill, why }, 'Skill host sent a malformed frame'),
    );
    transport.finished.then((end) => {
      execution.end = end;
      finish();
    });
    transport.input.write(requestLine(request));
    if (options.signal?.aborted) stop('cancelled');
  });
}
