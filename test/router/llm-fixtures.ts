import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Alerter } from '../../src/alerts/alerter.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { LlmConfig } from '../../src/router/llm-client.js';
import { LlmRouter } from '../../src/router/llm-router.js';
import type { RouteContext } from '../../src/router/types.js';
import type { SkillInfo, SkillResult } from '../../src/skills/types.js';
import { FakeOpenAI, type FakeOpenAIOptions } from '../../fakes/openai.js';
import { captureLogger } from '../helpers/logger.js';

/**
 * Shared set-up for the LLM router tests: a FakeOpenAI on loopback, a real LlmRouter with a
 * capture logger, and a stand-in RouteContext whose runSkill validates like the gateway does
 * (unknown skill, missing/unknown/ill-typed argument, approval gate) and records every call.
 */

export const TEST_API_KEY = 'sk-test-secret-key-0123456789abcdef';

const noParams = { type: 'object', properties: {}, required: [], additionalProperties: false } as const;

export const SKILLS: SkillInfo[] = [
  {
    name: 'check_workspace_files',
    description: 'List the files in the training workspace.',
    parameters: { ...noParams, required: [] },
    file: 'skills/workspace.py',
    requiresApproval: false,
  },
  {
    name: 'read_file',
    description: 'Read a text file from the workspace.',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'], additionalProperties: false },
    file: 'skills/files.py',
    requiresApproval: false,
  },
  {
    name: 'delete_file',
    description: 'Delete a file from the workspace.',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'], additionalProperties: false },
    file: 'skills/files.py',
    requiresApproval: true,
  },
];

export type SkillBehaviour = (args: Record<string, unknown>) => string | Promise<string>;

export interface SkillCall {
  name: string;
  args: unknown;
}

export function result(skill: string, outcome: SkillResult['outcome'], output: string): SkillResult {
  return { skill, outcome, ok: outcome === 'ok', output, truncated: false, durationMs: 1 };
}

/** A RouteContext whose runSkill checks arguments against the schema, then runs `behaviours`. */
export function standInContext(options: {
  text: string;
  chatId?: number;
  behaviours?: Record<string, SkillBehaviour>;
  signal?: AbortSignal;
}): { ctx: RouteContext; calls: SkillCall[] } {
  const calls: SkillCall[] = [];
  const ctx: RouteContext = {
    chatId: options.chatId ?? 1001,
    userId: 42,
    text: options.text,
    signal: options.signal ?? new AbortController().signal,
    skills: () => SKILLS,
    async runSkill(name, args) {
      calls.push({ name, args });
      const skill = SKILLS.find((s) => s.name === name);
      if (!skill) return result(name, 'not_found', `no skill named ${name}`);
      const given = args as Record<string, unknown>;
      for (const key of Object.keys(given)) {
        if (!(key in skill.parameters.properties)) return result(name, 'invalid_args', `unknown argument "${key}"`);
        if (typeof given[key] !== 'string') return result(name, 'invalid_args', `argument "${key}" must be a string`);
      }
      const missing = skill.parameters.required.filter((key) => !(key in given));
      if (missing.length > 0) return result(name, 'invalid_args', `missing argument(s): ${missing.join(', ')}`);
      if (skill.requiresApproval) return result(name, 'pending_approval', `Approve running ${name}?`);
      const behaviour = options.behaviours?.[name] ?? (() => `${name} ran`);
      return result(name, 'ok', await behaviour(given));
    },
  };
  return { ctx, calls };
}

export function recordingAlerter(): Alerter & { alerts: Array<{ text: string; key: string | undefined }> } {
  const alerts: Array<{ text: string; key: string | undefined }> = [];
  return {
    alerts,
    alert(text, options) {
      alerts.push({ text, key: options?.key });
    },
    async flush() {},
  };
}

export function llmConfig(baseUrl: string, overrides: Partial<LlmConfig> = {}): LlmConfig {
  return {
    apiKey: TEST_API_KEY,
    baseUrl,
    model: 'fake-model',
    maxSteps: 5,
    timeoutMs: 10_000,
    maxRetries: 2,
    totalTimeoutMs: 30_000,
    historyTurns: 20,
    historyChars: 16_000,
    ...overrides,
  };
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A FakeOpenAI, a temp DATA_DIR and a router over them, all closed at the end of the test. */
export async function setupRouter(
  t: Teardown,
  options: { config?: Partial<LlmConfig>; fake?: FakeOpenAIOptions; dataDir?: string } = {},
) {
  const fake = await FakeOpenAI.start(options.fake);
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'skillgate-llm-')));
  const log = captureLogger([TEST_API_KEY]);
  const metrics = new Metrics();
  const alerter = recordingAlerter();
  const config = llmConfig(fake.baseUrl, options.config);
  const makeRouter = () => new LlmRouter({ config, dataDir, logger: log.logger, metrics, alerter });
  const router = makeRouter();
  t.teardown(async () => {
    await fake.close();
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return { fake, router, makeRouter, dataDir, log, metrics, alerter, config };
}

/** Log lines (parsed) whose msg starts with `prefix`. */
export function linesWith(lines: string[], prefix: string): Array<Record<string, unknown>> {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).startsWith(prefix));
}

export async function counterValue(metrics: Metrics, outcome: string): Promise<number> {
  const metric = await metrics.llmCalls.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}
