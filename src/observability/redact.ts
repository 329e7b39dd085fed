/**
 * The redactor every log line, error message and alert passes; it lives in src/security/ with
 * the rest of the outbound checks and is re-exported here, where the logger and its users look.
 */
export { createRedactor, REDACTED, type Redactor } from '../security/redactor.js';
