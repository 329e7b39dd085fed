import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric the gateway exports, on a registry of its own (no prom-client global),
 * so two gateways in one process (tests) never share counters. Names are documented in the README.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Webhook/polling intake and processing, by outcome (accepted, duplicate, unauthorized, processed, failed, ...). */
  readonly updates = new Counter({
    name: 'skillgate_updates_total',
    help: 'Telegram updates by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Time from dequeue to done, per update. */
  readonly processingSeconds = new Histogram({
    name: 'skillgate_update_processing_seconds',
    help: 'Time to handle one update (router, skills, reply)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly skillRuns = new Counter({
    name: 'skillgate_skill_runs_total',
    help: 'Skill executions by skill and outcome',
    labelNames: ['skill', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly skillSeconds = new Histogram({
    name: 'skillgate_skill_duration_seconds',
    help: 'Skill execution time',
    labelNames: ['skill'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly telegramCalls = new Counter({
    name: 'skillgate_telegram_api_calls_total',
    help: 'Telegram Bot API calls by method and HTTP status (or "network")',
    labelNames: ['method', 'status'] as const,
    registers: [this.registry],
  });

  readonly llmCalls = new Counter({
    name: 'skillgate_llm_calls_total',
    help: 'LLM chat.completions calls by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly alerts = new Counter({
    name: 'skillgate_alerts_total',
    help: 'Discord alerts by outcome (sent, failed, coalesced, dropped)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** 1 for the sandbox skills run in (`none` is worth an alert rule). */
  readonly skillSandbox = new Gauge({
    name: 'skillgate_skill_sandbox',
    help: 'The sandbox skill processes run in (label sandbox: landlock, bwrap or none)',
    labelNames: ['sandbox'] as const,
    registers: [this.registry],
  });

  readonly inboxPending = new Gauge({
    name: 'skillgate_inbox_pending',
    help: 'Updates accepted and not yet done',
    registers: [this.registry],
  });

  readonly inboxOldestUnclaimed = new Gauge({
    name: 'skillgate_inbox_oldest_unclaimed_seconds',
    help: 'Age of the oldest update accepted and not yet claimed by a handler (0: none); a stall or a backlog',
    registers: [this.registry],
  });

  readonly inboxRescued = new Counter({
    name: 'skillgate_inbox_rescued_total',
    help: 'Updates the dispatcher found by rescanning the store that no push had handed over (should stay 0)',
    registers: [this.registry],
  });

  readonly inboxWritable = new Gauge({
    name: 'skillgate_inbox_writable',
    help: '1 while the inbox store can write, 0 while a write or fsync failure keeps it refusing updates',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'skillgate_' });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
