import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, pythonVersion } from './bench/build.js';
import { benchBurst } from './bench/burst.js';
import type { BenchContext } from './bench/context.js';
import { benchE2e } from './bench/e2e.js';
import { benchHa } from './bench/ha.js';
import { writeSkillFixtures } from './bench/fixtures.js';
import { benchIntake } from './bench/intake.js';
import { writeSelfSigned } from './bench/net.js';
import { ChildProcesses } from './bench/processes.js';
import { FULL, QUICK } from './bench/profile.js';
import { renderReport, resultsJson, toJson, type Measured, type RunInfo } from './bench/report.js';
import { benchRedact } from './bench/redact.js';
import { benchSkills } from './bench/skills.js';
import { benchSoak } from './bench/soak.js';
import { benchStartup } from './bench/startup.js';
import { benchThroughput } from './bench/throughput.js';

/**
 * `npm run bench [-- --quick] [--only intake,throughput,skills,e2e,burst,startup,soak,redact,ha] [--soak-rounds N] [--profile] [--gateway DIR]`: every figure in the
 * README measured side by side in one run on this machine. Prints Markdown tables on stdout
 * (progress on stderr) and writes bench/results.json.
 */

const BENCHMARKS = {
  intake: (ctx: BenchContext, m: Measured) => benchIntake(ctx).then((r) => void (m.intake = r)),
  throughput: (ctx: BenchContext, m: Measured) => benchThroughput(ctx).then((r) => void (m.throughput = r)),
  skills: (ctx: BenchContext, m: Measured) => benchSkills(ctx).then((r) => void (m.skills = r)),
  e2e: (ctx: BenchContext, m: Measured) => benchE2e(ctx).then((r) => void (m.e2e = r)),
  burst: (ctx: BenchContext, m: Measured) => benchBurst(ctx).then((r) => void (m.burst = r)),
  startup: (ctx: BenchContext, m: Measured) => benchStartup(ctx).then((r) => void (m.startup = r)),
  soak: (ctx: BenchContext, m: Measured) => benchSoak(ctx).then((r) => void (m.soak = r)),
  redact: (ctx: BenchContext, m: Measured) => benchRedact(ctx).then((r) => void (m.redact = r)),
  ha: (ctx: BenchContext, m: Measured) => benchHa(ctx).then((r) => void (m.ha = r)),
} as const;
type BenchName = keyof typeof BENCHMARKS;

function parseArgs(argv: string[]): { quick: boolean; profile: boolean; only: BenchName[]; soakRounds?: number; gateway?: string } {
  const gatewayAt = argv.indexOf('--gateway');
  const gateway = gatewayAt >= 0 ? argv[gatewayAt + 1] : undefined;
  if (gatewayAt >= 0 && !(gateway && fs.existsSync(path.join(gateway, 'dist/main.js')))) {
    process.stderr.write('--gateway takes a checkout whose dist/main.js exists (build it there first).\n');
    process.exit(2);
  }
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const onlyAt = argv.indexOf('--only');
  const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (onlyAt >= 0 ? argv[onlyAt + 1] : undefined);
  const names = onlyArg !== undefined || onlyAt >= 0 ? (onlyArg ?? '').split(',').filter(Boolean) : Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(`Unknown benchmark(s): ${unknown.join(', ')}. Choose from ${Object.keys(BENCHMARKS).join(', ')}.\n`);
    process.exit(2);
  }
  const roundsAt = argv.indexOf('--soak-rounds');
  const soakRounds = roundsAt >= 0 ? Number(argv[roundsAt + 1]) : undefined;
  if (soakRounds !== undefined && !(Number.isInteger(soakRounds) && soakRounds > 0)) {
    process.stderr.write('--soak-rounds takes a positive integer.\n');
    process.exit(2);
  }
  return { quick, profile, only: names as BenchName[], soakRounds, gateway };
}

/** `version` from a package.json under repoRoot ('' for the project itself). */
function versionOf(repoRoot: string, pkg: string): string {
  try {
    const file = path.join(repoRoot, pkg ? `node_modules/${pkg}` : '', 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const profile = { ...(args.quick ? QUICK : FULL), ...(args.soakRounds ? { soakRounds: args.soakRounds } : {}) };
  const started = performance.now();
  const progress = (line: string) => process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
  const startedAt = new Date().toISOString();
  const loadAtStart = Math.round(os.loadavg()[0]! * 100) / 100;

  // --gateway: the servers under test come from another checkout (A/B against main); the bench code is this one's.
  const gatewayRoot = args.gateway ? path.resolve(args.gateway) : repoRoot;
  if (!args.gateway) ensureBuilt(repoRoot, progress);
  const procs = new ChildProcesses();
  // Ctrl-C or a crash of the bench must not leave servers behind.
  const killChildren = () => procs.killAll();
  process.on('exit', killChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      killChildren();
      process.exit(130);
    });
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-bench-'));
  const measured: Measured = { errors: {} };
  try {
    const ctx: BenchContext = {
      repoRoot,
      profile,
      procs,
      tmp,
      tls: await writeSelfSigned(tmp),
      dirs: await writeSkillFixtures(tmp),
      baseEnv: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: process.env.HOME ?? tmp },
      // CPU profiles of every skillgate child, written when it exits, for `node --cpu-prof` analysis.
      gatewayEntry: path.join(gatewayRoot, 'dist/main.js'),
      gatewayNodeArgs: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(repoRoot, 'bench/profiles')}`] : [],
      progress,
    };
    for (const name of args.only) {
      try {
        await BENCHMARKS[name](ctx, measured);
      } catch (err) {
        measured.errors[name] = (err as Error).stack ?? String(err);
        progress(`${name} FAILED: ${(err as Error).stack ?? err}`);
      }
    }
  } finally {
    await procs.stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const run: RunInfo = {
    profile,
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      python: pythonVersion(),
      cpu_model: os.cpus()[0]?.model.trim() ?? 'unknown',
      os: `${os.type()} ${os.release()}`,
      mem_gb: Math.round(os.totalmem() / 1024 ** 3),
      // Other work on the machine skews every figure; the reader should know.
      load_avg_1m: { start: loadAtStart, end: Math.round(os.loadavg()[0]! * 100) / 100 },
    },
    versions: Object.fromEntries(
      ['fastify', 'grammy', 'autocannon', 'undici', 'better-sqlite3', 'openai', 'pino'].map((p) => [p, versionOf(repoRoot, p)]),
    ),
    startedAt,
    durationS: Math.round((performance.now() - started) / 100) / 10,
  };
  run.versions.skillgate = versionOf(repoRoot, '');
  process.stdout.write(renderReport(run, measured));
  const resultsFile = path.join(repoRoot, 'bench/results.json');
  fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
  fs.writeFileSync(resultsFile, toJson(resultsJson(run, measured)));
  progress(`wrote ${path.relative(process.cwd(), resultsFile)} in ${run.durationS} s`);
  return Object.keys(measured.errors).length === 0 ? 0 : 1;
}

process.exitCode = await main();
