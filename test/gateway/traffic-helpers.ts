import fs from 'node:fs';
import path from 'node:path';
import type { Alerter } from '../../src/alerts/alerter.js';
import type { Fault } from '../../fakes/telegram.js';
import type { TestContext } from '../helpers/tap.js';
import { startWebhookGateway } from '../helpers/webhook-gateway.js';
import { DECORATOR } from '../skills/helpers.js';

export const OWNER_ID = 111;
export const GROUP_ID = -1002003004005;
export const FORUM_ID = -1005006007008;
export const OLD_GROUP_ID = -4001;
export const NEW_SUPERGROUP_ID = -1004001001001;

export interface Fixture {
  name: string;
  note?: string;
  expect: { reply?: string | null; attached?: boolean; thread?: number; typing?: boolean; warn?: boolean; callback?: 'answered' };
  update: Record<string, unknown> & { update_id: number };
}

export function loadFixtures(): Fixture[] {
  const file = path.join(import.meta.dirname, '../fixtures/telegram/updates.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { fixtures: Fixture[] }).fixtures;
}

const SKILLS = `${DECORATOR}
@skill("Say hello.")
def hello() -> str:
    return "hello from python"

@skill("Write a note file into the workspace.", approval=True)
def write_note(path: str, text: str = "hi") -> str:
    with open(path, "w") as f:
        f.write(text)
    return f"wrote {path}"
`;

/**
 * A whole gateway in this process, in webhook mode over real HTTPS with a self-signed
 * certificate, the real Python skill host, and the fake Bot API delivering updates the way
 * Telegram does. `deliver` pushes one update and resolves once its audit line is written, so
 * every Bot API call it caused (or did not cause) can be checked right after.
 */
export async function startTrafficGateway(t: TestContext, options: { getMeFaults?: Fault[]; env?: Record<string, string> } = {}) {
  const dir = t.testdir({ skills: { 'notes.py': SKILLS }, workspace: {} });
  const alerts: string[] = [];
  const alerter: Alerter = { alert: (text) => void alerts.push(text), flush: async () => {} };
  const { gateway, telegram: fake, log } = await startWebhookGateway(t, {
    dir,
    env: {
      TELEGRAM_ALLOWED_CHAT_IDS: `${GROUP_ID}, ${FORUM_ID},${OLD_GROUP_ID}`,
      TELEGRAM_SEND_RATE: '1000',
      TELEGRAM_CHAT_SEND_RATE: '1000',
      ...options.env,
    },
    logLevel: 'debug',
    alerter,
    ...(options.getMeFaults ? { getMeFaults: options.getMeFaults } : {}),
  });
  const auditFile = path.join(dir, 'data/audit.log');
  const audited = (updateId: number) =>
    fs.existsSync(auditFile) && fs.readFileSync(auditFile, 'utf8').split('\n').some((l) => l.includes(`"update_id":${updateId},`));

  async function deliver(update: { update_id: number }) {
    const callsBefore = fake.calls.length;
    const logBefore = log.lines.length;
    const res = await fake.pushUpdate(update);
    const deadline = Date.now() + 15_000;
    while (!audited(update.update_id)) {
      if (Date.now() > deadline) throw new Error(`update ${update.update_id} was not audited within 15 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const calls = () => fake.calls.slice(callsBefore).filter((c) => !['setWebhook', 'getWebhookInfo', 'getMe'].includes(c.method));
    const logs = () => log.lines.slice(logBefore).map((l) => JSON.parse(l) as { level: number; msg: string });
    return { status: res.status, calls, logs };
  }
  return { dir, fake, gateway, log, alerts, deliver };
}
