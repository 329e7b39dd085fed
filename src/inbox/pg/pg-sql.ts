/** SQL fragments the PostgreSQL store's parts share, so "open" and "alive" mean one thing everywhere. */

/** An update still to run (or whose done mark is missing after its reply). */
export const OPEN = `state IN ('accepted', 'processing', 'replied')`;

/** A replica row whose heartbeat is within its own lease, by the database's clock. */
export const ALIVE = (alias: string) => `${alias}.heartbeat_at + ${alias}.lease_ms * interval '1 millisecond' > now()`;

/** The columns of an OpenUpdate, from the `updates` table aliased `u`. */
export const OPEN_UPDATE_COLUMNS =
  `u.seq, u.update_id AS "updateId", u.chat_id AS "chatId", u.state, u.attempts, u.next_attempt_at AS "nextAttemptAt"`;
