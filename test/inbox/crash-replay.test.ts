import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import t from 'tap';

const ROOT = path.resolve(import.meta.dirname, '../..');
const WORKER = path.join(import.meta.dirname, 'fixtures', 'crash-worker.ts');
const TOTAL = 2000;
const KILL_AFTER_ACKS = 400;
const CONCURRENCY = 8; // the worker's; at most this many replies can be in the send/commit window

function startWorker(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = createInterface({ input: child.stdout });
  return { child, exited, lines };
}

t.test('after kill -9 mid-burst, a restart answers every acknowledged update, and repeats only the sends in flight at the kill', async (t) => {
  const dir = t.testdir();
  const dataDir = path.join(dir, 'data');
  const sentDb = path.join(dir, 'sent.sqlite');

  // 1. Burst, killed with SIGKILL while accepts and handlers are both running.
  const acked = new Set<number>();
  const burst = startWorker(['burst', dataDir, sentDb, String(TOTAL)]);
  const killTimer = setTimeout(() => burst.child.kill('SIGKILL'), 60_000); // bound, should the worker stall
  burst.lines.on('line', (line) => {
    const m = /^ACK (\d+)$/.exec(line);
    if (m) acked.add(Number(m[1]));
    if (acked.size === KILL_AFTER_ACKS) burst.child.kill('SIGKILL');
  });
  const killed = await burst.exited;
  clearTimeout(killTimer);
  t.equal(killed.signal, 'SIGKILL');
  t.ok(acked.size >= KILL_AFTER_ACKS && acked.size < TOTAL, `killed mid-burst (${acked.size} of ${TOTAL} acknowledged)`);

  // 2. What the crash left: updates whose reply was committed as sent must not be answered again.
  const inbox = new Database(path.join(dataDir, 'inbox.sqlite'));
  const answered = new Set(
    (inbox.prepare(`SELECT update_id FROM updates WHERE state IN ('replied', 'done')`).pluck().all() as number[]),
  );
  const leftOpen = (inbox.prepare(`SELECT COUNT(*) FROM updates WHERE state NOT IN ('done', 'failed')`).pluck().get() as number);
  // In flight at the kill: claimed (committed before any send) and not marked replied.
  const inFlight = new Set(inbox.prepare(`SELECT update_id FROM updates WHERE state = 'processing'`).pluck().all() as number[]);
  inbox.close();
  t.ok(leftOpen > 0, `the crash left unfinished updates to replay (${leftOpen})`);

  // 3. Restart and drain.
  const resume = startWorker(['resume', dataDir, sentDb]);
  const drained: string[] = [];
  resume.lines.on('line', (line) => drained.push(line));
  const exit = await resume.exited;
  t.equal(exit.code, 0);
  t.same(drained, ['DRAINED 0']);

  // 4. Every acknowledged id answered; no id answered twice unless it crashed between send and commit.
  const sent = new Database(sentDb, { readonly: true });
  const rows = sent.prepare('SELECT update_id AS id, chat_id AS chat FROM sent ORDER BY seq').all() as Array<{ id: number; chat: number }>;
  sent.close();
  const times = new Map<number, number>();
  for (const r of rows) times.set(r.id, (times.get(r.id) ?? 0) + 1);
  const missing = [...acked].filter((id) => !times.has(id));
  t.same(missing, [], 'no acknowledged update lost');
  const doubled = [...times].filter(([, n]) => n > 1).map(([id]) => id);
  t.same(doubled.filter((id) => answered.has(id)), [], 'no update whose reply was committed is answered again');
  t.ok(doubled.length <= CONCURRENCY, `duplicates only from the send/commit window (${doubled.length})`);
  t.same(doubled.filter((id) => !inFlight.has(id)), [], `only sends in flight at the kill are repeated (${doubled.length} of ${inFlight.size} in flight)`);

  // 5. Per chat, first answers follow update_id order across the crash.
  const firstSeen = new Map<number, number[]>();
  const seen = new Set<number>();
  for (const r of rows) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    firstSeen.set(r.chat, [...(firstSeen.get(r.chat) ?? []), r.id]);
  }
  const outOfOrder = [...firstSeen].filter(([, ids]) => ids.some((id, i) => i > 0 && id < ids[i - 1]!)).map(([chat]) => chat);
  t.same(outOfOrder, [], 'every chat answered in update_id order');
});
