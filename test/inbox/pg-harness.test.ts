import t from 'tap';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { adminQuery, findPostgresBinaries, freshDatabase, postgresServer, startPostgres, withDatabase } from '../helpers/postgres.js';

/**
 * The PostgreSQL test harness itself (test/helpers/postgres.ts): the store and replica tests
 * trust it to hand them a real, empty, private database, to clean up after them, and to say
 * why when there is no PostgreSQL instead of failing.
 */

t.test('without PostgreSQL binaries the harness gives a skip reason naming the package', async (t) => {
  const empty = path.join(t.testdir(), 'bin');
  mkdirSync(empty);
  const found = findPostgresBinaries([empty]);
  if (!('missing' in found)) return t.fail(`found ${found.initdb} in an empty dir`);
  t.match(found.missing, /PostgreSQL not installed.*apt-get install postgresql/);
  const db = await freshDatabase(t, Promise.resolve(found));
  t.equal(db.url, undefined, 'no database');
  t.match(db.skip, /apt-get install postgresql/, 'the reason reaches the test');
});

t.test('withDatabase replaces only the database of a URL', async (t) => {
  t.equal(withDatabase('postgres://u:p%40ss@127.0.0.1:5432/postgres?sslmode=disable', 'x1'), 'postgres://u:p%40ss@127.0.0.1:5432/x1?sslmode=disable');
});

const server = await postgresServer();
if ('missing' in server) {
  t.skip(server.missing, () => {});
} else {
  t.test('freshDatabase gives an empty database of its own that real queries work on', async (t) => {
    const a = await freshDatabase(t);
    const b = await freshDatabase(t);
    t.ok(a.url && b.url);
    t.not(a.url, b.url, 'one database per call');
    const tables = await adminQuery(a.url!, `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    t.equal(tables.rows[0].n, 0, 'empty');
    await adminQuery(a.url!, 'CREATE TABLE probe (id int PRIMARY KEY)');
    await adminQuery(a.url!, 'INSERT INTO probe VALUES (1), (2)');
    t.equal((await adminQuery(a.url!, 'SELECT sum(id)::int AS s FROM probe')).rows[0].s, 3);
    await t.rejects(adminQuery(b.url!, 'SELECT 1 FROM probe'), /relation "probe" does not exist/, 'the other database does not see it');
    t.equal((await adminQuery(a.url!, 'SHOW synchronous_commit')).rows[0].synchronous_commit, 'on', 'commits are durable before they return');
  });

  t.test('the database is dropped at teardown, even with a connection still open', async (t) => {
    let name = '';
    let holder: Promise<unknown> | undefined;
    await t.test('a test that leaves a session behind', async (t) => {
      const db = await freshDatabase(t);
      name = new URL(db.url!).pathname.slice(1);
      // A replica killed mid-test leaves sessions like this one; DROP ... FORCE ends them.
      holder = adminQuery(db.url!, 'SELECT pg_sleep(60)').catch((err: Error) => err);
      const sleeping = () => adminQuery(server.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${name}' AND query LIKE '%pg_sleep%'`);
      for (let i = 0; i < 100 && (await sleeping()).rows[0].n === 0; i++) await new Promise((r) => setTimeout(r, 50));
      t.equal((await sleeping()).rows[0].n, 1, 'the session is in its query');
    });
    const left = await adminQuery(server.url, `SELECT count(*)::int AS n FROM pg_database WHERE datname = '${name}'`);
    t.equal(left.rows[0].n, 0, `${name} is gone`);
    t.match(String(await holder), /terminat/, 'the open session was ended by the drop');
  });
}

const own = await startPostgres();
if ('missing' in own) {
  t.skip(own.missing, () => {});
} else {
  t.teardown(() => own.close());
  t.test('a private server listens on loopback only and survives an immediate stop and a restart', async (t) => {
    t.equal((await adminQuery(own.url, 'SHOW listen_addresses')).rows[0].listen_addresses, '127.0.0.1');
    await adminQuery(own.url, 'CREATE TABLE kept (v text)');
    await adminQuery(own.url, `INSERT INTO kept VALUES ('committed before the crash')`);
    await own.stop();
    await t.rejects(adminQuery(own.url, 'SELECT 1'), /ECONNREFUSED/, 'down: connections are refused');
    await own.start();
    t.same((await adminQuery(own.url, 'SELECT v FROM kept')).rows, [{ v: 'committed before the crash' }], 'a committed row survives');
  });

  t.test('close stops the server and removes its directory', async (t) => {
    const dir = path.dirname((await adminQuery(own.url, 'SHOW data_directory')).rows[0].data_directory as string);
    t.ok(existsSync(dir));
    await own.close();
    await t.rejects(adminQuery(own.url, 'SELECT 1'), /ECONNREFUSED/);
    // The watchdog removes the dir right after the stop; give it a moment, bounded.
    for (let i = 0; i < 50 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 100));
    t.notOk(existsSync(dir), 'temp dir removed');
  });
}
