import fs from 'node:fs/promises';
import path from 'node:path';

/** The trivial skill every latency figure runs: the cost of the machinery, not of the skill. */
const PING_SKILL = `from skillgate_host.decorator import skill  # shipped next to host.py


@skill("Answer pong: proves the skill machinery is alive.")
def ping() -> str:
    return "pong"
`;

export interface BenchDirs {
  skillsDir: string;
  workspaceDir: string;
}

/** SKILLS_DIR with the ping skill, and an empty WORKSPACE_DIR, under `root`. */
export async function writeSkillFixtures(root: string): Promise<BenchDirs> {
  const skillsDir = path.join(root, 'skills');
  const workspaceDir = path.join(root, 'workspace');
  await fs.mkdir(skillsDir, { recursive: true });
  await fs.mkdir(workspaceDir, { recursive: true });
  await fs.writeFile(path.join(skillsDir, 'ping.py'), PING_SKILL);
  return { skillsDir, workspaceDir };
}

/** A fresh, empty DATA_DIR under `root`. */
export async function freshDataDir(root: string, name: string): Promise<string> {
  const dir = path.join(root, `data-${name}`);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}
