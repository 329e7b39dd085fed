import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TalliedCounter } from './tallied-counter.js';

/** Seconds; up to a minute for an update, 30 s (SKILL_TIMEOUT_MS's default) for a skill. */
const UPDATE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SKILL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every Prometheus metric the gateway exports, on a registry of its own (no prom-client global),
 * so two gateways in one process (tests) never share counters. Names are documented in the README.
 */
export class Metrics {
  readonly registry = new Registry();

  /** Webhook/polling intake and processing, by outcome (accepted, duplicate, unauthorized, processed, failed, ...). */
  /** Counted once or twice per update: tallied, handed to prom-client at the scrape. */
  readonly updates = new TalliedCounter('skillgate_updates_total', 'Telegram updates by outcome', ['outcome'], this.registry);

  /** Time from dequeue to done, per update. */
  readonly processingSeconds = this.histogram(
    'skillgate_update_processing_seconds',
    'Time to handle one update (router, skills, reply)',
    UPDATE_BUCKETS,
  );

  readonly skillRuns = this.counter(
    'skillgate_skill_runs_total',
    'Skill executions by skill and outcome',
    ['skill', 'outcome'],
  );

  readonly skillSeconds = this.histogram(
    'skillgate_skill_duration_seconds',
    'Skill execution time',
    SKILL_BUCKETS,
    ['skill'],
  );

  /** Once per Bot API call: tallied like `updates`. */
  readonly telegramCalls = new TalliedCounter(
    'skillgate_telegram_api_calls_total',
    'Telegram Bot API calls by method and HTTP status (or "network")',
    ['method', 'status'],
    this.registry,
  );

  readonly llmCalls = this.counter('skillgate_llm_calls_total', 'LLM chat.completions calls by outcome', ['outcome']);

  readonly alerts = this.counter(
    'skillgate_alerts_total',
    'Discord alerts by outcome (sent, failed, coalesced, dropped)',
    ['outcome'],
  );

  /** 1 for the sandbox skills run in (`none` is worth an alert rule). */
  readonly skillSandbox = this.gauge(
    'skillgate_skill_sandbox',
    'The sandbox skill processes run in (label sandbox: landlock, bwrap or none)',
    ['sandbox'],
  );

  readonly inboxPending = this.gauge('skillgate_inbox_pending', 'Updates accepted and not yet done');

  readonly inboxOldestUnclaimed = this.gauge(
    'skillgate_inbox_oldest_unclaimed_seconds',
    'Age of the oldest update accepted and not yet claimed by a handler (0: none); a stall or a backlog',
  );

  readonly inboxRescued = this.counter(
    'skillgate_inbox_rescued_total',
    'Updates the dispatcher found by rescanning the store that no push had handed over (should stay 0)',
  );

  readonly replicasLive = this.gauge(
    'skillgate_replicas_live',
    'Gateway replicas with a fresh heartbeat on the shared database, this one included (DATABASE_URL only)',
  );

  readonly chatsTakenOver = this.counter(
    'skillgate_chats_taken_over_total',
    'Chats this replica took over from a replica whose lease ran out, or that nobody owned (DATABASE_URL only)',
  );

  readonly inboxWritable = this.gauge(
    'skillgate_inbox_writable',
    '1 while the inbox store can write, 0 while a write or fsync failure keeps it refusing updates',
  );

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'skillgate_' });
  }

  /** With several replicas on one database: every series carries `replica`, so one dashboard tells them apart. */
  labelReplica(name: string): void {
    this.registry.setDefaultLabels({ replica: name });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  // Field initialisers above call these: methods live on the prototype, and `registry` is the
  // first field, so it exists by then.
  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }
}
