import t from 'tap';
import { Registry } from 'prom-client';
import { TalliedCounter } from '../../src/observability/tallied-counter.js';

t.test('tallied counts reach every scrape once, per label combination', async (t) => {
  const registry = new Registry();
  const calls = new TalliedCounter('test_calls_total', 'Calls by method and status', ['method', 'status'], registry);
  calls.inc({ method: 'sendMessage', status: '200' });
  calls.inc({ method: 'sendMessage', status: '200' }, 2);
  calls.inc({ method: 'getMe', status: 'network' });

  const first = await registry.metrics();
  t.match(first, /test_calls_total\{method="sendMessage",status="200"\} 3/);
  t.match(first, /test_calls_total\{method="getMe",status="network"\} 1/);

  // A second scrape must not add the same tallies again; new ones add to the totals.
  calls.inc({ method: 'getMe', status: 'network' });
  const second = await registry.metrics();
  t.match(second, /test_calls_total\{method="sendMessage",status="200"\} 3/);
  t.match(second, /test_calls_total\{method="getMe",status="network"\} 2/);
});

t.test('get() reports the tallies too', async (t) => {
  const outcomes = new TalliedCounter('test_outcomes_total', 'Outcomes', ['outcome'], new Registry());
  outcomes.inc({ outcome: 'accepted' }, 4);
  const { values } = await outcomes.get();
  t.same(values.map((v) => [v.labels.outcome, v.value]), [['accepted', 4]]);
});
