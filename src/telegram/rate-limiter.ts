/**
 * Token buckets for outgoing messages: Telegram asks for at most ~1 message per second per chat
 * and ~30 per second overall, and answers 429 (with a pause for the whole bot) past that.
 * Waiting here is cheaper than being told to wait.
 */
export interface SendRateLimits {
  /** Messages per second, all chats together. Default 30. */
  globalPerSecond: number;
  /** Messages per second in one chat (burst of 3). Default 1. */
  perChatPerSecond: number;
}

export const DEFAULT_SEND_RATE_LIMITS: SendRateLimits = { globalPerSecond: 30, perChatPerSecond: 1 };

class Bucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerMs: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Takes one token; returns how many ms the caller must wait for it (0 = now). */
  take(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.ratePerMs);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.ratePerMs);
  }

  idleSince(now: number): boolean {
    return this.tokens + (now - this.last) * this.ratePerMs >= this.capacity;
  }
}

export class SendRateLimiter {
  private readonly global: Bucket;
  private readonly chats = new Map<string, Bucket>();

  constructor(
    private readonly limits: SendRateLimits = DEFAULT_SEND_RATE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.global = new Bucket(limits.globalPerSecond / 1000, Math.max(1, limits.globalPerSecond), now());
  }

  /** Resolves when one more message to `chatId` may be sent. */
  async acquire(chatId: number | string): Promise<void> {
    const now = this.now();
    const key = String(chatId);
    let chat = this.chats.get(key);
    if (!chat) {
      chat = new Bucket(this.limits.perChatPerSecond / 1000, 3, now);
      this.chats.set(key, chat);
      if (this.chats.size > 10_000) this.forgetIdle(now);
    }
    const wait = Math.max(chat.take(now), this.global.take(now));
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  private forgetIdle(now: number): void {
    for (const [key, bucket] of this.chats) if (bucket.idleSince(now)) this.chats.delete(key);
  }
}
