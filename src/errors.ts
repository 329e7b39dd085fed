/**
 * The error catalogue. Every error skillgate raises on purpose carries a stable `code` (SG_*)
 * from this table, which says which class raises it, what it means for the operator, and the
 * process exit code (CLIs, `npm start`) or HTTP status it maps to at a boundary. Callers never
 * hard-code those numbers: they ask `exitCodeOf` / `httpStatusOf`.
 * Messages tell the operator what to do; they never contain a secret (callers pass text that
 * has already been through the redactor when it may contain one).
 */

export const EXIT_CONFIG = 78; // EX_CONFIG from sysexits.h: "configuration error"
export const EXIT_FAILURE = 1;

interface ErrorSpec {
  /** The class that raises it (`SkillgateError` when no subclass adds fields). */
  readonly className: string;
  /** What it means and what to do; the thrown message adds the specifics. */
  readonly message: string;
  /** Exit code of a process that stops on it. */
  readonly exitCode: number;
  /** Status of an HTTP answer caused by it, where one can be. */
  readonly httpStatus?: number;
}

export const ERROR_TABLE = {
  SG_CONFIG_INVALID: {
    className: 'ConfigError',
    message: 'A setting is missing or invalid; each line names the variable and the fix.',
    exitCode: EXIT_CONFIG,
  },
  SG_PORT_IN_USE: {
    className: 'PortInUseError',
    message: 'Another process holds the port; stop it or choose another PORT / ADMIN_PORT.',
    exitCode: EXIT_FAILURE,
  },
  SG_PORT_FORBIDDEN: {
    className: 'SkillgateError',
    message: 'No permission to listen on the port; use a port above 1023 or a reverse proxy.',
    exitCode: EXIT_FAILURE,
  },
  SG_TELEGRAM_API: {
    className: 'TelegramApiError',
    message: 'Telegram answered ok:false; the message carries the method and Telegram\'s description.',
    exitCode: EXIT_FAILURE,
  },
  SG_TELEGRAM_NETWORK: {
    className: 'TelegramNetworkError',
    message: 'Telegram did not answer (DNS, TCP, TLS, timeout); check the network or TELEGRAM_API_BASE.',
    exitCode: EXIT_FAILURE,
  },
  SG_REPLY_REJECTED: {
    className: 'ReplyRejectedError',
    message: 'Telegram refused a reply for good (bot blocked, chat gone); the update is done, not retried.',
    exitCode: EXIT_FAILURE,
  },
  SG_SANDBOX_UNAVAILABLE: {
    className: 'SkillgateError',
    // A sandbox that was asked for and cannot work is a configuration problem, like a bad value.
    message: 'The SKILL_SANDBOX that was asked for cannot work here; install what it needs or choose another.',
    exitCode: EXIT_CONFIG,
  },
  SG_STORE_UNAVAILABLE: {
    className: 'SkillgateError',
    message: 'The inbox database cannot be used; the message says how to fix DATA_DIR.',
    exitCode: EXIT_FAILURE,
    httpStatus: 503,
  },
  SG_LLM_FAILED: {
    className: 'LlmRequestError',
    message: 'The model provider failed after retries; check LLM_BASE_URL, the key and the provider status.',
    exitCode: EXIT_FAILURE,
  },
  SG_WEBHOOK_URL_INVALID: {
    className: 'SkillgateError',
    message: 'The webhook cannot be registered as configured (PUBLIC_URL, TLS_CERT_FILE); the message names the fix.',
    exitCode: EXIT_CONFIG,
  },
  SG_SHUTTING_DOWN: {
    className: 'SkillgateError',
    message: 'Shutdown interrupted the work; the update stays stored and is handled after the restart.',
    exitCode: EXIT_FAILURE,
    httpStatus: 503,
  },
  SG_BAD_REQUEST: {
    className: 'SkillgateError',
    message: 'The request body is not what the endpoint takes (not JSON, no update_id).',
    exitCode: EXIT_FAILURE,
    httpStatus: 400,
  },
  SG_SKILL_HOST_MISSING: {
    className: 'SkillgateError',
    message: 'src/skills/host.py is not where the build expects it; ship src/skills/ with dist/ (npm ci builds both).',
    exitCode: EXIT_FAILURE,
  },
  SG_SKILL_DISCOVERY_FAILED: {
    className: 'SkillgateError',
    message: 'The Python side could not list the skills (did not start, or sent no report); the message carries its last stderr lines.',
    exitCode: EXIT_FAILURE,
  },
  SG_SKILL_NOT_FOUND: {
    className: 'SkillgateError',
    message: 'No loaded skill has that name; `npm run skills -- list` shows the ones there are.',
    exitCode: EXIT_FAILURE,
  },
  SG_CGROUPS_UNAVAILABLE: {
    className: 'SkillgateError',
    // Never run a call without the limits it was promised: no slot means the host refuses calls.
    message: 'No per-call cgroup could be lent (the pool is closed or at its cap); that host refuses every call until it is replaced.',
    exitCode: EXIT_FAILURE,
  },
  SG_UPDATE_CRASH_LOOP: {
    className: 'SkillgateError',
    message: 'The gateway stopped while handling this update on every attempt; it is set aside (failed), alerted and audited.',
    exitCode: EXIT_FAILURE,
  },
  SG_INVALID_OPTION: {
    className: 'SkillgateError',
    message: 'A part was built with an option out of range; the message names the setting behind it.',
    exitCode: EXIT_CONFIG,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class SkillgateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SkillgateError';
  }

  /** The exit code of a process that stops on this error. */
  get exitCode(): number {
    return ERROR_TABLE[this.code].exitCode;
  }

  /** The HTTP status this error maps to, or undefined where it never reaches HTTP. */
  get httpStatus(): number | undefined {
    const spec: ErrorSpec = ERROR_TABLE[this.code];
    return spec.httpStatus;
  }
}

/** The exit code for any error a process stops on: the table's for ours, 1 for anything else. */
export function exitCodeOf(err: unknown): number {
  return err instanceof SkillgateError ? err.exitCode : EXIT_FAILURE;
}

/** One line per problem, each naming the variable and what is wrong. Exit code 78. */
export class ConfigError extends SkillgateError {
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

/** Telegram refused a reply for good (blocked, chat gone): handled, nothing to retry. */
export class ReplyRejectedError extends SkillgateError {
  constructor(
    readonly chatId: number,
    description: string,
    options?: { cause?: unknown },
  ) {
    super('SG_REPLY_REJECTED', description, options);
    this.name = 'ReplyRejectedError';
  }
}
