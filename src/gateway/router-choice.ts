import type { Alerter } from '../alerts/alerter.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Redactor } from '../observability/redact.js';
import type { ChatDocuments } from '../router/chat-history.js';
import { RuleRouter } from '../router/rules.js';
import type { IntentRouter } from '../router/types.js';

/**
 * The intent router the configuration asks for: the LLM router with OPENAI_*, else the rules.
 * The OpenAI SDK is loaded only in the first case: the rule router's gateway does not pay its
 * ~13 MB of resident code and heap.
 */
export async function chooseRouter(
  config: Pick<Config, 'llm' | 'dataDir'>,
  parts: { logger: Logger; metrics: Metrics; alerter: Alerter; redact: Redactor; historyDocuments?: ChatDocuments },
): Promise<IntentRouter> {
  if (!config.llm) return new RuleRouter();
  const { LlmRouter } = await import('../router/llm-router.js');
  return new LlmRouter({ config: config.llm, dataDir: config.dataDir, ...parts });
}
