/**
 * The update types the gateway handles, sent as `allowed_updates` by setWebhook and by every
 * getUpdates call alike: Telegram remembers the last list it was given, so two lists (one per
 * mode) would make delivery depend on which mode ran last. Edits, reactions, member updates and
 * the rest are left with Telegram instead of being delivered only to be ignored.
 */
export const ALLOWED_UPDATES = ['message', 'callback_query'] as const;
