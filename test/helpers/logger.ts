import { createCaptureStream, createLogger, type Logger } from '../../src/observability/logger.js';
import { createRedactor } from '../../src/observability/redact.js';

/** A real pino logger (with the real redactor) whose JSON lines land in `lines`. */
export function captureLogger(secrets: string[] = [], level = 'trace'): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const logger = createLogger({ level, redact: createRedactor(secrets), destination: createCaptureStream(lines), pretty: false });
  return { logger, lines, text: () => lines.join('\n') };
}

/** A realistic-looking bot token for tests; never a real one. */
export const TEST_TOKEN = '123456789:AAFakeTokenForTestsOnly_abcdefghijkl';
export const TEST_SECRET = 'test-webhook-secret_0123456789';
