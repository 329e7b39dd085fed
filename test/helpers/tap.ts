import type t from 'tap';

/**
 * The part of tap's `t` that test helpers take. tap does not export the type of the `t` a
 * callback receives, and the root `t` has private members a subtest's lacks, so helpers accept
 * this structural slice instead.
 */
export type TestContext = Pick<
  typeof t,
  'teardown' | 'testdir' | 'skip' | 'equal' | 'ok' | 'notOk' | 'same' | 'match' | 'notMatch' | 'fail' | 'pass' | 'comment' | 'rejects' | 'throws' | 'has'
>;
