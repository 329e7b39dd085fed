import type { BurstResults } from './burst.js';
import type { E2eResults } from './e2e.js';
import { renderHa, type HaOutcome } from './ha.js';
import type { IntakeResults } from './intake.js';
import type { BenchProfile } from './profile.js';
import type { RedactResults } from './redact.js';
import type { SkillResults } from './skills.js';
import type { SoakResults } from './soak.js';
import type { StartupResults } from './startup.js';
import type { ThroughputFigures, ThroughputResults } from './throughput.js';
import { markdownTable, ratio } from './table.js';

export interface Measured {
  intake?: IntakeResults;
  throughput?: ThroughputResults;
  skills?: SkillResults;
  e2e?: E2eResults;
  burst?: BurstResults;
  startup?: StartupResults;
  soak?: SoakResults;
  redact?: RedactResults;
  ha?: HaOutcome;
  /** Benchmark name -> why it failed. */
  errors: Record<string, string>;
}

export interface RunInfo {
  profile: BenchProfile;
  machine: { cpus: number; node: string; python: string; cpu_model: string; os: string; mem_gb: number; load_avg_1m: { start: number; end: number } };
  versions: Record<string, string>;
  startedAt: string;
  durationS: number;
}

const NA = Number.NaN;

/** The targets of issues 8 and 16, each checked against the figures. */
function targets(m: Measured): Array<{ target: string; met: boolean | undefined }> {
  const i = m.intake;
  const t = m.throughput;
  return [
    { target: 'throughput: skillgate >= 1.2x grammY replying', met: t && t.ratio >= 1.2 },
    { target: 'throughput: ack p99 no worse than grammY replying', met: t && t.skillgate.ack_p99_ms <= t.grammy_reply.ack_p99_ms },
    { target: 'intake alone (stored and ignored) >= 0.6x floor', met: i && i.intake_only_ratio >= 0.6 },
    { target: 'idle RSS < 90 MB', met: m.startup && m.startup.rss_idle_mb < 90 },
    { target: 'warm p50 <= cold p50 / 10', met: m.skills && m.skills.warm.p50_ms <= m.skills.cold.p50_ms / 10 },
    { target: 'e2e rules p50 < 30 ms', met: m.e2e && m.e2e.rules.p50_ms < 30 },
    {
      target: 'burst: 0 lost, duplicated <= in flight at the kill',
      met: m.burst && m.burst.lost === 0 && m.burst.duplicated <= m.burst.in_flight_at_kill && m.burst.acked === m.burst.sent,
    },
    {
      target: 'ha: kill -9 of a replica: 0 lost, duplicated <= in flight at the kill, chats in order',
      met: m.ha && 'kill' in m.ha ? m.ha.kill.lost === 0 && m.ha.kill.duplicated <= m.ha.kill.in_flight_at_kill && m.ha.kill.out_of_order_chats === 0 && m.ha.kill.acked === m.ha.kill.sent : undefined,
    },
    { target: 'soak: every acked update answered, none left accepted', met: m.soak && m.soak.unanswered === 0 && m.soak.left_accepted === 0 },
  ];
}

