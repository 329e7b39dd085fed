import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { landlockMissing, makeLayout, startConfined } from './confinement-layout.js';

// The shipped skills in the seed's nested layout: the gateway's key, .env and data stay out of
// reach, under Landlock and (defence in depth, their own checks) with SKILL_SANDBOX=none too.
const SKILLS = path.resolve(import.meta.dirname, '../../skills');
const missing = await landlockMissing();

for (const sandbox of ['auto', 'none'] as const) {
  t.test(`shipped skills in the nested layout, SKILL_SANDBOX=${sandbox}`, { skip: sandbox === 'auto' && missing }, async (t) => {
    const layout = makeLayout(t, 'nested');
    fs.rmSync(path.join(layout.skillsDir, 'confinement.py'));
    for (const f of fs.readdirSync(SKILLS).filter((f) => f.endsWith('.py'))) fs.copyFileSync(path.join(SKILLS, f), path.join(layout.skillsDir, f));
    const { runtime } = await startConfined(t, layout, { sandbox, mode: 'warm' });
    for (const file of ['labs/openclaw/.env', 'labs/openclaw/certs/key.pem', 'labs/openclaw/data/audit.log', 'labs/openclaw/data/chats/42.json', 'labs/openclaw/skills/ops_skills.py']) {
      const result = await runtime.run('read_text_file', { path: file });
      t.equal(result.outcome, 'error', `read_text_file ${file} refused`);
      t.notMatch(result.output, /PRIVATE KEY|gateway-secret|private|audit line/);
    }
    const listed = await runtime.run('check_workspace_files', { subdir: 'labs/openclaw/data' });
    t.equal(listed.outcome, 'error', 'the gateway folder is not listed');
    const recent = await runtime.run('recent_files', { limit: 100 });
    t.equal(recent.outcome, 'ok');
    t.notMatch(recent.output, /openclaw/, 'recent_files leaves the gateway folder out');
    t.match(recent.output, /notes\/a\.txt/);
    const read = await runtime.run('read_text_file', { path: 'notes/a.txt' });
    t.equal(read.output, 'workspace file\n', 'the workspace still reads');
    const usage = await runtime.run('workspace_disk_usage', {});
    t.equal(usage.outcome, 'ok');
    t.equal((await runtime.run('system_status', {})).outcome, 'ok', 'system_status reads its /proc files');
  });
}
