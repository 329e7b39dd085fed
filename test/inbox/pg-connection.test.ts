import t from 'tap';
import { databaseUnavailable, describeDatabase } from '../../src/inbox/pg/pg-connection.js';

/**
 * How the PostgreSQL store names its database and explains a failure: the user, host, port and
 * database, never the password or the query string, and the fix that matches the server's error
 * code (the live paths, an unreachable server and a role without CREATE, are in
 * pg-replicas.test.ts; these codes need a server configured to refuse a password).
 */

t.test('the database is named without its password or query string', async (t) => {
  t.equal(describeDatabase('postgres://skillgate:s3cret-Pa55@db.internal:5433/bot?sslmode=require'), 'postgres://skillgate@db.internal:5433/bot');
  t.equal(describeDatabase('postgresql://db.internal/bot'), 'postgres://db.internal:5432/bot', 'the default port is spelled out');
});

const cases: Array<[string, string, RegExp]> = [
  ['28P01', 'password authentication failed for user "skillgate"', /Check the user name and password in DATABASE_URL/],
  ['3D000', 'database "bot" does not exist', /Create the database first/],
  ['42501', 'permission denied for schema public', /right to create tables/],
  ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432', /PostgreSQL is running and that the host and port/],
  ['XX000', 'something else', /PostgreSQL is running and that DATABASE_URL is right/],
];

for (const [code, message, fix] of cases) {
  t.test(`error ${code}: SG_STORE_UNAVAILABLE naming the database and the fix`, async (t) => {
    const cause = Object.assign(new Error(message), { code });
    const err = databaseUnavailable(describeDatabase('postgres://skillgate:s3cret-Pa55@127.0.0.1/bot'), cause);
    t.equal(err.code, 'SG_STORE_UNAVAILABLE');
    t.match(err.message, /^Database unavailable at postgres:\/\/skillgate@127\.0\.0\.1:5432\/bot: /);
    t.match(err.message, fix);
    t.notMatch(err.message, /s3cret-Pa55/);
    t.equal(err.cause, cause, 'the driver error is kept as the cause');
  });
}

t.test('an SG_STORE_UNAVAILABLE error passes through as it is', async (t) => {
  const first = databaseUnavailable('postgres://a@b:5432/c', Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
  t.equal(databaseUnavailable('elsewhere', first), first);
});
