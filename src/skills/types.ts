/** JSON schema of a skill's parameters, as given to the LLM as a tool's `parameters`. */
export interface SkillParameters {
  type: 'object';
  properties: Record<string, Record<string, unknown>>;
  required: string[];
  additionalProperties: false;
}

/** One skill as the registry knows it. */
export interface SkillInfo {
  name: string;
  description: string;
  parameters: SkillParameters;
  /** The .py file it came from. */
  file: string;
  /** A truthy `requires_approval` attribute: the user must tap Approve first. */
  requiresApproval: boolean;
  /** A truthy `network` attribute: it may open TCP connections (no other skill can). */
  network?: boolean;
}

export type SkillOutcome =
  | 'ok'
  | 'error'
  | 'timeout'
  | 'invalid_args'
  | 'not_found'
  | 'busy'
  | 'crashed'
  /** Not run: the user was asked to tap Approve (see gateway/approvals). */
  | 'pending_approval';

/** What a call produced. Never thrown: every failure is a result with a clear `output`. */
export interface SkillResult {
  skill: string;
  outcome: SkillOutcome;
  ok: boolean;
  /** Text for the user or the LLM: the skill's return value, or a clear error message. */
  output: string;
  truncated: boolean;
  pid?: number;
  exitCode?: number | null;
  signal?: string | null;
  durationMs: number;
}

/** What the gateway needs from the skill runtime. */
export interface SkillRunner {
  list(): SkillInfo[];
  get(name: string): SkillInfo | undefined;
  run(name: string, args: unknown, options?: { signal?: AbortSignal }): Promise<SkillResult>;
  /** Why `run` would refuse this call without starting it, or undefined when it would run. */
  precheck?(name: string, args: unknown): string | undefined;
}
