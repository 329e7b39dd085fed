/**
 * npm run skills -- list
 * npm run skills -- run NAME '{"arg": "value"}'
 * npm run skills -- bench [NAME] [CALLS]     warm vs cold latency and the warm host's RSS
 *
 * The registry and the executor from the shell, through the same runtime, sandbox and limits as
 * the gateway. Config: the SKILL_* variables (env or .env); no bot token needed.
 * Exit codes: 0 ok, 1 failure, 2 usage, 78 configuration error.
 */
import { loadSkillsConfig, readEnv, type Config } from '../src/config/index.js';
import { ConfigError, exitCodeOf, SkillgateError } from '../src/errors.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedactor } from '../src/observability/redact.js';
import { measureSkillLatency, SkillRuntime } from '../src/skills/index.js';

const USAGE = `usage: npm run skills -- list
       npm run skills -- run NAME '{"arg": "value"}'
       npm run skills -- bench [NAME] [CALLS]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'list' && command !== 'run' && command !== 'bench') {
    console.error(USAGE);
    return 2;
  }
  const rawEnv = readEnv(process.env, process.cwd());
  const config = loadSkillsConfig(rawEnv, process.cwd());
  // Only warnings and errors on the console: the command's own output is the point.
  const logger = createLogger({ level: rawEnv.LOG_LEVEL ?? 'warn', redact: createRedactor([]), destination: process.stderr, pretty: false });
  const open = (overrides: Partial<Config['skills']> = {}) =>
    SkillRuntime.create({ config: { ...config, ...overrides }, logger, env: process.env, watch: false });

  if (command === 'list') {
    const runtime = await open({ mode: 'cold' });
    try {
      printTable(runtime.list().map((s) => [s.name + (s.requiresApproval ? ' (approval)' : ''), s.description, describeParameters(s.parameters), s.file]));
      return 0;
    } finally {
      await runtime.close();
    }
  }
  if (command === 'run') {
    const [name, json = '{}'] = rest;
    if (!name) {
      console.error(USAGE);
      return 2;
    }
    let args: unknown;
    try {
      args = JSON.parse(json);
    } catch {
      console.error(`Arguments must be JSON, for example '{"path": "notes.txt"}'`);
      return 2;
    }
    const runtime = await open({ mode: 'cold' });
    try {
      const result = await runtime.run(name, args);
      (result.ok ? process.stdout : process.stderr).write(`${result.output}\n`);
      if (!result.ok) console.error(`[${result.outcome}${result.signal ? `, ${result.signal}` : result.exitCode != null ? `, exit ${result.exitCode}` : ''}, ${result.durationMs} ms]`);
      return result.ok ? 0 : 1;
    } finally {
      await runtime.close();
    }
  }
  return bench(rest, open);
}

async function bench(rest: string[], open: (o?: Partial<Config['skills']>) => Promise<SkillRuntime>): Promise<number> {
  const calls = Number(rest[1] ?? 200);
  const report: Record<string, unknown> = {};
  for (const mode of ['warm', 'cold'] as const) {
    const runtime = await open({ mode });
    try {
      const name = rest[0] ?? 'system_status';
      if (!runtime.get(name)) throw new SkillgateError('SG_SKILL_NOT_FOUND', `no skill named ${name}`);
      report[mode] = await measureSkillLatency(runtime, name, {}, { calls: mode === 'cold' ? Math.min(calls, 50) : calls, warmup: 5 });
      if (mode === 'warm') report.host_rss_mb = Math.round(((runtime.hostRssBytes() ?? 0) / 1024 / 1024) * 10) / 10;
    } finally {
      await runtime.close();
    }
  }
  console.log(JSON.stringify(report, null, 2));
  return 0;
}

function describeParameters(parameters: { properties: Record<string, Record<string, unknown>>; required: string[] }): string {
  const names = Object.entries(parameters.properties).map(([name, p]) => {
    const type = Array.isArray(p.enum) ? p.enum.map((v) => JSON.stringify(v)).join('|') : Array.isArray(p.type) ? p.type.join('|') : String(p.type);
    return parameters.required.includes(name) ? `${name}: ${type}` : `${name}?: ${type}`;
  });
  return names.join(', ') || '-';
}

function printTable(rows: string[][]): void {
  if (rows.length === 0) {
    console.log('No skills found. Add a .py file with a skill to SKILLS_DIR.');
    return;
  }
  const header = ['NAME', 'DESCRIPTION', 'PARAMETERS', 'FILE'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.min(60, Math.max(...all.map((r) => r[i]!.length))));
  for (const row of all) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(err.exitCode);
    }
    if (err instanceof SkillgateError) {
      console.error(`${err.code}: ${err.message}`);
      process.exit(exitCodeOf(err));
    }
    console.error((err as Error).message);
    process.exit(1);
  },
);
