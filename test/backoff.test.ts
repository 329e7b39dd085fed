import t from 'tap';
import { exponentialStep, jitteredBackoff, spreadBackoff } from '../src/backoff.js';

t.test('the step doubles from the base per attempt and stops at the cap', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7].map((n) => exponentialStep(n, 500, 30_000)), [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000]);
  t.equal(exponentialStep(100, 500, 30_000), 30_000, 'a long streak stays at the cap');
});

t.test('full jitter waits between 0 and the step', async (t) => {
  t.equal(jitteredBackoff(3, 250, 8_000, () => 0), 0);
  t.equal(jitteredBackoff(3, 250, 8_000, () => 0.5), 500);
  t.equal(jitteredBackoff(3, 250, 8_000, () => 0.999_999), 1_000);
  t.equal(jitteredBackoff(20, 250, 8_000, () => 0.999_999), 8_000, 'never past the cap');
});

t.test('full jitter with the real random source stays inside its bounds', async (t) => {
  for (let i = 0; i < 200; i++) {
    const wait = jitteredBackoff(4, 100, 10_000);
    t.ok(wait >= 0 && wait <= 800, `${wait} within 0..800`);
  }
});

t.test('spread backoff stays within the spread around the step', async (t) => {
  t.equal(spreadBackoff(2, 1_000, 30_000, 0.25, () => 0), 1_500);
  t.equal(spreadBackoff(2, 1_000, 30_000, 0.25, () => 0.5), 2_000);
  t.equal(spreadBackoff(2, 1_000, 30_000, 0.25, () => 1), 2_500);
  t.equal(spreadBackoff(9, 1_000, 30_000, 0, () => 0.9), 30_000, 'no spread: exactly the capped step');
});
