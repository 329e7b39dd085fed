import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';
import type { Config } from '../../src/config/index.js';
import { probeLandlock } from '../../src/skills/landlock.js';
import { hostScriptPath } from '../../src/skills/python.js';
import { SkillRuntime } from '../../src/skills/runtime.js';
import { captureLogger } from '../helpers/logger.js';
import { fixture } from './helpers.js';

/** Why Landlock tests cannot run here, or false. */
export async function landlockMissing(): Promise<string | false> {
  const abi = await probeLandlock('python3', hostScriptPath());
  return abi >= 1 ? false : 'this kernel offers no Landlock (Linux >= 5.13, landlock in lsm=)';
}

export interface Layout {
  root: string;
  workspace: string;
  /** The gateway's folder: cwd, `.env`, data/, certs/, skills/. */
  gatewayDir: string;
  skillsDir: string;
  /** Where probes write (a folder the skills may write in, in both layouts). */
  outDir: string;
  gatewayPaths: string[];
}

/**
 * The seed's nested layout (WORKSPACE_DIR=root/AI_BOOTCAMP, the gateway in
 * AI_BOOTCAMP/labs/openclaw) or the flat one (the gateway beside the workspace), with the
 * gateway's secrets in place and the hostile skill file in its SKILLS_DIR.
 */
export function makeLayout(t: Test, kind: 'nested' | 'flat'): Layout {
  const root = fs.realpathSync(t.testdir({}));
  const workspace = path.join(root, 'AI_BOOTCAMP');
  const gatewayDir = kind === 'nested' ? path.join(workspace, 'labs', 'openclaw') : path.join(root, 'openclaw');
  const outDir = path.join(workspace, 'notes');
  const skillsDir = path.join(gatewayDir, 'skills');
  for (const dir of [path.join(gatewayDir, 'data', 'chats'), path.join(gatewayDir, 'certs'), skillsDir, outDir, path.join(workspace, 'labs', 'other')]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.writeFileSync(path.join(gatewayDir, '.env'), 'TELEGRAM_BOT_TOKEN=123456:gateway-secret\n');
  fs.writeFileSync(path.join(gatewayDir, 'data', 'chats', '42.json'), '{"history": "private"}');
  fs.writeFileSync(path.join(gatewayDir, 'data', 'audit.log'), 'audit line\n');
  fs.writeFileSync(path.join(gatewayDir, 'certs', 'key.pem'), '-----BEGIN PRIVATE KEY-----\n');
  fs.writeFileSync(path.join(gatewayDir, 'certs', 'cert.pem'), '-----BEGIN CERTIFICATE-----\n');
  fs.writeFileSync(path.join(outDir, 'a.txt'), 'workspace file\n');
  fs.writeFileSync(path.join(skillsDir, 'confinement.py'), fixture('confinement.py'));
  const gatewayPaths = [gatewayDir, path.join(gatewayDir, '.env'), path.join(gatewayDir, 'data'), path.join(gatewayDir, 'certs', 'cert.pem'), path.join(gatewayDir, 'certs', 'key.pem')];
  return { root, workspace, gatewayDir, skillsDir, outDir, gatewayPaths };
}

/** A loopback TCP server that accepts and closes; its port. */
export async function listener(t: Test): Promise<number> {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** targets.json for the hostile file: what it attacks, never a secret. */
export function writeTargets(layout: Layout, ports: { adminPort: number; botApiPort: number }, gatewayPid: number | null = process.pid): void {
  const g = layout.gatewayDir;
  fs.writeFileSync(
    path.join(layout.workspace, 'targets.json'),
    JSON.stringify({
      gatewayPid,
      env: path.join(g, '.env'),
      chat: path.join(g, 'data', 'chats', '42.json'),
      audit: path.join(g, 'data', 'audit.log'),
      dataDir: path.join(g, 'data'),
      key: path.join(g, 'certs', 'key.pem'),
      skillsDir: layout.skillsDir,
      gatewayDir: g,
      home: layout.root,
      outDir: layout.outDir,
      workspaceFile: path.join(layout.outDir, 'a.txt'),
      ...ports,
    }),
  );
}

export async function startConfined(t: Test, layout: Layout, overrides: Partial<Config['skills']> = {}) {
  const { logger, text } = captureLogger([]);
  const runtime = await SkillRuntime.create({
    config: {
      dir: layout.skillsDir,
      workspaceDir: layout.workspace,
      pythonBin: 'python3',
      timeoutMs: 20_000,
      maxConcurrency: 4,
      queueMax: 8,
      maxOutputBytes: 65_536,
      mode: 'warm',
      sandbox: 'auto',
      gatewayPaths: layout.gatewayPaths,
      runAs: undefined,
      envAllow: [],
      memoryMb: 1024,
      maxProcs: 256,
      ...overrides,
    },
    logger,
    env: { PATH: process.env.PATH, HOME: layout.root },
    watch: false,
  });
  t.teardown(() => runtime.close());
  return { runtime, logs: text };
}

/** The probes' results written at import time (discovery's child, the warm host). */
export function importReports(layout: Layout): { attacks: Record<string, string>; controls: Record<string, string> }[] {
  return fs
    .readdirSync(layout.outDir)
    .filter((f) => f.startsWith('import-'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(layout.outDir, f), 'utf8')));
}
