import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter for the per-update hot path (issue 16): `inc` adds to a plain number kept
 * per label combination, and the tallies are handed to prom-client when the counter is read (a
 * scrape, `render()`, `get()`), through its `collect` hook. prom-client's own `inc` hashes and
 * validates the label object on every call; here the labels are checked by the type and the key
 * is the label values joined. What a scrape shows is the same.
 */
export class TalliedCounter<L extends string> {
  private readonly tallies = new Map<string, number>();
  private readonly counter: Counter<L>;

  constructor(
    name: string,
    help: string,
    private readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    const tallies = this.tallies;
    const labelsOf = (key: string) => Object.fromEntries(key.split(KEY_SEPARATOR).map((value, i) => [labelNames[i]!, value])) as Record<L, string>;
    this.counter = new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<L>) {
        for (const [key, n] of tallies) this.inc(labelsOf(key), n);
        tallies.clear();
      },
    });
  }

  inc(labels: Record<L, string>, value = 1): void {
    let key = '';
    for (let i = 0; i < this.labelNames.length; i++) key += (i === 0 ? '' : KEY_SEPARATOR) + labels[this.labelNames[i]!];
    this.tallies.set(key, (this.tallies.get(key) ?? 0) + value);
  }

  /** What prom-client reports (tallies included): tests and debugging. */
  get(): ReturnType<Counter<L>['get']> {
    return this.counter.get();
  }
}

/** Never part of a label value the gateway sets (outcomes, method names, HTTP statuses). */
const KEY_SEPARATOR = '\u0000';
