import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { SkillgateError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { PythonInfo } from './python.js';
import { describeLandlock, foldersAlongPath, landlockSandbox, probeLandlock, protectedInside } from './landlock.js';
import { createSandbox, noSandbox, type Sandbox } from './sandbox.js';

/** The sandbox chosen at start, and what the start log, /readyz and the metrics say about it. */
export interface Confinement {
  sandbox: Sandbox;
  /** e.g. "landlock ABI 7: filesystem, tcp connect/bind, ..." or "none: ...". */
  level: string;
  /** Gateway paths inside the workspace (the seed's layout), out of the skills' reach. */
  protected: string[];
  /** Folders whose entries the grant set lists one by one (see landlock.ts). */
  folders: string[];
}


/**
 * SKILL_SANDBOX: `auto` takes Landlock when the kernel has it, else bwrap when it works here, else
 * nothing, with a WARN; but in the seed's layout (the gateway's folder inside WORKSPACE_DIR) it
 * refuses to start rather than hand that folder to every skill. `landlock` / `bwrap`: that one or
 * exit 78. `none`: only when set explicitly.
 */
export async function chooseConfinement(
  config: Config['skills'],
  python: PythonInfo,
  hostScript: string,
  privateRoot: string,
): Promise<Confinement> {
  const o = { setting: config.sandbox, python: python.executable, dropCapabilities: !config.runAs, workspaceDir: config.workspaceDir };
  // The checkout (host.py lives in its src/ or dist/) and SKILLS_DIR are the gateway's too.
  const gatewayPaths = [...config.gatewayPaths, path.resolve(path.dirname(hostScript), '../..'), config.dir];
  const protectedPaths = protectedInside(o.workspaceDir, gatewayPaths);
  const folders = foldersAlongPath(o.workspaceDir, protectedPaths);
  const result = (sandbox: Sandbox, level: string): Confinement => ({ sandbox, level, protected: protectedPaths, folders });
  if (o.setting === 'none') return result(noSandbox, 'none (SKILL_SANDBOX=none): skills are not confined');
  if (o.setting === 'bwrap') return result(await createSandbox('bwrap', o.python, { dropCapabilities: o.dropCapabilities }), 'bwrap');

  const abi = await probeLandlock(o.python, hostScript);
  if (abi >= 1) {
    const tmpRoot = privateTmpRoot(privateRoot, python.runAsUid);
    const sandbox = landlockSandbox(abi, { protected: protectedPaths, readOnly: [config.dir], tmpRoot });
    return result(sandbox, describeLandlock(sandbox.enforcement));
  }
  const noLandlock = 'the kernel offers no Landlock (needs Linux >= 5.13 with landlock in the lsm= boot list)';
  if (o.setting === 'landlock') {
    throw new SkillgateError('SG_SANDBOX_UNAVAILABLE', `SKILL_SANDBOX=landlock is set but ${noLandlock}. Set SKILL_SANDBOX=auto or bwrap.`);
  }
  try {
    return result(await createSandbox('bwrap', o.python, { dropCapabilities: o.dropCapabilities }), 'bwrap (no Landlock here)');
  } catch (err) {
    const missing = `${noLandlock}, and ${bwrapReason(err as Error)}`;
    if (protectedPaths.length > 0) {
      throw new SkillgateError(
        'SG_SANDBOX_UNAVAILABLE',
        `The gateway's folder (${protectedPaths.join(', ')}) is inside WORKSPACE_DIR (${o.workspaceDir}) and nothing here can keep skills out of it: ${missing}. Move WORKSPACE_DIR or the gateway so neither contains the other, install bubblewrap, or set SKILL_SANDBOX=none to run unconfined.`,
      );
    }
    return result(noSandbox, `none: ${missing}`);
  }
}

/** Why bwrap does not work, in a few words on one line (its error holds the whole command line). */
function bwrapReason(err: Error): string {
  return err.message
    .replace(/^SKILL_SANDBOX=bwrap is set but unusable: /, '')
    .replace(/\. Install or enable[\s\S]*$/, '')
    .replace(/Command failed: [^\n]*\n?/, '')
    .replace(/\s+/g, ' ')
    .replace(/:\s*$/, '')
    .trim()
    .slice(0, 200);
}

/** Parent of the calls' private temp dirs; the user skills drop to must own it. */
function privateTmpRoot(privateRoot: string, runAsUid: number | undefined): string {
  const dir = path.join(privateRoot, 'tmp');
  fs.mkdirSync(dir, { mode: 0o700 });
  if (runAsUid !== undefined) fs.chownSync(dir, runAsUid, -1);
  return dir;
}

/**
 * Calls `onChange` (debounced) when an entry is created in or removed from one of `folders`: the
 * warm host's domain lists their entries, so a new one needs a new host to be reachable.
 */
export function watchFolders(folders: readonly string[], onChange: () => void, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers: fs.FSWatcher[] = [];
  for (const dir of folders) {
    try {
      const watcher = fs.watch(dir, { persistent: false }, (event) => {
        if (event !== 'rename') return;
        clearTimeout(timer);
        timer = setTimeout(onChange, 300);
      });
      watcher.on('error', () => undefined);
      watchers.push(watcher);
    } catch (err) {
      logger.warn({ dir, error: (err as Error).message }, 'Cannot watch a workspace folder; entries created in it reach skills after the next reload (SIGHUP)');
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
