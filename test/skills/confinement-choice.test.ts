import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Config } from '../../src/config/index.js';
import { chooseConfinement } from '../../src/skills/confinement.js';
import { foldersAlongPath, landlockEnforcement, describeLandlock, protectedInside } from '../../src/skills/landlock.js';
import { hostScriptPath } from '../../src/skills/python.js';

// A machine that offers nothing: an "interpreter" that fails every probe (/bin/false), so
// neither Landlock nor bwrap is found. Only the choice is under test here.
const NOTHING = { executable: '/bin/false', version: '3', runAsUid: undefined };

function skillsConfig(root: string, nested: boolean, sandbox: Config['skills']['sandbox']): Config['skills'] {
  const workspace = path.join(root, 'AI_BOOTCAMP');
  const gateway = nested ? path.join(workspace, 'labs', 'openclaw') : path.join(root, 'openclaw');
  fs.mkdirSync(path.join(gateway, 'skills'), { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  return {
    dir: path.join(gateway, 'skills'), workspaceDir: workspace, pythonBin: 'python3', timeoutMs: 1000, maxConcurrency: 1, queueMax: 1,
    maxOutputBytes: 1024, mode: 'cold', sandbox, runAs: undefined, envAllow: [],
    gatewayPaths: [gateway, path.join(gateway, '.env'), path.join(gateway, 'data')],
    memoryMb: 1024, maxProcs: 256,
  };
}

t.test('auto with nothing available refuses the seed layout with one line naming the fix', async (t) => {
  const root = fs.realpathSync(t.testdir({}));
  await t.rejects(chooseConfinement(skillsConfig(root, true, 'auto'), NOTHING, hostScriptPath(), root), {
    code: 'SG_SANDBOX_UNAVAILABLE',
    message: /^The gateway's folder \(.*labs\/openclaw\) is inside WORKSPACE_DIR .* no Landlock.*set SKILL_SANDBOX=none to run unconfined\.$/,
  });
});

t.test('auto with nothing available in the flat layout runs unconfined and says what is missing', async (t) => {
  const root = fs.realpathSync(t.testdir({}));
  const c = await chooseConfinement(skillsConfig(root, false, 'auto'), NOTHING, hostScriptPath(), root);
  t.equal(c.sandbox.kind, 'none');
  t.match(c.level, /^none: the kernel offers no Landlock .*, and bwrap/);
});

t.test('landlock asked for and missing is a start failure; none is honoured in any layout', async (t) => {
  const root = fs.realpathSync(t.testdir({}));
  await t.rejects(chooseConfinement(skillsConfig(root, false, 'landlock'), NOTHING, hostScriptPath(), root), { code: 'SG_SANDBOX_UNAVAILABLE', message: /SKILL_SANDBOX=landlock is set but/ });
  const none = await chooseConfinement(skillsConfig(root, true, 'none'), NOTHING, hostScriptPath(), root);
  t.equal(none.sandbox.kind, 'none');
  t.match(none.protected, [/labs\/openclaw$/], 'the gateway folder is still known (the shipped skills refuse it)');
});

t.test('the gateway paths inside the workspace, and the folders along the way', async (t) => {
  const root = fs.realpathSync(t.testdir({ ws: { labs: { gw: { data: {} } } }, gw2: {} }));
  const ws = path.join(root, 'ws');
  const gw = path.join(ws, 'labs', 'gw');
  t.same(protectedInside(ws, [gw, path.join(gw, '.env'), path.join(gw, 'data'), path.join(root, 'gw2')]), [gw], 'nested ones collapse, outside ones drop');
  t.same(foldersAlongPath(ws, [gw]), [ws, path.join(ws, 'labs')]);
  t.same(protectedInside(ws, [path.join(root, 'gw2')]), [], 'flat layout: nothing inside');
});

t.test('the start log names what each ABI enforces', async (t) => {
  t.match(describeLandlock(landlockEnforcement(7)), /^landlock ABI 7: filesystem, tcp connect\/bind, signal and abstract-socket scoping/);
  t.match(describeLandlock(landlockEnforcement(3)), /NO tcp rules \(needs ABI 4.*NO signal scoping \(needs ABI 6/);
});
