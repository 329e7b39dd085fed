import type { Alerter } from '../alerts/alerter.js';
import type { Logger } from '../observability/logger.js';
import type { Redactor } from '../observability/redact.js';
import type { LlmFailure } from './llm-client.js';

export interface LlmFailureReporterOptions {
  logger: Logger;
  alerter: Alerter;
  redact: Redactor;
  /** Where requests go, for the operator's error line (never contains the key). */
  endpoint: string;
  /** Failed turns in a row that raise the "LLM is down" alert. Default 3. */
  persistentAfter?: number;
}

/**
 * Turns LLM failures into what an operator needs: one clear error (and one alert) when the key is
 * refused, not one per message; an alert per failure kind (the alerter coalesces repeats); and a
 * separate alert when failures persist. A success clears the slate.
 */
export class LlmFailureReporter {
  private authReported = false;
  private consecutive = 0;
  private readonly persistentAfter: number;

  constructor(private readonly options: LlmFailureReporterOptions) {
    this.persistentAfter = options.persistentAfter ?? 3;
  }

  succeeded(): void {
    if (this.consecutive > 0) {
      this.options.logger.info({ failedBefore: this.consecutive }, 'LLM requests succeed again');
    }
    this.consecutive = 0;
    this.authReported = false;
  }

  failed(failure: LlmFailure, chatId: number): void {
    const { logger, alerter, redact, endpoint } = this.options;
    // Shutting down is not the model's fault and needs nobody's attention.
    if (failure.kind === 'aborted') {
      logger.info({ chatId }, 'LLM request abandoned: the gateway is shutting down');
      return;
    }
    const detail = redact(failure.message).slice(0, 500);
    if (failure.kind === 'auth') {
      if (!this.authReported) {
        this.authReported = true;
        const text =
          `OPENAI_API_KEY was rejected by the LLM server at ${endpoint} (HTTP ${failure.status}). ` +
          'Set a valid key (or fix OPENAI_BASE_URL) and restart; until then free text gets an apology, slash commands still work.';
        logger.error({ chatId, status: failure.status, detail }, text);
        alerter.alert(text, { key: 'llm:auth' });
      } else {
        logger.debug({ chatId, status: failure.status }, 'LLM still refuses the API key');
      }
    } else {
      logger.error({ chatId, kind: failure.kind, status: failure.status, detail }, 'LLM request failed');
      const status = failure.status === undefined ? '' : ` ${failure.status}`;
      alerter.alert(`LLM request failed (${failure.kind}${status}): ${detail}`, { key: `llm:${failure.kind}` });
    }
    this.consecutive += 1;
    if (this.consecutive === this.persistentAfter) {
      const text = `LLM is failing persistently: ${this.consecutive} requests in a row failed (last: ${failure.kind}). Users get apologies meanwhile.`;
      logger.error({ consecutive: this.consecutive }, text);
      alerter.alert(text, { key: 'llm:persistent' });
    }
  }
}
