import t from 'tap';
import { ApprovalFile, type ApprovalRecords, type PendingApproval } from '../../src/gateway/approval-records.js';
import { PgInboxStore } from '../../src/inbox/pg/pg-store.js';
import { ChatHistory, ChatHistoryFiles, type ChatDocuments } from '../../src/router/chat-history.js';
import { captureLogger } from '../helpers/logger.js';
import { freshDatabase } from '../helpers/postgres.js';
import type { TestContext } from '../helpers/tap.js';

/**
 * The gateway's other durable state, pending approvals and the LLM's chat memory, run against
 * both homes: files in DATA_DIR and PostgreSQL (shared by replicas; skipped with the reason
 * when no server is installed). Two stores on one database stand for two replicas.
 */

interface Homes {
  approvals: () => ApprovalRecords;
  documents: () => ChatDocuments;
}

const homes: Record<string, (t: TestContext) => Promise<Homes | { skip: string }>> = {
  files: async (t) => {
    const dir = t.testdir();
    const logger = captureLogger().logger;
    // One process: one set of records (a restart reading the file is in approvals.test.ts).
    const records = new ApprovalFile({ dataDir: dir, logger });
    return { approvals: () => records, documents: () => new ChatHistoryFiles(dir) };
  },
  postgres: async (t) => {
    const db = await freshDatabase(t);
    if (db.skip !== undefined) return { skip: db.skip };
    const open = async (name: string) => {
      const store = await PgInboxStore.open({ url: db.url, replicaName: name, leaseMs: 5_000, logger: captureLogger().logger });
      t.teardown(() => store.close());
      return store;
    };
    const [a, b] = await Promise.all([open('a'), open('b')]);
    let turn = 0;
    // Alternate between the replicas: what one wrote, the other must see.
    const next = () => (turn++ % 2 === 0 ? a : b);
    return { approvals: () => next().approvals(), documents: () => next().chatDocuments() };
  },
};

const request = (id: string, chatId: number, expiresAt: number): PendingApproval => ({
  id,
  chatId,
  userId: 111,
  skill: 'write_note',
  args: { path: 'n.txt' },
  createdAt: 0,
  expiresAt,
  messageId: 9,
  threadId: 4,
});

for (const [kind, open] of Object.entries(homes)) {
  t.test(`${kind}: pending approvals`, async (t) => {
    const home = await open(t);
    if ('skip' in home) return void t.skip(home.skip, () => {});
    const writer = home.approvals();
    const other = home.approvals();
    t.equal(await writer.put(request('r1', 10, 1_000)), true);
    t.equal(await writer.put(request('r2', 10, 5_000)), true);
    t.ok(writer.size >= 2, 'the writer knows them');
    t.match(await other.get('r1'), { id: 'r1', chatId: 10, args: { path: 'n.txt' } }, 'visible to the other (after a restart, or on another replica)');
    const [first, second] = await Promise.all([writer.take('r1'), other.take('r1')]);
    t.equal([first, second].filter(Boolean).length, 1, 'taken exactly once, whoever asks');
    t.equal(await other.get('r1'), undefined);
    t.same((await other.takeExpired(4_999)).map((e) => e.id), [], 'r2 not expired yet');
    await writer.put(request('r3', 20, 100));
    await other.migrate(20, -100200);
    const moved = await writer.get('r3');
    t.match(moved, { chatId: -100200 }, 'follows a migrated group');
    t.equal(moved?.messageId, undefined, 'without the old chat\'s message id');
    t.equal(moved?.threadId, undefined, 'or topic');
    t.same((await writer.takeExpired(5_000)).map((e) => e.id).sort(), ['r2', 'r3'], 'expired ones are taken together');
    t.equal(await other.take('r2'), undefined, 'and only once');
  });

  t.test(`${kind}: chat memory`, async (t) => {
    const home = await open(t);
    if ('skip' in home) return void t.skip(home.skip, () => {});
    const logger = captureLogger().logger;
    const history = (documents: ChatDocuments) => new ChatHistory({ dataDir: '/nonexistent', maxMessages: 4, maxChars: 1_000, logger, documents });
    const a = history(home.documents());
    const b = history(home.documents());
    t.same(await a.load(5), [], 'nothing yet');
    await a.append(5, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }]);
    t.same(await b.load(5), [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }], 'the next owner of the chat remembers');
    await b.append(5, [{ role: 'user', content: 'again' }, { role: 'assistant', content: 'yes' }, { role: 'user', content: 'third' }]);
    t.same((await a.load(5)).map((m) => m.content), ['again', 'yes', 'third'], 'trimmed to the bound, starting at a user message');
    await a.append(6, [{ role: 'user', content: 'own' }]);
    await b.move(5, 6);
    t.same((await a.load(6)).map((m) => m.content), ['own'], 'a migrated group does not overwrite memory the new chat has');
    await b.move(5, 7);
    t.same((await a.load(7)).map((m) => m.content), ['again', 'yes', 'third'], 'otherwise it follows');
    t.same(await a.load(5), []);
    await a.reset(7);
    t.same(await b.load(7), [], '/reset forgets it everywhere');
    const documents = home.documents();
    await documents.write(8, '{"version":1,"messages":[{"role":"nobody"}]}');
    t.same(await history(documents).load(8), [], 'a malformed document starts afresh');
  });
}
