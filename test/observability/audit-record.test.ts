import t from 'tap';
import { auditRecord, isoNow } from '../../src/observability/audit-record.js';

t.test('isoNow is the ISO time of the current millisecond, made once per millisecond', async (t) => {
  const before = Date.now();
  const now = isoNow();
  const after = Date.now();
  t.match(now, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.ok(Date.parse(now) >= before && Date.parse(now) <= after, 'within the call');
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = isoNow();
  t.ok(Date.parse(later) > Date.parse(now), 'a later millisecond gets its own string');
  t.equal(auditRecord(1).ts.length, 24);
});