/** bench/results.json: CONTRACT section 9's keys first (NaN becomes null), then the detail. */
export function resultsJson(run: RunInfo, m: Measured): object {
  const rps = (f?: { rps: number; p50_ms: number; p99_ms: number }) => ({ rps: f?.rps ?? NA, p50_ms: f?.p50_ms ?? NA, p99_ms: f?.p99_ms ?? NA });
  const pp = (f?: { p50_ms: number; p99_ms: number }) => ({ p50_ms: f?.p50_ms ?? NA, p99_ms: f?.p99_ms ?? NA });
  const tp = (f?: ThroughputFigures) => ({
    ms: f?.ms ?? NA,
    msg_per_s: f?.msg_per_s ?? NA,
    ack_p50_ms: f?.ack_p50_ms ?? NA,
    ack_p99_ms: f?.ack_p99_ms ?? NA,
    cpu_ms_per_msg: f?.cpu_ms_per_msg ?? NA,
  });
  return {
    machine: run.machine,
    intake: {
      floor: rps(m.intake?.floor),
      grammy: rps(m.intake?.grammy),
      skillgate: rps(m.intake?.skillgate),
      skillgate_intake_only: rps(m.intake?.skillgate_intake_only),
    },
    skills: { warm: pp(m.skills?.warm), cold: pp(m.skills?.cold), host_rss_mb: m.skills?.host_rss_mb ?? NA },
    e2e: { rules: pp(m.e2e?.rules), llm: pp(m.e2e?.llm) },
    throughput: {
      n: m.throughput?.n ?? run.profile.throughputMessages,
      skillgate: tp(m.throughput?.skillgate),
      grammy_reply: tp(m.throughput?.grammy_reply),
    },
    burst: {
      sent: m.burst?.sent ?? run.profile.burstUpdates,
      acked: m.burst?.acked ?? NA,
      lost: m.burst?.lost ?? NA,
      duplicated: m.burst?.duplicated ?? NA,
      in_flight_at_kill: m.burst?.in_flight_at_kill ?? NA,
      drain_s: m.burst?.drain_s ?? NA,
    },
    rss_mb: { idle: m.startup?.rss_idle_mb ?? NA, after_burst: m.burst?.rss_mb_after ?? NA },
    startup_ms: m.startup?.startup_ms ?? NA,
    soak: m.soak
      ? {
          rounds: m.soak.rounds,
          updates_per_round: m.soak.updates_per_round,
          acked: m.soak.acked,
          answered: m.soak.answered,
          unanswered: m.soak.unanswered,
          left_accepted: m.soak.left_accepted,
          max_drain_s: m.soak.max_drain_s,
          max_oldest_unclaimed_s: m.soak.max_oldest_unclaimed_s,
        }
      : undefined,
    ha: m.ha,
    profile: run.profile.name,
    started_at: run.startedAt,
    duration_s: run.durationS,
    versions: run.versions,
    settings: {
      ...run.profile,
      note: 'skillgate runs as `node dist/main.js` with LOG_LEVEL=warn and TELEGRAM_SEND_RATE / TELEGRAM_CHAT_SEND_RATE lifted to 100000 (defaults follow Telegram: 30/s and 1/s per chat)',
    },
    ratios: {
      intake_skillgate_over_floor: m.intake ? m.intake.skillgate.rps / m.intake.floor.rps : NA,
      intake_skillgate_over_grammy: m.intake ? m.intake.skillgate.rps / m.intake.grammy.rps : NA,
      intake_only_over_floor: m.intake ? m.intake.intake_only_ratio : NA,
      throughput_skillgate_over_grammy_reply: m.throughput ? m.throughput.ratio : NA,
      warm_over_cold_p50: m.skills ? m.skills.warm.p50_ms / m.skills.cold.p50_ms : NA,
    },
    detail: {
      intake: m.intake, throughput: m.throughput, skills: m.skills, e2e: m.e2e, burst: m.burst, startup: m.startup, soak: m.soak, redact: m.redact,
    },
    targets: targets(m),
    errors: m.errors,
  };
}

