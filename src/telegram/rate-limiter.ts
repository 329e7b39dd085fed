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
    private ratePerMs: number,
    private capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Takes one token; returns how many ms the caller must wait for it (0 = now). */
  take(now: number): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil(-this.tokens / this.ratePerMs);
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.ratePerMs);
    this.last = now;
  }

  /** A new rate from now on; the tokens saved so far stay, up to the new capacity. */
  setRate(ratePerMs: number, capacity: number, now: number): void {
    this.refill(now);
    this.tokens = Math.min(capacity, this.tokens);
    this.ratePerMs = ratePerMs;
    this.capacity = capacity;
  }

  idleSince(now: number): boolean {
    return this.tokens + (now - this.last) * this.ratePerMs >= this.capacity;
  }
}

export class SendRateLimiter {
  private readonly global: Bucket;
  private readonly chats = new Map<string, Bucket>();
  private globalShare = 1;

  constructor(
    private readonly limits: SendRateLimits = DEFAULT_SEND_RATE_LIMITS,
    private readonly now: () => number = Date.now,
    /**
     * This process's part of the overall limit: 1 alone, 1/n among n live replicas (the bot's
     * limit is Telegram's, whichever replica sends). A chat's limit needs no split: one replica
     * at a time runs a chat.
     */
    private readonly share: () => number = () => 1,
  ) {
    this.global = new Bucket(limits.globalPerSecond / 1000, Math.max(1, limits.globalPerSecond), now());
  }

  /** Resolves when one more message to `chatId` may be sent. */
  async acquire(chatId: number | string): Promise<void> {
    const now = this.now();
    const share = this.share();
    if (share !== this.globalShare) {
      this.globalShare = share;
      const perSecond = this.limits.globalPerSecond * share;
      this.global.setRate(perSecond / 1000, Math.max(1, perSecond), now);
    }
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
