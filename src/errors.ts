/**
 * The error catalogue. Every error skillgate raises on purpose carries a stable `code`
 * (SG_*), and, where it reaches a boundary, the HTTP status or process exit code it maps to.
 * Messages tell the operator what to do; they never contain a secret (callers pass text that
 * has already been through the redactor when it may contain one).
 */

export const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: "configuration error"

export type ErrorCode =
  | 'SG_CONFIG_INVALID'
  | 'SG_PORT_IN_USE'
  | 'SG_PORT_FORBIDDEN'
  | 'SG_TELEGRAM_API'
  | 'SG_TELEGRAM_NETWORK'
  | 'SG_SANDBOX_UNAVAILABLE'
  | 'SG_STORE_UNAVAILABLE'
  | 'SG_LLM_FAILED'
  | 'SG_WEBHOOK_URL_INVALID'
  | 'SG_SHUTTING_DOWN';

export class SkillgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SkillgateError';
  }
}

/** One line per problem, each naming the variable and what is wrong. Exit code 78. */
export class ConfigError extends SkillgateError {
  readonly exitCode = EXIT_CONFIG;
  constructor(readonly problems: string[]) {
    super('SG_CONFIG_INVALID', `Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The port is taken by another process. */
export class PortInUseError extends SkillgateError {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(
      'SG_PORT_IN_USE',
      `Port ${port} on ${host} is already in use. Find the process holding it with: lsof -i :${port}`,
    );
    this.name = 'PortInUseError';
  }
}