/** NaN and Infinity are not JSON; write them as null. */
export function toJson(value: object): string {
  return `${JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/** The human-readable report: Markdown tables with ratios, ready to paste into the README. */
export function renderReport(run: RunInfo, m: Measured): string {
  const { profile: p, machine } = run;
  const out: string[] = [];
  out.push(
    `skillgate bench (${p.name}) on ${machine.cpus} CPUs (${machine.cpu_model}), Node ${machine.node}, Python ${machine.python}, ${run.startedAt}`,
    `Send rate limits lifted for the bench (TELEGRAM_SEND_RATE=TELEGRAM_CHAT_SEND_RATE=100000); LOG_LEVEL=warn.`,
    `Load average (1 min) at start ${machine.load_avg_1m.start}, at end ${machine.load_avg_1m.end}.`,
    '',
  );
  if (machine.load_avg_1m.start > machine.cpus / 2) {
    out.push(`WARNING: the machine was busy when the bench started (load ${machine.load_avg_1m.start} on ${machine.cpus} CPUs): figures are pessimistic and noisy.`, '');
  }
  const i = m.intake;
  out.push(`### Webhook intake (autocannon, HTTPS keep-alive, ${p.connections} connections, ${p.intakeSeconds} s, same update payload)`, '');
  out.push(
    markdownTable(
      ['server', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'RSS MB', 'CPU µs per req', 'skillgate / this'],
      i
        ? [
            ['floor: bare Fastify, parse JSON, 200', i.floor.rps, i.floor.p50_ms, i.floor.p99_ms, i.floor.non2xx, i.floor.rss_mb, i.floor.cpu_us_per_req, ratio(i.skillgate.rps, i.floor.rps)],
            ['grammY webhookCallback (Fastify), no-op handler, no reply', i.grammy.rps, i.grammy.p50_ms, i.grammy.p99_ms, i.grammy.non2xx, i.grammy.rss_mb, i.grammy.cpu_us_per_req, ratio(i.skillgate.rps, i.grammy.rps)],
            ['skillgate: messages (fsync, answered meanwhile)', i.skillgate.rps, i.skillgate.p50_ms, i.skillgate.p99_ms, i.skillgate.non2xx, i.skillgate.rss_mb, i.skillgate.cpu_us_per_req, '1.00x'],
            ['skillgate: edits (fsync, stored and ignored)', i.skillgate_intake_only.rps, i.skillgate_intake_only.p50_ms, i.skillgate_intake_only.p99_ms, i.skillgate_intake_only.non2xx, i.skillgate_intake_only.rss_mb, i.skillgate_intake_only.cpu_us_per_req, ratio(i.skillgate.rps, i.skillgate_intake_only.rps)],
          ]
        : [],
    ),
  );
  if (i) {
    out.push(
      '',
      `skillgate answered ${i.skillgate.replies_sent_during_run} of those messages while the load ran (the rest drain afterwards).`,
      `Intake alone (edits) / floor: ${ratio(i.intake_only_ratio, 1)}, the median of ${i.rounds.length} rounds with the floor and the edits back to back in each ` +
        `(who goes first alternates; per round: ${i.rounds.map((r) => ratio(r.ratio, 1)).join(', ')}); their rows are medians. ` +
        `The grammY row is its intake with a no-op handler, not the same work (see the throughput table).`,
    );
  }
  const t = m.throughput;
  out.push('', `### Throughput, the same work on both sides (${p.throughputMessages} text messages, 100 chats, ${p.connections} keep-alive HTTPS connections, one reply each to the same fake Bot API)`, '');
  out.push(
    markdownTable(
      ['server', 'first POST to last reply ms', 'msg/s', 'ack p50 ms', 'ack p99 ms', 'CPU ms per msg', 'skillgate / this'],
      t
        ? [
            ['grammY webhookCallback (Fastify), ctx.reply to every message, stores nothing', t.grammy_reply.ms, t.grammy_reply.msg_per_s, t.grammy_reply.ack_p50_ms, t.grammy_reply.ack_p99_ms, t.grammy_reply.cpu_ms_per_msg, ratio(t.ratio, 1)],
            ['skillgate (fsync before the 200, replies from the inbox)', t.skillgate.ms, t.skillgate.msg_per_s, t.skillgate.ack_p50_ms, t.skillgate.ack_p99_ms, t.skillgate.cpu_ms_per_msg, '1.00x'],
          ]
        : [],
    ),
  );
  if (t) {
    out.push(
      '',
      `Each figure is the median of ${t.rounds.length} rounds, grammY and skillgate back to back in each (who goes first alternates); ` +
        `skillgate / grammY is the median of the per-round ratios: ${t.rounds.map((r) => ratio(r.ratio, 1)).join(', ')}.`,
    );
  }
  const s = m.skills;
  out.push('', `### Skill call (trivial \`ping\` skill, ${p.skillCalls} sequential calls through SkillRuntime)`, '');
  out.push(
    markdownTable(
      ['path', 'p50 ms', 'p99 ms', 'mean ms'],
      s ? [['warm: fork of the pre-imported host', s.warm.p50_ms, s.warm.p99_ms, s.warm.mean_ms], ['cold: fresh python3 per call', s.cold.p50_ms, s.cold.p99_ms, s.cold.mean_ms]] : [],
    ),
  );
  if (s) out.push('', `warm/cold p50: ${ratio(s.warm.p50_ms, s.cold.p50_ms)} (cold is ${ratio(s.cold.p50_ms, s.warm.p50_ms)} slower); warm host RSS ${s.host_rss_mb} MB.`);
  const e = m.e2e;
  out.push('', `### End to end (webhook in -> sendMessage on the fake Telegram, ${p.e2eCalls} sequential updates running \`ping\`)`, '');
  out.push(
    markdownTable(
      ['router', 'p50 ms', 'p99 ms', 'of which ack p50 ms'],
      e ? [['rules', e.rules.p50_ms, e.rules.p99_ms, e.rules.ack.p50_ms], ['LLM (fake, one tool call + answer)', e.llm.p50_ms, e.llm.p99_ms, e.llm.ack.p50_ms]] : [],
    ),
  );
  const b = m.burst;
  out.push('', `### Crash burst (${p.burstUpdates} updates, ${p.burstChats} chats, ${p.burstConcurrency} in flight, kill -9 at half, restart, resend un-acked)`, '');
  out.push(
    markdownTable(
      ['sent', 'acked', 'acked before kill', 'lost', 'duplicated', 'in flight at the kill', 'drain s', 'restart to ready ms'],
      b ? [[b.sent, b.acked, b.acked_before_kill, b.lost, b.duplicated, b.in_flight_at_kill, b.drain_s, b.restart_ready_ms]] : [],
    ),
  );
  const so = m.soak;
  if (so) {
    out.push('', `### Soak (${so.rounds} rounds of ${so.updates_per_round} updates, ${so.chats} chats, ${so.busy_loops} busy loops)`, '');
    out.push(
      markdownTable(
        ['round', 'acked', 'answered', 'drain s', 'oldest unclaimed max s'],
        so.per_round.map((r, i) => [i + 1, r.acked, r.answered, r.drain_s, r.max_oldest_unclaimed_s]),
      ),
    );
    out.push('', `unanswered: ${so.unanswered}, left accepted in the store: ${so.left_accepted}`);
  }
  const st = m.startup;
  out.push('', '### Start and memory', '');
  out.push(
    markdownTable(
      ['start to ready ms (median)', 'RSS idle MB', 'RSS idle incl. skill host MB', 'RSS under burst MB', 'RSS after burst MB'],
      [[st?.startup_ms ?? NA, st?.rss_idle_mb ?? NA, st?.rss_idle_tree_mb ?? NA, b?.rss_mb_before_kill ?? NA, b?.rss_mb_after ?? NA]],
    ),
  );
  if (m.ha) out.push(...renderHa(p, m.ha));
  const r = m.redact;
  out.push('', '### Outbound redactor (64 KiB output; token, webhook secret, API key, Discord token, RSA-2048 TLS key numbers)', '');
  out.push(markdownTable(['text', 'mean µs per call'], r ? [['prose', r.prose_us], ['base64', r.base64_us], ['with a PEM key and a token', r.leaky_us]] : []));
  out.push('', '### Targets', '');
  for (const t of targets(m)) out.push(`- ${t.met === undefined ? 'not measured' : t.met ? 'met    ' : 'MISSED '} ${t.target}`);
  for (const [name, message] of Object.entries(m.errors)) out.push(`- FAILED ${name}: ${message.split('\n')[0]}`);
  return `${out.join('\n')}\n`;
}
