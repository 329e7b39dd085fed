// Types of scripts/test-summary.mjs (plain JavaScript so that `npm test` needs no compiler).
export interface Skip {
  kind: 'skip' | 'todo';
  path: string;
  reason: string;
}
export interface SummaryResult {
  passed: number;
  failed: number;
  /** Skipped and todo tests together. */
  skipped: number;
  todo: number;
  /** Why the run failed beyond tap's own failure count (no tests, a crashed file, tap's exit code). */
  problems: string[];
  skips: Skip[];
  failures: string[];
  /** `N passed, N failed, N skipped` */
  line: string;
}
export declare class TapSummary {
  skips: Skip[];
  failures: string[];
  push(line: string): boolean;
  result(exitCode: number): SummaryResult;
}
export declare function formatSkip(skip: Skip): string;
export declare function summarizeTap(text: string, exitCode?: number): SummaryResult;
