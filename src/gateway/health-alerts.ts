import type { Alerter } from '../alerts/alerter.js';
import type { SkillResult, SkillRunner } from '../skills/types.js';

export interface HealthAlertOptions {
  /** Consecutive crashes/timeouts of one skill before an alert. Default 3. */
  skillFailureStreak?: number;
  /** Consecutive failed Telegram sends before an alert. Default 3. */
  telegramFailureStreak?: number;
  /** Pending updates above which the backlog is alerted. Default 1000. */
  backlogThreshold?: number;
}

/**
 * Turns streams of small failures into one alert each: a skill that keeps crashing or timing
 * out, Telegram that keeps refusing our replies, an inbox that keeps growing. One failure is
 * noise; a streak is an operator's problem. Each alert fires once per streak and re-arms after a
 * success (or after the backlog drains), so a flapping dependency does not flood Discord.
 */
export class HealthAlerts {
  private readonly skillStreaks = new Map<string, number>();
  private telegramStreak = 0;
  private backlogAlerted = false;
  private readonly skillLimit: number;
  private readonly telegramLimit: number;
  private readonly backlogLimit: number;

  constructor(
    private readonly alerter: Alerter,
    options: HealthAlertOptions = {},
  ) {
    this.skillLimit = options.skillFailureStreak ?? 3;
    this.telegramLimit = options.telegramFailureStreak ?? 3;
    this.backlogLimit = options.backlogThreshold ?? 1000;
  }

  skillFinished(result: SkillResult): void {
    // Refusals (bad arguments, unknown skill, busy) are the caller's problem, not the skill's.
    const broken = result.outcome === 'crashed' || result.outcome === 'timeout' || result.outcome === 'error';
    if (!broken) {
      if (result.outcome === 'ok') this.skillStreaks.delete(result.skill);
      return;
    }
    const streak = (this.skillStreaks.get(result.skill) ?? 0) + 1;
    this.skillStreaks.set(result.skill, streak);
    if (streak === this.skillLimit) {
      this.alerter.alert(`Skill ${result.skill} failed ${streak} times in a row (last: ${result.outcome}: ${result.output.slice(0, 300)})`, {
        key: `skill-streak:${result.skill}`,
      });
    }
  }

  telegramSendFailed(reason: string): void {
    this.telegramStreak++;
    if (this.telegramStreak === this.telegramLimit) {
      this.alerter.alert(`Telegram API failing: ${this.telegramStreak} replies in a row could not be sent (last: ${reason})`, {
        key: 'telegram-failing',
      });
    }
  }

  telegramSendSucceeded(): void {
    this.telegramStreak = 0;
  }

  backlog(pending: number): void {
    if (pending > this.backlogLimit && !this.backlogAlerted) {
      this.backlogAlerted = true;
      this.alerter.alert(`Inbox backlog: ${pending} updates waiting (threshold ${this.backlogLimit}); replies are delayed`, {
        key: 'inbox-backlog',
      });
    } else if (pending <= this.backlogLimit / 2) {
      this.backlogAlerted = false;
    }
  }
}

/** `runner` with every result counted toward the skill streaks: message runs and approved runs alike. */
export function healthCountingRunner(runner: SkillRunner, health: HealthAlerts): SkillRunner {
  return {
    ...runner,
    run: async (name, args, options) => {
      const result = await runner.run(name, args, options);
      health.skillFinished(result);
      return result;
    },
  };
}
