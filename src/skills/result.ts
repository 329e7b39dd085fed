import type { Execution } from './executor.js';
import type { SkillOutcome, SkillResult } from './types.js';

const SIGNAL_HINTS: Record<string, string> = {
  SIGXCPU: 'it used up its CPU time limit',
  SIGKILL: 'killed (memory, CPU or process limit?)',
  SIGSEGV: 'it crashed (segmentation fault)',
  SIGXFSZ: 'it wrote a file larger than the file size limit',
};

/** Turns what a call produced into the result the user or the LLM reads. */
export function toSkillResult(
  skill: string,
  execution: Execution,
  options: { maxOutputBytes: number; timeoutMs: number; memoryMb?: number; durationMs: number },
): SkillResult {
  const { done, start, end } = execution;
  const base = {
    skill,
    pid: start?.pid,
    exitCode: done?.code ?? end?.exitCode ?? null,
    signal: done?.signal ?? end?.signal ?? null,
    durationMs: options.durationMs,
  };
  const make = (outcome: SkillOutcome, text: string, truncated: boolean | undefined = false): SkillResult => {
    const capped = capText(text, options.maxOutputBytes, truncated);
    return { ...base, outcome, ok: outcome === 'ok', output: capped.text, truncated: capped.truncated };
  };
  const stdout = done?.stdout ?? '';

  if (execution.stoppedFor === 'timeout') {
    const partial = stdout.trim() ? `\nOutput before it was stopped:\n${stdout}` : '';
    return make('timeout', `Stopped after ${formatSeconds(options.timeoutMs)} (SKILL_TIMEOUT_MS).${partial}`, done?.stdout_truncated);
  }
  if (execution.stoppedFor === 'cancelled') return make('error', 'Cancelled: the gateway is shutting down.');
  if (!done) {
    const why = end?.error ?? `the skill host ended without a result${end?.exitCode != null ? ` (exit code ${end.exitCode})` : ''}`;
    return make('crashed', why);
  }
  if (done.oom) {
    // Whatever the skill itself made of it, a process of its call was killed for memory.
    const tail = stdout.trim() ? `\n${stdout.trim().split('\n').slice(-5).join('\n')}` : '';
    return make('crashed', `The call went over its memory limit (${options.memoryMb ?? '?'} MiB for all its processes, SKILL_MEMORY_MB) and was stopped.${tail}`);
  }
  if (done.result?.ok) {
    const value = done.result.value;
    const text = stdout && value.text ? `${stdout.replace(/\n+$/, '')}\n${value.text}` : stdout || value.text;
    return make('ok', text, value.truncated || done.stdout_truncated);
  }
  if (done.result) return make('error', done.result.error);
  const how = done.signal ? (SIGNAL_HINTS[done.signal] ?? `killed by ${done.signal}`) : `exited with code ${done.code}`;
  const tail = stdout.trim() ? `\n${stdout.trim().split('\n').slice(-5).join('\n')}` : '';
  return make('crashed', `The skill stopped without a result: ${how}.${tail}`);
}

/** Caps `text` at `maxBytes` of UTF-8 and appends a visible mark when anything was cut. */
export function capText(text: string, maxBytes: number, alreadyTruncated = false): { text: string; truncated: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes && !alreadyTruncated) return { text, truncated: false };
  const kept = bytes.subarray(0, maxBytes).toString('utf8').replace(/\uFFFD+$/, '');
  return { text: `${kept}\n${truncationMark(maxBytes)}`, truncated: true };
}

export function truncationMark(maxBytes: number): string {
  return `[output truncated at ${maxBytes} bytes]`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
