/** How big each benchmark is. `--quick` keeps the same shape at a fraction of the size (< 60 s). */
export interface BenchProfile {
  name: 'full' | 'quick';
  /** autocannon: seconds measured per target, after a warm-up of `intakeWarmupSeconds`. */
  intakeSeconds: number;
  intakeWarmupSeconds: number;
  /** Rounds of the floor and skillgate's intake alone, back to back in each (who goes first alternates); medians are reported. */
  intakeRounds: number;
  /** autocannon connections (keep-alive, no pipelining). */
  connections: number;
  /** Text messages of the throughput run (100 chats, one reply each). */
  throughputMessages: number;
  /** Rounds of the throughput run, grammY and skillgate alternating (who goes first alternates too); medians are reported. */
  throughputRounds: number;
  /** Sequential skill calls per mode (warm, cold). */
  skillCalls: number;
  /** Sequential end-to-end round trips per router. */
  e2eCalls: number;
  burstUpdates: number;
  burstChats: number;
  /** Webhook requests in flight during the burst (Telegram itself uses up to max_connections=40..100). */
  burstConcurrency: number;
  /** Bound on waiting for the restarted gateway to answer everything. */
  drainTimeoutMs: number;
  /** Spawn-to-ready runs; the median is reported. */
  startupRuns: number;
  /** Soak (issue 18): rounds of `soakUpdates` over `burstChats` chats under two busy loops; `--soak-rounds N` overrides. */
  soakRounds: number;
  soakUpdates: number;
  /** The ha run (issue 17): messages of each replica throughput run, and updates of the kill -9 burst over `burstChats` chats. */
  haMessages: number;
  haKillUpdates: number;
}

export const FULL: BenchProfile = {
  name: 'full',
  intakeSeconds: 6,
  intakeWarmupSeconds: 1,
  intakeRounds: 3,
  connections: 50,
  throughputMessages: 6_000,
  throughputRounds: 5,
  skillCalls: 200,
  e2eCalls: 200,
  burstUpdates: 10_000,
  burstChats: 100,
  burstConcurrency: 64,
  drainTimeoutMs: 180_000,
  startupRuns: 3,
  soakRounds: 5,
  soakUpdates: 6_000,
  haMessages: 6_000,
  haKillUpdates: 4_000,
};

export const QUICK: BenchProfile = {
  name: 'quick',
  intakeSeconds: 1.5,
  intakeWarmupSeconds: 0.5,
  intakeRounds: 2,
  connections: 50,
  throughputMessages: 1_500,
  throughputRounds: 2,
  skillCalls: 40,
  e2eCalls: 40,
  burstUpdates: 2_000,
  burstChats: 100,
  burstConcurrency: 64,
  drainTimeoutMs: 30_000,
  startupRuns: 1,
  soakRounds: 2,
  soakUpdates: 1_000,
  haMessages: 600,
  haKillUpdates: 600,
};
