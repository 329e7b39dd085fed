import t from 'tap';
import { HealthAlerts } from '../../src/gateway/health-alerts.js';
import type { SkillOutcome, SkillResult } from '../../src/skills/types.js';

function recorder() {
  const alerts: Array<{ text: string; key?: string }> = [];
  return { alerts, alerter: { alert: (text: string, o?: { key?: string }) => void alerts.push({ text, key: o?.key }), flush: async () => {} } };
}
const result = (skill: string, outcome: SkillOutcome): SkillResult => ({ skill, outcome, ok: outcome === 'ok', output: `${outcome}!`, truncated: false, durationMs: 1 });

t.test('a skill that crashes or times out three times in a row raises one alert', async (t) => {
  const r = recorder();
  const h = new HealthAlerts(r.alerter);
  for (const o of ['timeout', 'crashed', 'timeout', 'timeout', 'timeout'] as const) h.skillFinished(result('slow', o));
  t.equal(r.alerts.length, 1);
  t.match(r.alerts[0]!.text, /Skill slow failed 3 times in a row \(last: timeout/);
  t.equal(r.alerts[0]!.key, 'skill-streak:slow');
});

t.test('a success re-arms the skill streak; refusals do not count', async (t) => {
  const r = recorder();
  const h = new HealthAlerts(r.alerter);
  h.skillFinished(result('s', 'crashed'));
  h.skillFinished(result('s', 'crashed'));
  h.skillFinished(result('s', 'invalid_args'));
  h.skillFinished(result('s', 'ok'));
  h.skillFinished(result('s', 'crashed'));
  h.skillFinished(result('s', 'busy'));
  h.skillFinished(result('s', 'crashed'));
  t.equal(r.alerts.length, 0);
  h.skillFinished(result('s', 'crashed'));
  t.equal(r.alerts.length, 1);
});

t.test('Telegram failing persistently raises one alert until a send succeeds', async (t) => {
  const r = recorder();
  const h = new HealthAlerts(r.alerter);
  for (let i = 0; i < 5; i++) h.telegramSendFailed('Telegram sendMessage did not answer: timed out');
  t.equal(r.alerts.length, 1);
  t.match(r.alerts[0]!.text, /Telegram API failing: 3 replies in a row/);
  h.telegramSendSucceeded();
  for (let i = 0; i < 3; i++) h.telegramSendFailed('again');
  t.equal(r.alerts.length, 2);
});

t.test('an inbox backlog over the threshold alerts once, re-arming after it drains', async (t) => {
  const r = recorder();
  const h = new HealthAlerts(r.alerter, { backlogThreshold: 100 });
  h.backlog(50);
  h.backlog(150);
  h.backlog(300);
  t.equal(r.alerts.length, 1);
  t.match(r.alerts[0]!.text, /Inbox backlog: 150 updates waiting \(threshold 100\)/);
  h.backlog(40);
  h.backlog(120);
  t.equal(r.alerts.length, 2);
});
